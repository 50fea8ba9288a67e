"""VDVAE's optimisation recipe (hvae_reference.md §1.10, §8.9-8.11), resumable from work/<run>/latest.pt.

Each step: loss = mean per-dim ELBO; clip the gradient norm to grad_clip; skip the optimizer step and
the EMA update if the pre-clip norm >= skip_threshold or the loss is not finite; the linear warm-up
scheduler advances every step. The state saved every ckpt_every steps holds weights, EMA, optimizer,
scheduler, RNG and curve, so a killed run continues exactly where it stopped.
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from mrgen.data.loader import Batches
from mrgen.io import atomic_path, progress
from mrgen.metrics.nll import elbo_nll
from mrgen.models.hvae import VAE, HVAEConfig

CURVE_FIELDS = ("step", "elbo", "distortion", "rate", "grad_norm", "skipped", "lr", "val_elbo")


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


def train(cfg: HVAEConfig, t: dict, train_b: Batches, val_b: Batches, work: Path, fingerprint: str,
          seed: int, device: str = "cpu"):
    """Train to t['iters'] steps (resuming from work/latest.pt when its fingerprint matches).

    Returns (model, ema, TrainState). The fingerprint (hash of the stage's inputs and params) keeps a
    stale checkpoint from another configuration from ever being resumed.
    """
    torch.manual_seed(seed)
    model = VAE(cfg).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt, sched = make_optimizer(model, t)
    state = TrainState()
    latest = work / "latest.pt"
    if latest.exists():
        ck = torch.load(latest, map_location=device, weights_only=True)
        if ck["fingerprint"] == fingerprint:
            model.load_state_dict(ck["model"])
            ema.load_state_dict(ck["ema"])
            opt.load_state_dict(ck["opt"])
            sched.load_state_dict(ck["sched"])
            torch.set_rng_state(ck["rng"])
            state = TrainState(ck["step"], ck["skipped"], ck["curve"])
            print(f"resuming from {latest} at step {state.step}", file=sys.stderr)
        else:
            print(f"ignoring {latest}: it belongs to other inputs or params", file=sys.stderr)

    model.train()
    bar = progress(range(state.step, t["iters"]), initial=state.step, total=t["iters"], desc="train")
    for step in bar:
        x_in, x_t = (a.to(device) for a in train_b.train(step))
        stats = model(x_in, x_t)
        loss = stats["elbo"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"]).item()
        finite = math.isfinite(loss.item()) and math.isfinite(grad_norm)
        skip = not finite or grad_norm >= t["skip_threshold"]
        if skip:
            state.skipped += 1
        else:
            opt.step()
            update_ema(ema, model, t["ema_rate"])
        lr = sched.get_last_lr()[0]
        sched.step()
        state.step = step + 1
        if state.step % t["log_every"] == 0 or state.step == t["iters"]:
            val = elbo_nll(ema, val_b, seed, cfg.likelihood_dims)["nats_per_dim"] if state.step % t["val_every"] == 0 or state.step == t["iters"] else None
            state.curve.append({"step": state.step, "elbo": loss.item(), "distortion": stats["distortion"].mean().item(),
                                "rate": stats["rate"].mean().item(), "grad_norm": grad_norm,
                                "skipped": state.skipped, "lr": lr, "val_elbo": val})
            bar.set_postfix(elbo=f"{loss.item():.4f}", skipped=state.skipped, refresh=False)
        if state.step % t["ckpt_every"] == 0 and state.step < t["iters"]:
            save_state(latest, model, ema, opt, sched, state, fingerprint)
    bar.close()
    return model, ema, state


def save_state(path: Path, model, ema, opt, sched, state: TrainState, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"fingerprint": fingerprint, "model": model.state_dict(), "ema": ema.state_dict(),
                    "opt": opt.state_dict(), "sched": sched.state_dict(), "rng": torch.get_rng_state(),
                    "step": state.step, "skipped": state.skipped, "curve": state.curve}, tmp)
