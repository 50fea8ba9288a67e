"""The prepared-data layout: one uint8 NHWC array per split plus meta.json; memory-mapped reads.

A prepared folder is written by `PreparedWriter` into a temporary sibling and renamed into place only
when complete, so a failed preparation never leaves a folder that looks prepared.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


class DataError(ValueError):
    """Bad raw or prepared data; the message names the file and what was expected vs found."""


def index_sha256(idx: np.ndarray) -> str:
    """The checksum of a split's index list (int64, in the order the split stores its images)."""
    return hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes()).hexdigest()


def pixel_stats(a: np.ndarray, chunk: int = 8192) -> tuple[float, float]:
    """Mean and standard deviation of every pixel value of a (memory-mapped) uint8 array, in 0..255 units."""
    n, s, ss = 0, 0.0, 0.0
    for i in range(0, len(a), chunk):
        x = np.asarray(a[i:i + chunk], dtype=np.float64)
        n, s, ss = n + x.size, s + x.sum(), ss + np.square(x).sum()
    mean = s / n
    return mean, float(np.sqrt(max(ss / n - mean * mean, 0.0)))


class PreparedWriter:
    """Fill one memory-mapped .npy per split, then `finish(meta)` renames the folder into place."""

    def __init__(self, out: Path, shapes: dict):
        self.out = Path(out)
        self.tmp = self.out.with_name(f".{self.out.name}.partial")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.arrays = {s: np.lib.format.open_memmap(self.tmp / f"{s}.npy", mode="w+", dtype=np.uint8,
                                                    shape=tuple(shapes[s])) for s in SPLITS}

    def finish(self, meta: dict) -> dict:
        for a in self.arrays.values():
            a.flush()
        counts = {s: int(a.shape[0]) for s, a in self.arrays.items()}
        meta = {**meta, "counts": counts, "shape": list(self.arrays["train"].shape[1:]), "layout": "NHWC",
                "dtype": "uint8", "files": {s: f"{s}.npy" for s in SPLITS}}
        (self.tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        self.arrays = {}
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        return meta

    def abort(self) -> None:
        self.arrays = {}
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class Prepared:
    """A prepared dataset folder opened read-only; splits are memory-mapped."""
    root: Path
    meta: dict

    @classmethod
    def open(cls, root: str | Path) -> "Prepared":
        root = Path(root)
        try:
            meta = json.loads((root / "meta.json").read_text())
        except FileNotFoundError:
            raise DataError(f"{root}/meta.json: missing; run the prepare stage for this dataset first") from None
        return cls(root, meta)

    def split(self, name: str) -> np.ndarray:
        a = np.load(self.root / f"{name}.npy", mmap_mode="r")
        expected = [self.meta["counts"][name], *self.meta["shape"]]
        if list(a.shape) != expected:
            raise DataError(f"{self.root}/{name}.npy: expected shape {expected}, found {list(a.shape)}")
        return a
