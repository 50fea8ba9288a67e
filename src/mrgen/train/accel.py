"""How a recipe's modules run on its device: placement, channels_last, TF32, bf16 autocast, DDP and
torch.compile. Each switch is a recipe param (mrgen.config.schema.Recipe); the bare modules stay what is
checkpointed and saved, the wrapped ones are what the step functions call.
"""
from __future__ import annotations

import sys
from contextlib import nullcontext

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from mrgen.io import short_reason
from mrgen.train.dist import Dist


class Accel:
    def __init__(self, t: dict, dist: Dist = Dist()):
        self.t, self.dist = t, dist
        self.device_type = dist.device.split(":")[0]
        self.memory_format = torch.channels_last if t["channels_last"] else torch.contiguous_format
        if self.device_type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = bool(t["tf32"])
            torch.backends.cudnn.allow_tf32 = bool(t["tf32"])

    def place(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module on the device, in the recipe's memory format (in place; returns it)."""
        return module.to(self.dist.device, memory_format=self.memory_format)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.dist.device, memory_format=self.memory_format) if x.dim() == 4 else x.to(self.dist.device)

    def wrap(self, module: torch.nn.Module, ddp: bool = True):
        """What the step calls: DDP over the ranks (when there are several and `ddp`), then torch.compile
        (when asked; a frame that cannot compile runs eagerly, with a warning on stderr)."""
        net = DDP(module) if ddp and self.dist.world > 1 else module
        if not self.t["compile"]:
            return net
        import torch._dynamo
        import torch._inductor.config
        torch._dynamo.config.suppress_errors = True   # a graph break or a failing backend falls back to eager
        torch._inductor.config.fallback_random = True  # the eager RNG: the same noise, so the same run
        try:
            return torch.compile(net)
        except (RuntimeError, AssertionError) as e:   # e.g. no compiler backend for this platform
            print(f"warning: torch.compile is not available here ({short_reason(e)}); training eagerly",
                  file=sys.stderr)
            return net

    def autocast(self):
        """bf16 autocast for the forward pass and loss (weights, gradients and optimizer state stay fp32)."""
        if self.t["precision"] == "fp32":
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=torch.bfloat16)
