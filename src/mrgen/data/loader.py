"""Minibatches over memory-mapped prepared splits: seeded shuffling, DDP sharding, model inputs/targets.

The arrays are the prepared uint8 files opened with mmap (no decoding per epoch); the normalisation
constants come from the prepared meta.json (VDVAE's per-dataset constants, hvae_reference.md §3.1, or the
training split's own statistics where params give none).
"""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager

import numpy as np
import torch

from mrgen.data.prepared import DataError


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

    def _generator(self, *key: int) -> torch.Generator:
        return torch.Generator().manual_seed(hash((self.seed,) + key) & 0x7FFF_FFFF_FFFF_FFFF)

    def train(self, step: int):
        """The (input, target) pair of training step `step` for this rank (drop-last epochs)."""
        if self.per_epoch == 0:
            raise DataError(f"batch size {self.batch_size} x {self.world} ranks exceeds the {len(self.array)} "
                            f"training images")
        epoch, i = divmod(step, self.per_epoch)
        perm = torch.randperm(len(self.array), generator=self._generator(0, epoch))
        start = (i * self.world + self.rank) * self.batch_size
        idx = perm[start:start + self.batch_size].numpy()
        return self.prepare(torch.from_numpy(self.array[idx]), self._generator(1, step, self.rank))

    def shard(self) -> range:
        """This rank's contiguous share of the split for evaluation: every image on exactly one rank."""
        n, w, r = len(self.array), self.world, self.rank
        return range(r * n // w, (r + 1) * n // w)

    def ordered(self):
        """Every image of this rank's shard once, in order (evaluation); yields (input, target) pairs."""
        rows = self.shard()
        for start in range(rows.start, rows.stop, self.batch_size):
            stop = min(start + self.batch_size, rows.stop)
            yield self.prepare(torch.from_numpy(np.array(self.array[start:stop])))

    def prepare(self, x: torch.Tensor, gen: torch.Generator | None = None):
        x = x.permute(0, 3, 1, 2).float()
        if self.bernoulli:
            x = x / 255.0
            if self.dynamic:
                x = torch.bernoulli(x, generator=gen)
            return (x + self.shift) * self.scale, x
        return (x + self.shift) * self.scale, x / 127.5 - 1.0


@contextmanager
def prefetched(batches: Batches, steps: range, device: str, depth: int):
    """Yields an iterator of (step, (input, target)) on `device` for every step of `steps`.

    With depth > 0 a thread prepares up to `depth` batches ahead (in page-locked memory when the device is
    a GPU, so the copy overlaps compute); the batches are the same as without it (Batches.train is a pure
    function of the step). The thread stops when the block is left, however it is left."""
    cuda = device.startswith("cuda")

    def make(step):
        x_in, x_t = batches.train(step)
        if cuda:
            x_in, x_t = x_in.pin_memory(), x_t.pin_memory()
        return step, (x_in, x_t)

    def moved(item):
        step, pair = item
        return step, tuple(a.to(device, non_blocking=cuda) for a in pair)

    if depth == 0:
        yield (moved(make(s)) for s in steps)
        return
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:                      # False once the consumer has gone
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for s in steps:
                if not offer(make(s)):
                    return
        except BaseException as e:               # handed to the consumer, raised there
            offer(e)

    def consume():
        for _ in steps:
            item = box.get()
            if isinstance(item, BaseException):
                raise item
            yield moved(item)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
