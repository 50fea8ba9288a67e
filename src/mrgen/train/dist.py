"""Multi-process training (DDP through torchrun): who this process is, and the launch of the workers.

The train stage's command is the same for one process and for N: with `training.gpus: N > 1` and not
yet inside torchrun, the stage re-launches itself as `python -m torch.distributed.run --standalone
--nproc-per-node N -m stages.train ...` (one process per GPU; gloo on CPU for tests). Rank 0 alone
writes checkpoints, logs, outputs and the provenance record.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_mean(self, value: float) -> float:
        """The mean of a scalar over ranks (the global batch's loss for logging)."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(t)
        return t.item() / self.world

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on one (a NaN anywhere skips the step everywhere)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        torch_dist.all_reduce(t)
        return t.item() > 0

    def gather(self, obj) -> list:
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch_dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world > 1:
            torch_dist.barrier()


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def under_launcher() -> bool:
    return "WORLD_SIZE" in os.environ


def setup() -> Dist:
    """Join the process group torchrun describes (env://): NCCL with one GPU per process, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world == 1:
        return Dist(device="cuda" if cuda else "cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(torch_dist.get_rank(), world, f"cuda:{local}" if cuda else "cpu")


def teardown() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def relaunch(nproc: int, module: str, argv: list[str]) -> int:
    """Run `python -m module argv` as nproc torchrun workers on this node; returns their exit status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", module, *argv]
    print(f"launching {nproc} processes: {' '.join(cmd)}", file=sys.stderr)
    # the workers run under this process's stage lock: they must not take it, and rank 0 commits
    return subprocess.call(cmd, env={**os.environ, "MRGEN_LOCK_HOLDER": str(os.getpid())})
