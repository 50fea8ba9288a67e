"""The HVAE family for the one training loop (mrgen.train.family): VDVAE's recipe."""
from __future__ import annotations

import torch

from mrgen.metrics.nll import elbo_nll
from mrgen.models.hvae import VAE, HVAEConfig
from mrgen.train.dist import Dist
from mrgen.train.family import OneNetwork


class HVAE(OneNetwork):
    """VDVAE's recipe (hvae_reference.md §1.10): mean per-dim ELBO, AdamW (0.9, 0.9), linear warm-up, clip and
    skip, EMA; validation ELBO of the EMA every val_every steps (rank 0)."""
    fields = ("step", "elbo", "distortion", "rate", "grad_norm", "skipped", "lr", "val_elbo")
    averaged = {"elbo", "distortion", "rate"}

    def __init__(self, cfg: HVAEConfig, t: dict, val_batches, seed: int, dist: Dist = Dist()):
        self.cfg, self.val_batches, self.seed = cfg, val_batches, seed
        torch.manual_seed(seed)
        super().__init__(VAE(cfg), t, seed, dist, betas=(0.9, 0.9))

    def step(self, step: int, batch) -> dict:
        x_in, x_t = (self.accel.inputs(a) for a in batch)
        with self.accel.autocast():
            stats = self.net(x_in, x_t)
            loss = stats["elbo"].mean()
        return {"elbo": loss.detach(), "distortion": stats["distortion"].detach().mean(),
                "rate": stats["rate"].detach().mean(), **self.descend(loss)}

    def at_log(self, step: int, last: bool) -> dict:
        if self.dist.main and (step % self.t["val_every"] == 0 or last):
            return {"val_elbo": elbo_nll(self.ema, self.val_batches, self.seed, self.cfg.likelihood_dims)["nats_per_dim"]}
        return {}
