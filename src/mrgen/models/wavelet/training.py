"""Training of one part of a wavelet-paper model (models/wavelet/methods.py), resumable from work/<part>/.

Score parts (SGM, WSGM, WMGM's LL model): eps-prediction MSE (diffusion.loss) with AdamW, EMA of the
weights (the EMA is what samples). The GAN part (WMGM): teacher forcing at every level j on ground-truth
LL_j; fake = IDWT(LL_j, G(LL_j, z)), target = IDWT(LL_j, details_j), both divided by 2^(j-1) to lie in
[0, 1]; loss_G = adv * (-mean sigmoid D(fake)) + mse * MSE(fake, target) + ssim * (1 - SSIM(fake, target)),
loss_D = 0.5 (mean sigmoid D(fake) - mean sigmoid D(real)), D updated on every d_every-th batch.
Single process; the latest state is saved every ckpt_every steps with its RNG so a killed run resumes exactly
(the one it replaces is kept as previous.pt, the fallback when latest.pt is unreadable).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F

from mrgen.data.loader import Batches
from mrgen.io import progress
from mrgen.models.wavelet import diffusion, methods
from mrgen.models.wavelet.gan import Discriminator, init_weights, ssim
from mrgen.models.wavelet.haar import idwt2
from mrgen.train.checkpoint import finish_resumable, load_resumable, save_resumable
from mrgen.train.loop import update_ema

SCORE_FIELDS = ("step", "loss", "grad_norm", "lr")
GAN_FIELDS = ("step", "loss_g", "adv", "mse", "ssim", "loss_d", "lr")


@dataclass
class State:
    step: int = 0
    curve: list = field(default_factory=list)


def images(batches: Batches, step: int) -> torch.Tensor:
    """Training batch `step` as images in [0, 1], (B, C, H, W)."""
    return (batches.train(step)[1] + 1) / 2


class Checkpoint:
    """work/<part>/latest.pt: every module and optimizer, the RNG and the curve; tied to a fingerprint.

    The state it replaces is kept as previous.pt, the fallback when latest.pt is unreadable
    (mrgen.train.checkpoint)."""

    def __init__(self, work: Path, fingerprint: str):
        self.work, self.fingerprint = Path(work), fingerprint
        self.path = self.work / "latest.pt"

    def load(self, objects: dict) -> State:
        def accept(ck):
            return None if ck["fingerprint"] == self.fingerprint else "it belongs to other inputs or params"

        ck = load_resumable(self.work, ("fingerprint", "rng", "step", "curve", *objects), accept)
        if ck is None:
            return State()
        for k, obj in objects.items():
            obj.load_state_dict(ck[k])
        torch.set_rng_state(ck["rng"])
        return State(ck["step"], ck["curve"])

    def save(self, objects: dict, state: State) -> None:
        save_resumable(self.work, {"fingerprint": self.fingerprint, "rng": torch.get_rng_state(), "step": state.step,
                                   "curve": state.curve, **{k: o.state_dict() for k, o in objects.items()}})

    def finish(self) -> None:
        finish_resumable(self.work)


def train_score(part: str, net, batches: Batches, t: dict, levels: int, std, horizon: float, schedule: str,
                work: Path, fingerprint: str, seed: int):
    """Returns (net, ema, State)."""
    torch.manual_seed(seed)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=t["lr"], weight_decay=t["wd"])
    ck = Checkpoint(work, fingerprint)
    objects = {"net": net, "ema": ema, "opt": opt}
    state = ck.load(objects)
    net.train()
    for step in progress(range(state.step, t["iters"]), initial=state.step, total=t["iters"], desc=f"train {part}"):
        x0, cond = methods.training_pair(part, images(batches, step), levels, std)
        lr = t["lr"] * min(1.0, (step + 1) / t["warmup_iters"]) if t["warmup_iters"] else t["lr"]
        for g in opt.param_groups:
            g["lr"] = lr
        loss = diffusion.loss(net, x0, horizon, schedule, cond)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), t["grad_clip"]).item()
        opt.step()
        update_ema(ema, net, t["ema_rate"])
        _log(state, step, t, {"loss": loss.item(), "grad_norm": grad_norm, "lr": lr}, ck, objects)
    ck.finish()
    return net, ema, state


def train_gan(gen, batches: Batches, t: dict, levels: int, disc_cfg, work: Path, fingerprint: str, seed: int):
    """Returns (generator, generator EMA, State); the discriminator is only a training device."""
    torch.manual_seed(seed)
    init_weights(gen)
    disc = Discriminator(disc_cfg)
    init_weights(disc)
    ema = copy.deepcopy(gen).requires_grad_(False)
    opt_g = torch.optim.AdamW(gen.parameters(), lr=t["lr"], betas=(0.9, 0.999), weight_decay=t["wd"])
    opt_d = torch.optim.AdamW(disc.parameters(), lr=t["lr_d"], betas=(0.9, 0.999), weight_decay=t["wd"])
    ck = Checkpoint(work, fingerprint)
    objects = {"net": gen, "ema": ema, "disc": disc, "opt": opt_g, "opt_d": opt_d}
    state = ck.load(objects)
    gen.train()
    disc.train()
    w = t["losses"]
    for step in progress(range(state.step, t["iters"]), initial=state.step, total=t["iters"], desc="train gan"):
        x = images(batches, step)
        sums = dict.fromkeys(("loss_g", "adv", "mse", "ssim", "loss_d"), 0.0)
        for j, ll, details in methods.gan_pairs(x, levels):
            unit = 2.0 ** (j - 1)                       # LL_{j-1} of a [0, 1] image lies in [0, 2^(j-1)]
            target = idwt2(ll, details) / unit
            fake = idwt2(ll, gen(ll, torch.randn_like(ll), j)) / unit
            adv = -torch.sigmoid(disc(fake)).mean()
            mse = F.mse_loss(fake, target)
            sim = ssim(fake, target)
            loss_g = w["adv"] * adv + w["mse"] * mse + w["ssim"] * (1 - sim)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            torch.nn.utils.clip_grad_norm_(gen.parameters(), t["grad_clip"])
            opt_g.step()
            loss_d = 0.5 * (torch.sigmoid(disc(fake.detach())).mean() - torch.sigmoid(disc(target)).mean())
            if step % t["d_every"] == 0:
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            for k, v in (("loss_g", loss_g), ("adv", adv), ("mse", mse), ("ssim", sim), ("loss_d", loss_d)):
                sums[k] += v.item() / levels
        update_ema(ema, gen, t["ema_rate"])
        with torch.no_grad():                           # BatchNorm statistics follow the live generator
            for be, b in zip(ema.buffers(), gen.buffers()):
                be.copy_(b)
        _log(state, step, t, {**sums, "lr": t["lr"]}, ck, objects)
    ck.finish()
    return gen, ema, state


def _log(state: State, step: int, t: dict, row: dict, ck: Checkpoint, objects: dict) -> None:
    state.step = step + 1
    last = state.step == t["iters"]
    if state.step % t["log_every"] == 0 or last:
        state.curve.append({"step": state.step, **row})
    if state.step % t["ckpt_every"] == 0 and not last:
        ck.save(objects, state)
