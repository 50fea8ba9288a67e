"""What a model family gives the one training loop (mrgen.train.loop.fit), and the base of the families
that train one network with the shared recipe (the HVAE, a score part).

A family builds its modules on the recipe's device (mrgen.train.accel), names what the checkpoint holds
(`objects`), and runs one training step on a batch (`step`), returning the step's values as device tensors
(the loop reads them only at log steps); `at_log` may add values then (the HVAE's validation ELBO).
`fields` are the curve's columns, `averaged` the values averaged over ranks, `skips` whether a step may be
skipped (a bool tensor "ok" among the step's values). The weights come from the run's seed (identical on
every rank); the training noise then from seed + rank.
"""
from __future__ import annotations

import torch

from mrgen.train.accel import Accel
from mrgen.train.dist import Dist
from mrgen.train.recipe import Update, adamw, frozen_copy, update_ema, warmup


class OneNetwork:
    """One network trained with the recipe: on the device, its EMA, AdamW, the warm-up, clip and skip."""
    skips = True

    def __init__(self, net: torch.nn.Module, t: dict, seed: int, dist: Dist, betas: tuple[float, float]):
        self.t, self.dist, self.accel = t, dist, Accel(t, dist)
        self.model = self.accel.place(net.set_grad_checkpoint(t["grad_checkpoint"]))
        self.ema = frozen_copy(self.model).set_grad_checkpoint(False)
        self.opt = adamw(self.model.parameters(), t, betas=betas)
        self.sched = warmup(self.opt, t["warmup_iters"])
        self.update = Update(self.model.parameters(), self.opt, self.sched, t, dist)
        self.net = self.accel.wrap(self.model)    # what the step calls (DDP, compiled)
        torch.manual_seed(seed + dist.rank)

    def objects(self) -> dict:
        return {"model": self.model, "ema": self.ema, "opt": self.opt, "sched": self.sched}

    def descend(self, loss: torch.Tensor) -> dict:
        """Backward, the recipe's update and the EMA; the step's norm, rate and skip flag."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()                           # DDP: gradients averaged over ranks here
        norm, ok = self.update(loss)
        update_ema(self.ema, self.model, self.t["ema_rate"], ok)
        return {"grad_norm": norm, "lr": self.update.lr, "ok": ok}

    def at_log(self, step: int, last: bool) -> dict:
        return {}
