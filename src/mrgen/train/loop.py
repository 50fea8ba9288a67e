"""VDVAE's optimisation recipe (hvae_reference.md §1.10, §8.9-8.11), resumable from work/<run>/latest.pt.

Each step: loss = mean per-dim ELBO over the global batch; clip the gradient norm to grad_clip; skip
the optimizer step and the EMA update if the pre-clip norm >= skip_threshold or the loss is not finite
on any rank; the linear warm-up scheduler advances every step. Options from the training recipe:
`precision` (fp32, or bf16 autocast with fp32 weights, densities and likelihood), `grad_checkpoint`
(recompute each block in backward), `gpus` (DDP processes; gradients averaged over ranks).
The state saved every ckpt_every steps (rank 0) holds weights, EMA, optimizer, scheduler, every rank's
RNG and the curve, so a killed run continues exactly where it stopped; the state it replaces is kept as
previous.pt, the fallback when latest.pt turns out unreadable (mrgen.train.checkpoint).
"""
from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from mrgen.data.loader import Batches
from mrgen.io import progress, short_reason
from mrgen.metrics.nll import elbo_nll
from mrgen.models.hvae import VAE, HVAEConfig
from mrgen.train.checkpoint import finish_resumable, load_resumable, save_resumable
from mrgen.train.dist import Dist

CURVE_FIELDS = ("step", "elbo", "distortion", "rate", "grad_norm", "skipped", "lr", "val_elbo")
STATE_KEYS = ("fingerprint", "model", "ema", "opt", "sched", "rng", "step", "skipped", "curve")


@dataclass
class TrainState:
    step: int = 0
    skipped: int = 0
    curve: list = field(default_factory=list)


def make_optimizer(model, t: dict):
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], betas=(0.9, 0.9), eps=1e-8, weight_decay=t["wd"])
    warm = t["warmup_iters"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1.0 if it >= warm or warm == 0 else it / warm)
    return opt, sched


@torch.no_grad()
def update_ema(ema, model, rate: float):
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.mul_(rate).add_(p.detach(), alpha=1 - rate)


def autocast(device: str, precision: str):
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)


def train(cfg: HVAEConfig, t: dict, train_b: Batches, val_b: Batches, work: Path, fingerprint: str,
          seed: int, dist: Dist = Dist()):
    """Train to t['iters'] steps (resuming from work/latest.pt, or work/previous.pt when latest.pt is
    unreadable, when its fingerprint matches; see mrgen.train.checkpoint).

    Returns (model, ema, TrainState); model is the bare module (not the DDP wrapper). The fingerprint
    (hash of the stage's inputs and params) keeps a stale checkpoint from ever being resumed.
    """
    torch.manual_seed(seed)                       # identical initial weights on every rank
    model = VAE(cfg).to(dist.device).set_grad_checkpoint(t["grad_checkpoint"])
    ema = copy.deepcopy(model).requires_grad_(False).set_grad_checkpoint(False)
    opt, sched = make_optimizer(model, t)
    state = TrainState()
    torch.manual_seed(seed + dist.rank)           # each rank its own posterior noise
    objects = {"model": model, "ema": ema, "opt": opt, "sched": sched}

    def accept(ck):
        if ck["fingerprint"] != fingerprint or len(ck["rng"]) != dist.world:
            return "it belongs to other inputs, params or process count"
        fresh = {k: copy.deepcopy(o.state_dict()) for k, o in objects.items()}
        try:                                      # a state that does not fit: as good as corrupt
            for k, o in objects.items():
                o.load_state_dict(ck[k])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
            for k, o in objects.items():
                o.load_state_dict(fresh[k])
            return f"its state does not fit this model ({short_reason(e)})"
        return None

    ck = load_resumable(work, STATE_KEYS, accept, map_location=dist.device, dist=dist)
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["rng"][dist.rank])
        state = TrainState(ck["step"], ck["skipped"], ck["curve"])
    net = DDP(model) if dist.world > 1 else model

    net.train()
    steps = range(state.step, t["iters"])
    bar = progress(steps, initial=state.step, total=t["iters"], desc="train") if dist.main else steps
    for step in bar:
        x_in, x_t = (a.to(dist.device) for a in train_b.train(step))
        with autocast(dist.device, t["precision"]):
            stats = net(x_in, x_t)
        loss = stats["elbo"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()                           # DDP: gradients averaged over ranks here
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"]).item()
        nonfinite = dist.any(not (math.isfinite(loss.item()) and math.isfinite(grad_norm)))
        skip = nonfinite or grad_norm >= t["skip_threshold"]
        if skip:
            state.skipped += 1
        else:
            opt.step()
            update_ema(ema, model, t["ema_rate"])
        lr = sched.get_last_lr()[0]
        sched.step()
        state.step = step + 1
        last = state.step == t["iters"]
        if state.step % t["log_every"] == 0 or last:
            row = {"step": state.step, "elbo": dist.all_mean(loss.item()),
                   "distortion": dist.all_mean(stats["distortion"].mean().item()),
                   "rate": dist.all_mean(stats["rate"].mean().item()), "grad_norm": grad_norm,
                   "skipped": state.skipped, "lr": lr, "val_elbo": None}
            if dist.main and (state.step % t["val_every"] == 0 or last):
                row["val_elbo"] = elbo_nll(ema, val_b, seed, cfg.likelihood_dims)["nats_per_dim"]
            state.curve.append(row)
            if dist.main:
                bar.set_postfix(elbo=f"{row['elbo']:.4f}", skipped=state.skipped, refresh=False)
        if state.step % t["ckpt_every"] == 0 and not last:
            rngs = dist.gather(torch.get_rng_state())
            if dist.main:
                save_state(work, model, ema, opt, sched, state, fingerprint, rngs)
            dist.barrier()
    if dist.main:
        bar.close()
        finish_resumable(work)
    return model, ema, state


def save_state(work: Path, model, ema, opt, sched, state: TrainState, fingerprint: str, rngs: list) -> None:
    """work/latest.pt (atomically; the one it replaces is kept as work/previous.pt)."""
    save_resumable(work, {"fingerprint": fingerprint, "model": model.state_dict(), "ema": ema.state_dict(),
                          "opt": opt.state_dict(), "sched": sched.state_dict(), "rng": rngs,
                          "step": state.step, "skipped": state.skipped, "curve": state.curve})
