"""One reader per `source` of a params.yaml dataset, the split rules, and `prepare_dataset`, which streams
a source's images into the prepared layout without holding a whole dataset in memory.

A reader returns a `Source`: its official parts ("train"/"test", or "all" when the data has no official
test split) with counts, a chunk iterator per part in canonical order (sorted file names, batch order),
and, for CelebA, the official partition label of every image. `plan_splits` turns that and the
dataset's `split` params into index lists; `prepare_dataset` scatters each chunk into its split's file.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mrgen.data import formats
from mrgen.data.prepared import SPLITS, DataError, PreparedWriter, index_sha256, pixel_stats


@dataclass
class Source:
    counts: dict                                   # part -> number of images
    chunks: Callable[[str], object]                # part -> iterator of uint8 NHWC arrays, canonical order
    files: dict                                    # part -> the raw file it comes from (for messages)
    description: str
    partition: dict = field(default_factory=dict)  # part -> official split label (0 train, 1 val, 2 test)


def _raw(ds: dict, raw_dir: Path, role: str) -> list[Path]:
    names = [n for n, f in ds["raw"]["files"].items() if f["role"] == role]
    for n in names:
        if not (raw_dir / n).exists():
            raise DataError(f"{raw_dir / n}: missing; run the fetch stage for this dataset first")
    return [raw_dir / n for n in names]


def _one(ds: dict, raw_dir: Path, role: str) -> Path:
    paths = _raw(ds, raw_dir, role)
    if len(paths) != 1:
        raise DataError(f"{raw_dir}: expected exactly one raw file with role {role!r}, found {len(paths)}")
    return paths[0]


def _arrays(arrays: dict, files: dict, description: str) -> Source:
    return Source({k: len(a) for k, a in arrays.items()}, lambda part: iter([arrays[part]]), files, description)


# ---------------------------------------------------------------- readers
def digits_csv(ds, raw_dir):
    """scikit-learn's 8x8 digits (digits.csv.gz: 64 grey levels 0..16 and a label per row), MNIST role."""
    path = _one(ds, raw_dir, "all")
    try:
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    except (*formats.ARCHIVE_ERRORS, ValueError) as e:
        raise DataError(f"{path}: expected a gzip CSV of 65 numbers per row ({e})") from None
    if rows.shape[1] != 65 or rows[:, :64].min() < 0 or rows[:, :64].max() > 16:
        raise DataError(f"{path}: expected rows of 64 grey levels in 0..16 plus a label, found shape {rows.shape}")
    x = np.rint(rows[:, :64] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 8, 8, 1)
    return _arrays({"all": x}, {"all": path}, "scikit-learn digits.csv.gz, grey levels 0..16 scaled to 0..255")


