"""The prepared-data layout: one uint8 NHWC array per split plus meta.json; memory-mapped reads."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


class DataError(ValueError):
    """Bad raw or prepared data; the message names the file and what was expected vs found."""


def index_sha256(idx: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes()).hexdigest()


def write_prepared(out: Path, arrays: dict, meta: dict) -> None:
    """Write {split: uint8 NHWC array} and meta.json into the (staging) folder `out`."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in SPLITS:
        a = arrays[split]
        if a.dtype != np.uint8 or a.ndim != 4:
            raise DataError(f"{out}/{split}.npy: expected a uint8 NHWC array, found {a.dtype} with shape {a.shape}")
        np.save(out / f"{split}.npy", a)
        counts[split] = int(a.shape[0])
    meta = {**meta, "counts": counts, "shape": list(arrays["train"].shape[1:]), "layout": "NHWC", "dtype": "uint8"}
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


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
