"""The HVAE family's step for the one training loop (mrgen.train.loop.fit): VDVAE's recipe.

A family builds its modules on the recipe's device (mrgen.train.accel), names what the checkpoint holds
(`objects`), and runs one training step on a batch, returning the step's values as device tensors (the
loop reads them only at log steps). `fields` are the curve's columns, `averaged` the values averaged over
ranks, `skips` whether the step may be skipped (a bool tensor "ok" in the step's values). The weights come
from the run's seed (identical on every rank); the training noise then from seed + rank.
"""
from __future__ import annotations

import torch

from mrgen.metrics.nll import elbo_nll
from mrgen.models.hvae import VAE, HVAEConfig
from mrgen.train.accel import Accel
from mrgen.train.dist import Dist
from mrgen.train.recipe import Update, adamw, frozen_copy, update_ema, warmup


class HVAE:
    """VDVAE's recipe (hvae_reference.md §1.10): mean per-dim ELBO, AdamW (0.9, 0.9), linear warm-up, clip and
    skip, EMA; validation ELBO of the EMA every val_every steps (rank 0)."""
    fields = ("step", "elbo", "distortion", "rate", "grad_norm", "skipped", "lr", "val_elbo")
    averaged = {"elbo", "distortion", "rate"}
    skips = True

    def __init__(self, cfg: HVAEConfig, t: dict, val_batches, seed: int, dist: Dist = Dist()):
        self.cfg, self.t, self.val_batches, self.seed, self.dist = cfg, t, val_batches, seed, dist
        self.accel = Accel(t, dist)
        torch.manual_seed(seed)
        self.model = self.accel.place(VAE(cfg).set_grad_checkpoint(t["grad_checkpoint"]))
        self.ema = frozen_copy(self.model).set_grad_checkpoint(False)
        self.opt = adamw(self.model.parameters(), t)
        self.sched = warmup(self.opt, t["warmup_iters"])
        self.update = Update(self.model.parameters(), self.opt, self.sched, t, dist)
        self.net = self.accel.wrap(self.model)
        torch.manual_seed(seed + dist.rank)

    def objects(self) -> dict:
        return {"model": self.model, "ema": self.ema, "opt": self.opt, "sched": self.sched}

    def step(self, step: int, batch) -> dict:
        x_in, x_t = (self.accel.inputs(a) for a in batch)
        with self.accel.autocast():
            stats = self.net(x_in, x_t)
            loss = stats["elbo"].mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()                           # DDP: gradients averaged over ranks here
        norm, ok = self.update(loss)
        update_ema(self.ema, self.model, self.t["ema_rate"], ok)
        return {"elbo": loss.detach(), "distortion": stats["distortion"].detach().mean(),
                "rate": stats["rate"].detach().mean(), "grad_norm": norm, "lr": self.update.lr, "ok": ok}

    def at_log(self, step: int, last: bool) -> dict:
        if self.dist.main and (step % self.t["val_every"] == 0 or last):
            return {"val_elbo": elbo_nll(self.ema, self.val_batches, self.seed, self.cfg.likelihood_dims)["nats_per_dim"]}
        return {}