def photo_patches(ds, raw_dir):
    """Non-overlapping image_size patches on a grid over sample photographs (sorted by file name)."""
    s = ds["image_size"]
    spec = formats.ImageSpec(mode="RGB", size=s, crop=None)
    patches = []
    for path in sorted(_raw(ds, raw_dir, "all")):
        from PIL import Image
        try:
            with Image.open(path) as im:
                im.load()
                mode, a = im.mode, np.asarray(im)
        except Exception as e:
            raise DataError(f"{path}: cannot decode image ({e})") from None
        if mode != spec.mode:
            raise DataError(f"{path}: expected image mode RGB, found {mode}")
        h, w = (a.shape[0] // s) * s, (a.shape[1] // s) * s
        if h == 0 or w == 0:
            raise DataError(f"{path}: expected at least {s}x{s} pixels, found {a.shape[1]}x{a.shape[0]}")
        grid = a[:h, :w].reshape(h // s, s, w // s, s, 3).transpose(0, 2, 1, 3, 4).reshape(-1, s, s, 3)
        patches.append(grid)
    return _arrays({"all": np.concatenate(patches)}, {"all": raw_dir},
                   f"non-overlapping {s}x{s} patches, row-major, from {len(patches)} photographs")


def idx_gz(ds, raw_dir):
    """MNIST-format IDX images: one file per official split (role train / test)."""
    arrays, files = {}, {}
    for part in ("train", "test"):
        path = _one(ds, raw_dir, part)
        a = formats.read_idx(path)
        if a.ndim != 3:
            raise DataError(f"{path}: expected an IDX array of images (3 dimensions), found shape {a.shape}")
        arrays[part], files[part] = a[..., None], path
    return _arrays(arrays, files, "IDX (gzip) images, official train/test files")


def cifar10_python(ds, raw_dir):
    """The official CIFAR10 python-version tarball (cifar-10-batches-py pickles)."""
    path = _one(ds, raw_dir, "all")
    return _arrays(formats.read_cifar_tar(path), {"train": path, "test": path},
                   "CIFAR10 python version (cifar-10-batches-py/data_batch_1..5, test_batch)")


def npz_batches(ds, raw_dir):
    """Downsampled ImageNet, npz distribution (box-resized; Chrabaszcz et al. 2017): train / test batches."""
    s = ds["image_size"]
    members = {p: [m for f in _raw(ds, raw_dir, p) for m in formats.npz_members(f)] for p in ("train", "test")}
    for part, ms in members.items():
        if not ms:
            raise DataError(f"{raw_dir}: expected raw files with role {part!r} holding npz batches, found none")
    shapes = {p: [formats.npz_count(f, m) for f, m in ms] for p, ms in members.items()}
    chunks = lambda part: (formats.read_npz_batch(f, m, s) for f, m in members[part])
    return Source({p: sum(v) for p, v in shapes.items()}, chunks,
                  {p: ms[0][0] for p, ms in members.items()},
                  "ImageNet npz batches (the box-resized 'downsampled ImageNet' of Chrabaszcz et al.), batches in natural order")


def _spec(ds) -> formats.ImageSpec:
    return formats.ImageSpec(mode="RGB" if ds["channels"] == 3 else "L", size=ds["image_size"],
                             source_size=tuple(ds["source_size"]) if ds["source_size"] else None,
                             crop=tuple(ds["crop"]) if ds["crop"] else None, filter=ds["resize_filter"])


def _containers(ds, raw_dir, parts, description) -> Source:
    spec = _spec(ds)
    cont = {p: formats.Container(_one(ds, raw_dir, p)) for p in parts}
    chunks = lambda part: formats.decode(cont[part], cont[part].names, spec)
    return Source({p: len(c.names) for p, c in cont.items()}, chunks, {p: c.path for p, c in cont.items()},
                  description)


def png_tar(ds, raw_dir):
    """The original downsampled ImageNet (van den Oord et al.): tars of PNGs, train and valid (= test)."""
    return _containers(ds, raw_dir, ("train", "test"),
                       "ImageNet original downsampled PNG tars (image-net.org/small), file names sorted")


def celeba(ds, raw_dir):
    """CelebA img_align_celeba (folder or zip) with list_eval_partition.txt (official partition)."""
    src = _containers(ds, raw_dir, ("all",), f"CelebA img_align_celeba, crop {ds['crop']}, resize {ds['resize_filter']}")
    names = formats.Container(_one(ds, raw_dir, "all")).names
    src.partition = {"all": formats.read_partition(_one(ds, raw_dir, "partition"), names)}
    return src


def image_folder(ds, raw_dir):
    """A folder (or zip / tar) of images; with train/test roles when the data has an official split."""
    roles = {f["role"] for f in ds["raw"]["files"].values()}
    parts = ("train", "test") if "train" in roles else ("all",)
    return _containers(ds, raw_dir, parts, f"image folder(s), resize {ds['resize_filter']}")


READERS = {"sklearn_digits": digits_csv, "sklearn_photos": photo_patches, "idx_gz": idx_gz,
           "cifar10_python": cifar10_python, "imagenet_png_tar": png_tar, "imagenet_npz": npz_batches,
           "celeba": celeba, "image_folder": image_folder}


# ---------------------------------------------------------------- split rules
def plan_splits(src: Source, split: dict, where) -> dict:
    """Index lists per output split: {split: (part, indices into that part's canonical order)}.

    - permutation: p = np.random.RandomState(seed).permutation(n) of the training part; with an official
      test part, val = the last `val` of p (VDVAE's ImageNet rule); without one, test = the last `test`
      and val the `val` before them.
    - train_test_split: sklearn's train_test_split(range(n), test_size=val, random_state=seed) carves val
      from the official training part (VDVAE's CIFAR10 rule); test is the official test part.
    - official: the source's own partition (CelebA's list_eval_partition.txt).
    """
    method, n_val, n_test = split["method"], split["val"], split["test"]
    if method == "official":
        if not src.partition:
            raise DataError(f"{where}: split.method 'official' needs a partition file; this source has none")
        (part, labels), = src.partition.items()
        return {s: (part, np.flatnonzero(labels == k)) for k, s in enumerate(SPLITS)}
    has_test = "test" in src.counts
    if has_test and n_test is not None:
        raise DataError(f"{where}: the source has an official test split; expected no split.test, found {n_test}")
    if not has_test and n_test is None:
        raise DataError(f"{where}: the source has no official test split; expected split.test (a count), found none")
    part = "train" if has_test else "all"
    n, held = src.counts[part], n_val + (n_test or 0)
    if held >= n:
        raise DataError(f"{src.files[part]}: split request val={n_val}"
                        f"{'' if has_test else f' + test={n_test}'} needs more than the {n} images available "
                        f"(at least one must remain for training)")
    if method == "train_test_split":
        if not has_test:
            raise DataError(f"{where}: split.method train_test_split carves val from an official training split; "
                            f"this source has none (use permutation)")
        from sklearn.model_selection import train_test_split
        tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=split["seed"])
        return {"train": (part, tr), "val": (part, va), "test": ("test", np.arange(src.counts["test"]))}
    perm = np.random.RandomState(split["seed"]).permutation(n)
    plan = {"train": (part, perm[:n - held]), "val": (part, perm[n - held:n - held + n_val])}
    plan["test"] = ("test", np.arange(src.counts["test"])) if has_test else (part, perm[n - n_test:])
    return plan


# ---------------------------------------------------------------- driver
def binarise_once(x: np.ndarray, seed: int) -> np.ndarray:
    """A fixed Bernoulli draw of grey levels (uint8 0..255) stored as {0, 255}."""
    u = np.random.default_rng(seed).random(x.shape)
    return np.where(u < x / 255.0, 255, 0).astype(np.uint8)


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0))) if p else x


