"""Readers from raw sources to prepared splits, one per `source` of a params.yaml dataset."""
from __future__ import annotations

import hashlib

import numpy as np

from mrgen.data.prepared import DataError, index_sha256


def seeded_split(n: int, n_val: int, n_test: int, seed: int) -> dict:
    """A seeded permutation: the last n_test are test, the n_val before them val, the rest train."""
    if n_val + n_test >= n:
        raise DataError(f"split request val={n_val} + test={n_test} leaves no training images out of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    return {"train": np.sort(perm[: n - n_val - n_test]), "val": np.sort(perm[n - n_val - n_test: n - n_test]),
            "test": np.sort(perm[n - n_test:])}


def binarise_once(x: np.ndarray, seed: int) -> np.ndarray:
    """A fixed Bernoulli draw of grey levels (uint8 0..255) stored as {0, 255}."""
    u = np.random.default_rng(seed).random(x.shape)
    return np.where(u < x / 255.0, 255, 0).astype(np.uint8)


def sklearn_digits(ds: dict):
    """scikit-learn's 8x8 digits (1,797 images, grey levels 0..16) in the MNIST role."""
    from sklearn.datasets import load_digits
    import sklearn

    images = load_digits().images                                   # float 0..16, (1797, 8, 8)
    x = np.rint(images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    if ds["pad"]:
        p = ds["pad"]
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    if x.shape[1] != ds["image_size"] or x.shape[3] != ds["channels"]:
        raise DataError(f"sklearn digits: expected {ds['image_size']}px x {ds['channels']} channels after padding, "
                        f"found {x.shape[1]}px x {x.shape[3]}")
    s = ds["split"]
    idx = seeded_split(len(x), s["val"], s["test"], s["seed"])
    arrays = {k: x[v] for k, v in idx.items()}
    meta = {"source": f"sklearn.datasets.load_digits (scikit-learn {sklearn.__version__})",
            "raw_sha256": {"digits.images": hashlib.sha256(images.tobytes()).hexdigest()},
            "index_sha256": {k: index_sha256(v) for k, v in idx.items()}}
    return arrays, meta


READERS = {"sklearn_digits": sklearn_digits}


def prepare(ds: dict, name: str):
    """Read the raw source of dataset `name` and return (arrays per split, meta)."""
    reader = READERS.get(ds["source"])
    if reader is None:
        raise DataError(f"dataset {name!r}: source {ds['source']!r} has no reader yet (raw-data formats are "
                        f"issue #3); readers exist for {sorted(READERS)}")
    arrays, meta = reader(ds)
    if ds["likelihood"] == "bernoulli":
        # Training batches are binarised dynamically; val and test are binarised once, seed recorded.
        for k, split in enumerate(("val", "test")):
            arrays[split] = binarise_once(arrays[split], ds["binarize_seed"] + k)
        meta["binarisation"] = {"train": "dynamic (per batch, seeded by run seed and step)",
                                "val": f"fixed, numpy default_rng({ds['binarize_seed']})",
                                "test": f"fixed, numpy default_rng({ds['binarize_seed'] + 1})"}
    meta.update(likelihood=ds["likelihood"], pad=ds["pad"], value_range=[0, 255],
                input_shift=ds["input_shift"], input_scale=ds["input_scale"])
    return arrays, meta
