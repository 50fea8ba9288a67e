"""The optimisation recipe every model family shares (hvae_reference.md §1.10): AdamW, VDVAE's linear
warm-up, gradient clipping with the skip rule, and the EMA of the weights.

Nothing here reads a tensor back to the host: the skip decision stays on the device (the fused AdamW kernel
takes it as `found_inf`; the EMA update is weighted by it), so a step never waits for the GPU. Only the
unfused optimizer needs one boolean on the host to decide whether to step.
"""
from __future__ import annotations

import copy
import warnings

import torch

from mrgen.train.dist import Dist


def adamw(params, t: dict, betas=(0.9, 0.9), eps: float = 1e-8, lr: float | None = None) -> torch.optim.AdamW:
    """AdamW with the recipe's lr and weight decay (VDVAE: betas 0.9, 0.9; apex's FusedAdam when fused_adam)."""
    return torch.optim.AdamW(params, lr=t["lr"] if lr is None else lr, betas=betas, eps=eps,
                             weight_decay=t["wd"], fused=t["fused_adam"] or None)


def warmup(opt, iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """VDVAE's schedule: lr * it / iters for it < iters (0 at the first step), then lr; stepped every step."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1.0 if it >= iters or iters == 0 else it / iters)


def frozen_copy(module: torch.nn.Module) -> torch.nn.Module:
    """The EMA's starting point: a copy of the freshly built module, without gradients."""
    return copy.deepcopy(module).requires_grad_(False)


@torch.no_grad()
def update_ema(ema, model, rate: float, ok: torch.Tensor | None = None) -> None:
    """p_ema = rate * p_ema + (1 - rate) * p, as p_ema + (1 - rate) (p - p_ema): the two coefficients sum to
    exactly 1 in any precision (a separately rounded rate and 1 - rate do not: at 0.9999 in float32 they sum
    to 0.99999998, which shrinks every EMA weight of a long run). With `ok` (a bool tensor) the update is
    weighted by it, so a skipped step leaves the EMA unchanged without a host synchronisation."""
    params = [p for p in ema.parameters()]
    live = [p.detach() for p in model.parameters()]
    if ok is None:
        torch._foreach_lerp_(params, live, 1.0 - rate)
        return
    weight = ok.to(params[0].dtype) * (1.0 - rate)
    for pe, p in zip(params, live):
        pe.lerp_(p, weight)


class Update:
    """One optimizer's step after backward: clip the gradient norm to grad_clip, decide the skip, step, and
    advance the schedule (every step, skipped ones included, as VDVAE does).

    A step is skipped when the loss or the pre-clip norm is not finite on any rank, or the pre-clip norm is
    >= skip_threshold (-1: never). Returns (pre-clip norm, ok) as device tensors."""

    def __init__(self, params, opt, sched, t: dict, dist: Dist = Dist()):
        self.params, self.opt, self.sched, self.dist = list(params), opt, sched, dist
        self.clip, self.threshold = t["grad_clip"], t["skip_threshold"]
        self.fused = bool(t["fused_adam"])
        self.lr = sched.get_last_lr()[0]

    def __call__(self, loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        ok = torch.isfinite(loss.detach()) & torch.isfinite(norm)
        if self.threshold != -1:
            ok &= norm < self.threshold
        ok = self.dist.all_true(ok)
        if self.fused:                            # the kernel skips the update where found_inf != 0
            self.opt.found_inf = (~ok).float()
            try:
                self.opt.step()
            finally:
                del self.opt.found_inf
        elif ok.item():
            self.opt.step()
        self.lr = self.sched.get_last_lr()[0]     # the rate this step used
        with warnings.catch_warnings():           # after a skipped first step torch warns of the order
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step()`", UserWarning)
            self.sched.step()
        return norm.detach(), ok