def prepare_dataset(name: str, ds: dict, raw_dir: Path, out: Path, raw_record: dict | None = None) -> dict:
    """Read dataset `name` from raw_dir and write out/{train,val,test}.npy + meta.json; return the meta.

    Nothing appears at `out` unless every image was read and checked.
    """
    reader = READERS[ds["source"]]
    where = f"params dataset {name!r}"
    src = reader(ds, Path(raw_dir))
    plan = plan_splits(src, ds["split"], where)
    s, c, p = ds["image_size"], ds["channels"], ds["pad"]
    writer = PreparedWriter(out, {k: (len(idx), s, s, c) for k, (_, idx) in plan.items()})
    try:
        for part in src.counts:
            # where each image of this part goes: (split code, position in that split)
            dest_split, dest_pos = np.full(src.counts[part], -1, np.int8), np.zeros(src.counts[part], np.int64)
            for k, sp in enumerate(SPLITS):
                pt, idx = plan[sp]
                if pt == part:
                    dest_split[idx], dest_pos[idx] = k, np.arange(len(idx))
            start = 0
            for x in src.chunks(part):
                x = _pad(x, p)
                if x.shape[1:] != (s, s, c):
                    raise DataError(f"{src.files[part]}: expected {s}x{s}x{c} images after padding by {p}, "
                                    f"found {'x'.join(map(str, x.shape[1:]))}")
                ds_, dp = dest_split[start:start + len(x)], dest_pos[start:start + len(x)]
                for k, sp in enumerate(SPLITS):
                    m = ds_ == k
                    if m.any():
                        writer.arrays[sp][dp[m]] = x[m]
                start += len(x)
            if start != src.counts[part]:
                raise DataError(f"{src.files[part]}: expected {src.counts[part]} images, read {start}")
        meta = {"dataset": name, "source": ds["source"], "format": src.description,
                "raw_sha256": (raw_record or {}), "value_range": [0, 255], "pad": p, "likelihood": ds["likelihood"],
                "split": {**ds["split"], "index_of": {k: part for k, (part, _) in plan.items()}},
                "index_sha256": {k: index_sha256(idx) for k, (_, idx) in plan.items()}}
        mean, std = pixel_stats(writer.arrays["train"])
        meta["train_pixel_mean"], meta["train_pixel_std"] = mean, std
        if ds["likelihood"] == "bernoulli":
            # Training batches are binarised dynamically; val and test are binarised once, seed recorded.
            for k, sp in enumerate(("val", "test")):
                writer.arrays[sp][:] = binarise_once(np.asarray(writer.arrays[sp]), ds["binarize_seed"] + k)
            meta["binarisation"] = {"train": "dynamic (per batch, seeded by run seed and step)",
                                    "val": f"fixed, numpy default_rng({ds['binarize_seed']})",
                                    "test": f"fixed, numpy default_rng({ds['binarize_seed'] + 1})"}
        # Encoder input normalisation: the dataset's constants (VDVAE's, hvae_reference §3.1) where
        # params give them, else the training split's own pixel mean and std.
        meta["input_shift"] = ds["input_shift"] if ds["input_shift"] is not None else -mean
        meta["input_scale"] = ds["input_scale"] if ds["input_scale"] is not None else 1.0 / std
        return writer.finish(meta)
    except BaseException:
        writer.abort()
        raise
