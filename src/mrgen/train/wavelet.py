"""The wavelet paper's families for the one training loop (mrgen.train.family): score parts and WMGM's GAN."""
from __future__ import annotations

import torch

from mrgen.models.wavelet import losses, methods
from mrgen.models.wavelet.gan import Discriminator, init_weights
from mrgen.train.accel import Accel
from mrgen.train.dist import Dist
from mrgen.train.family import OneNetwork
from mrgen.train.recipe import Update, adamw, frozen_copy, update_ema, warmup


def images(batch) -> torch.Tensor:
    """A Batches pair's target as images in [0, 1], (B, C, H, W)."""
    return (batch[1] + 1) / 2


class Score(OneNetwork):
    """A score part (SGM, WSGM and WMGM's LL model): eps-prediction MSE on its band, AdamW (0.9, 0.999),
    warm-up, clip and skip, EMA (the EMA is what samples)."""
    fields = ("step", "loss", "grad_norm", "skipped", "lr")
    averaged = {"loss"}

    def __init__(self, part: str, net, t: dict, levels: int, std, horizon: float, schedule: str, seed: int,
                 dist: Dist = Dist()):
        self.part, self.levels, self.std, self.horizon, self.schedule = part, levels, std, horizon, schedule
        super().__init__(net, t, seed, dist, betas=(0.9, 0.999))

    def step(self, step: int, batch) -> dict:
        x0, cond = methods.training_pair(self.part, images(batch), self.levels, self.std)
        x0 = self.accel.inputs(x0)
        cond = None if cond is None else self.accel.inputs(cond)
        with self.accel.autocast():
            loss = losses.score(self.net, x0, self.horizon, self.schedule, cond)
        return {"loss": loss.detach(), **self.descend(loss)}


class GAN:
    """WMGM's shared detail generator: teacher forcing at every level j on ground-truth LL_j, one generator
    update per level (clipped), the discriminator updated on every d_every-th batch, and the generator's EMA
    once per batch (its BatchNorm statistics follow the live generator). The discriminator is only a
    training device: it is checkpointed, never saved as an output."""
    fields = ("step", "loss_g", "adv", "mse", "ssim", "loss_d", "lr")
    averaged = {"loss_g", "adv", "mse", "ssim", "loss_d"}
    skips = False

    def __init__(self, gen, t: dict, levels: int, disc_cfg, seed: int, dist: Dist = Dist()):
        self.t, self.levels = t, levels
        self.accel = Accel(t, dist)
        torch.manual_seed(seed)
        init_weights(gen)
        disc = Discriminator(disc_cfg)
        init_weights(disc)
        self.model, self.disc = self.accel.place(gen), self.accel.place(disc)
        self.ema = frozen_copy(self.model)
        self.opt = adamw(self.model.parameters(), t, betas=(0.9, 0.999))
        self.sched = warmup(self.opt, t["warmup_iters"])
        self.opt_d = adamw(self.disc.parameters(), t, betas=(0.9, 0.999), lr=t["lr_d"])
        self.update = Update(self.model.parameters(), self.opt, self.sched, {**t, "skip_threshold": -1}, dist)
        self.net, self.disc_net = self.accel.wrap(self.model), self.accel.wrap(self.disc)
        torch.manual_seed(seed + dist.rank)

    def objects(self) -> dict:
        return {"model": self.model, "ema": self.ema, "disc": self.disc, "opt": self.opt, "sched": self.sched,
                "opt_d": self.opt_d}

    def step(self, step: int, batch) -> dict:
        x = self.accel.inputs(images(batch))
        sums = dict.fromkeys(("loss_g", "adv", "mse", "ssim", "loss_d"), 0.0)
        train_d = step % self.t["d_every"] == 0
        for j, ll, details in methods.gan_pairs(x, self.levels):
            with self.accel.autocast():
                fake, target = losses.gan_images(self.net, ll, details, j)
                # D's gradients from loss_G are discarded: the bare module spares DDP a reduction
                loss_g, terms = losses.generator(self.disc, fake, target, self.t["losses"])
            self.opt.zero_grad(set_to_none=True)
            loss_g.backward()
            self.update(loss_g)
            with self.accel.autocast(), torch.set_grad_enabled(train_d):
                loss_d = losses.discriminator(self.disc_net if train_d else self.disc, fake, target)
            if train_d:
                self.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                self.opt_d.step()
            for k, v in (("loss_g", loss_g), ("loss_d", loss_d), *terms.items()):
                sums[k] = sums[k] + v.detach().float() / self.levels
        update_ema(self.ema, self.model, self.t["ema_rate"])
        with torch.no_grad():
            for be, b in zip(self.ema.buffers(), self.model.buffers()):
                be.copy_(b)
        return {**sums, "lr": self.update.lr}

    def at_log(self, step: int, last: bool) -> dict:
        return {}
