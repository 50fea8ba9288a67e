"""Prepare throughput per raw format on this machine (images/s), against the data issue's goals:
60,000 CIFAR-format images in under 10 s, and JPEG folders limited by decoding on every core.

    python benchmarks/prepare.py [--jpeg 4000] [--png 20000]

Writes synthetic files in the real formats to a temporary folder, then times `prepare_dataset` (the code
the prepare stage runs) on each. The JPEG line also times plain single-process decoding of the same
files, so `reader / (cores x decode)` says how close the reader gets to decoding-bound on all cores.
"""
from __future__ import annotations

import argparse
import gzip
import io
import pickle
import struct
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mrgen.data import formats
from mrgen.data.sources import prepare_dataset

RNG = np.random.default_rng(0)


def smooth(n, h, w):
    """Image-like uint8 data (smooth gradients plus noise), so compressed sizes resemble photographs'."""
    base = np.linspace(0, 200, h * w, dtype=np.float32).reshape(1, h, w, 1)
    return np.clip(base + RNG.normal(0, 20, (n, h, w, 3)), 0, 255).astype(np.uint8)


def ds(source, files, split, size, channels=3, **kw):
    return {"source": source, "raw": {"obtain": None, "files": {k: {"role": r} for k, r in files.items()}},
            "image_size": size, "channels": channels, "pad": kw.pop("pad", 0), "likelihood": "dmol",
            "binarize_seed": None, "input_shift": None, "input_scale": None, "split": split,
            "source_size": None, "crop": None, "resize_filter": None, **kw}


def make_cifar(d: Path):
    with tarfile.open(d / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            x = smooth(10000, 32, 32).transpose(0, 3, 1, 2).reshape(10000, 3072)
            blob = pickle.dumps({b"data": x, b"labels": [0] * 10000}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return ds("cifar10_python", {"cifar-10-python.tar.gz": "all"},
              {"method": "train_test_split", "val": 5000, "test": None, "seed": 11172018}, 32), 60000


def make_idx(d: Path):
    for name, n in (("train", 60000), ("test", 10000)):
        a = smooth(n, 28, 28)[..., 0]
        with gzip.open(d / f"{name}.gz", "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + a.tobytes())
    return ds("idx_gz", {"train.gz": "train", "test.gz": "test"},
              {"method": "permutation", "val": 5000, "test": None, "seed": 42}, 32, channels=1, pad=2), 70000


def make_npz(d: Path):
    for i in range(1, 6):
        np.savez(d / f"train_data_batch_{i}.npz", data=smooth(10000, 32, 32).transpose(0, 3, 1, 2).reshape(10000, -1))
    np.savez(d / "val_data.npz", data=smooth(10000, 32, 32).transpose(0, 3, 1, 2).reshape(10000, -1))
    files = {f"train_data_batch_{i}.npz": "train" for i in range(1, 6)} | {"val_data.npz": "test"}
    return ds("imagenet_npz", files, {"method": "permutation", "val": 5000, "test": None, "seed": 42}, 32), 60000


def encode(a, fmt):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_png_tar(d: Path, n: int):
    for name, m in (("train_32x32.tar", n), ("valid_32x32.tar", n // 10)):
        with tarfile.open(d / name, "w") as tar:
            for i, a in enumerate(smooth(m, 32, 32)):
                blob = encode(a, "PNG")
                info = tarfile.TarInfo(f"{name[:-4]}/{i:07d}.png")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    return ds("imagenet_png_tar", {"train_32x32.tar": "train", "valid_32x32.tar": "test"},
              {"method": "permutation", "val": n // 20, "test": None, "seed": 42}, 32, source_size=[32, 32]), n + n // 10


def make_jpeg(d: Path, n: int):
    folder = d / "img_align_celeba"
    folder.mkdir()
    lines = []
    for i, a in enumerate(smooth(n, 218, 178), 1):
        (folder / f"{i:06d}.jpg").write_bytes(encode(a, "JPEG"))
        lines.append(f"{i:06d}.jpg {0 if i % 10 else 2}\n")
    (d / "list_eval_partition.txt").write_text("".join(lines))
    return ds("celeba", {"img_align_celeba": "all", "list_eval_partition.txt": "partition"}, {"method": "official", "val": 0,
              "test": None, "seed": None}, 64, source_size=[178, 218], crop=[15, 40, 163, 188], resize_filter="bilinear"), n


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jpeg", type=int, default=4000)
    ap.add_argument("--png", type=int, default=20000)
    args = ap.parse_args()
    cores = formats.workers()
    print(f"prepare benchmark, {cores} cores")
    print(f"{'format':<34}{'images':>9}{'seconds':>9}{'images/s':>11}  goal")
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, make, goal) in enumerate((
                ("CIFAR10 python tarball", make_cifar,
                 lambda n, s: f"60k in {s * 60000 / n:.1f} s (< 10 s: {'met' if s * 60000 / n < 10 else 'MISSED'})"),
                ("IDX gzip (MNIST format)", make_idx, None),
                ("ImageNet npz batches 32px", make_npz, None),
                ("ImageNet PNG tar 32px", lambda d: make_png_tar(d, args.png), None),
                ("CelebA JPEG folder -> 64px", lambda d: make_jpeg(d, args.jpeg), "jpeg"))):
            d = Path(tmp) / f"format{k}"
            d.mkdir()
            spec, n = make(d)
            secs = timed(lambda spec=spec, d=d: prepare_dataset("bench", spec, d, d / "out"))
            note = goal(n, secs) if callable(goal) else ""
            if goal == "jpeg":
                c = formats.Container(d / "img_align_celeba")
                s = formats.ImageSpec("RGB", 64, (178, 218), (15, 40, 163, 188), "bilinear")
                read = c.reader()
                one = timed(lambda s=s, read=read, c=c: [s.apply(read(x), x) for x in c.names])
                note = (f"1-process decode {n / one:.0f}/s; reader = {secs and (n / secs) / (n / one):.2f}x one core "
                        f"= {(one / secs) / cores:.0%} of {cores} cores' decoding")
            print(f"{label:<34}{n:>9}{secs:>9.2f}{n / secs:>11.0f}  {note}")


if __name__ == "__main__":
    main()
