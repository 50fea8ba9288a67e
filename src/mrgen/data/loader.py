"""Minibatches over memory-mapped prepared splits: seeded shuffling, DDP sharding, model inputs/targets."""
from __future__ import annotations

import numpy as np
import torch


class Batches:
    """Deterministic batches: batch `step` depends only on (seed, step, rank), so resuming needs no state.

    Bernoulli datasets are binarised per batch (dynamic binarisation) when `dynamic` is set; the encoder
    input is (x + input_shift) * input_scale, the target is {0,1} (Bernoulli) or [-1, 1] (DMoL).
    """

    def __init__(self, array: np.ndarray, meta: dict, batch_size: int, seed: int = 0,
                 rank: int = 0, world: int = 1, dynamic: bool = False):
        self.array, self.batch_size, self.seed = array, batch_size, seed
        self.rank, self.world, self.dynamic = rank, world, dynamic
        self.bernoulli = meta["likelihood"] == "bernoulli"
        self.shift, self.scale = meta["input_shift"], meta["input_scale"]
        self.per_epoch = len(array) // (batch_size * world)
        if self.per_epoch == 0:
            raise ValueError(f"batch size {batch_size} x {world} ranks exceeds the {len(array)} training images")

    def _generator(self, *key: int) -> torch.Generator:
        return torch.Generator().manual_seed(hash((self.seed,) + key) & 0x7FFF_FFFF_FFFF_FFFF)

    def train(self, step: int):
        """The (input, target) pair of training step `step` for this rank (drop-last epochs)."""
        epoch, i = divmod(step, self.per_epoch)
        perm = torch.randperm(len(self.array), generator=self._generator(0, epoch))
        start = (i * self.world + self.rank) * self.batch_size
        idx = perm[start:start + self.batch_size].numpy()
        return self.prepare(torch.from_numpy(self.array[idx]), self._generator(1, step, self.rank))

    def ordered(self):
        """Every image once, in order (evaluation); yields (input, target) pairs."""
        for start in range(0, len(self.array), self.batch_size):
            yield self.prepare(torch.from_numpy(np.array(self.array[start:start + self.batch_size])))

    def prepare(self, x: torch.Tensor, gen: torch.Generator | None = None):
        x = x.permute(0, 3, 1, 2).float()
        if self.bernoulli:
            x = x / 255.0
            if self.dynamic:
                x = torch.bernoulli(x, generator=gen)
            return (x + self.shift) * self.scale, x
        return (x + self.shift) * self.scale, x / 127.5 - 1.0
