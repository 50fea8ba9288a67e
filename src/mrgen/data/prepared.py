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

from mrgen.errors import DataError  # noqa: F401  (re-exported: readers raise it)
from mrgen.io import short_reason

SPLITS = ("train", "val", "test")


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
        redo = "expected the meta.json written by the prepare stage — rerun prepare"
        if not root.is_dir():
            raise DataError(f"{root}: missing; expected the prepared folder written by the prepare stage — rerun prepare")
        try:
            meta = json.loads((root / "meta.json").read_text())
        except FileNotFoundError:
            raise DataError(f"{root}/meta.json: missing; {redo}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{root}/meta.json: not valid JSON ({short_reason(e)}); {redo}") from None
        if not isinstance(meta, dict):
            raise DataError(f"{root}/meta.json: expected a JSON object, found {type(meta).__name__}; {redo}")
        missing = [k for k in ("counts", "shape") if k not in meta]
        if missing:
            raise DataError(f"{root}/meta.json: missing keys {', '.join(missing)}; {redo}")
        if not isinstance(meta["counts"], dict) or not isinstance(meta["shape"], list):
            raise DataError(f"{root}/meta.json: expected counts {{split: n}} and shape [H, W, C], found "
                            f"counts {meta['counts']!r} and shape {meta['shape']!r}; {redo}")
        return cls(root, meta)

    def split(self, name: str) -> np.ndarray:
        path = self.root / f"{name}.npy"
        redo = f"expected the {name} split written by the prepare stage — rerun prepare"
        if name not in self.meta["counts"]:
            raise DataError(f"{self.root}/meta.json: no split {name!r}; expected one of {sorted(self.meta['counts'])}")
        if not path.is_file():
            raise DataError(f"{path}: missing; {redo}")
        try:
            a = np.load(path, mmap_mode="r")
        except Exception as e:                  # truncated (mmap longer than the file), bad header, not .npy
            raise DataError(f"{path}: not a readable .npy array ({short_reason(e)}); {redo}") from None
        expected = [self.meta["counts"][name], *self.meta["shape"]]
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8:
            raise DataError(f"{path}: expected a uint8 array, found {getattr(a, 'dtype', type(a).__name__)}; {redo}")
        if list(a.shape) != expected:
            raise DataError(f"{path}: expected shape {expected}, found {list(a.shape)}")
        return a
