"""Readers of the raw formats, each checked as it is read: IDX (MNIST, Fashion-MNIST), the CIFAR10
python pickles, ImageNet npz batches, and image containers (a folder, a zip or an uncompressed tar of
PNG/JPEG files) decoded in parallel by both cores. Every error names the file and what was expected."""
from __future__ import annotations

import gzip
import importlib
import io
import multiprocessing as mp
import os
import pickle
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from mrgen.data.prepared import DataError

ARCHIVE_ERRORS = (EOFError, OSError, zlib.error, tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile)


def natural_key(name: str):
    """Sort key that orders batch_2 before batch_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# ---------------------------------------------------------------- IDX
def read_idx(path: Path) -> np.ndarray:
    """An IDX array of unsigned bytes (gzip-compressed when the name ends in .gz)."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            data = f.read()
    except ARCHIVE_ERRORS as e:
        raise DataError(f"{path}: truncated or corrupt gzip file ({e}); expected a complete gzip-compressed IDX file") from None
    if len(data) < 4 or data[:3] != b"\0\0\x08":
        raise DataError(f"{path}: expected the IDX magic 00 00 08 (unsigned bytes), found {data[:4].hex(' ')}")
    ndim = data[3]
    head = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:head]) if len(data) >= head else ()
    expected = head + int(np.prod(dims)) if dims else head
    if len(data) != expected:
        raise DataError(f"{path}: expected {expected} bytes for an IDX array of shape {tuple(dims)}, found {len(data)}")
    return np.frombuffer(data, np.uint8, offset=head).reshape(dims)


# ---------------------------------------------------------------- CIFAR10 python pickles
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = ("test_batch",)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else: a raw archive must not be able to run code."""
    ALLOWED = {"_reconstruct", "ndarray", "dtype", "scalar"}

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):    # how protocol-2 pickles written by Python 3 store bytes
            return getattr(importlib.import_module(module), name)
        if module.split(".")[0] == "numpy" and name in self.ALLOWED:
            module = module.replace("numpy.core", "numpy._core")
            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def _cifar_batch(blob: bytes, where: str) -> np.ndarray:
    try:
        d = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:
        raise DataError(f"{where}: not a CIFAR batch pickle ({e})") from None
    data = d.get(b"data") if isinstance(d, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: expected b'data' as uint8 rows of 3072 (3x32x32), found {found}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def read_cifar_tar(path: Path) -> dict:
    """{'train': 50k images, 'test': 10k images} (NHWC) from the official cifar-10-python.tar.gz."""
    wanted, found = set(CIFAR_TRAIN + CIFAR_TEST), {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                p = PurePosixPath(m.name)
                if m.isfile() and p.parent.name == CIFAR_DIR and p.name in wanted:
                    found[p.name] = _cifar_batch(tar.extractfile(m).read(), f"{path}:{m.name}")
    except ARCHIVE_ERRORS as e:
        raise DataError(f"{path}: truncated or corrupt archive ({e}); expected the complete cifar-10-python.tar.gz") from None
    missing = sorted(wanted - set(found))
    if missing:
        raise DataError(f"{path}: missing member {CIFAR_DIR}/{missing[0]}; expected "
                        f"{', '.join(CIFAR_TRAIN + CIFAR_TEST)} under {CIFAR_DIR}/")
    return {"train": np.concatenate([found[n] for n in CIFAR_TRAIN]), "test": found["test_batch"]}


# ---------------------------------------------------------------- npz batches (ImageNet32/64 npz distribution)
def npz_members(path: Path) -> list[tuple[Path, str | None]]:
    """The npz batches of a raw file: the file itself, or the .npz members of a zip, in natural order."""
    if path.suffix == ".npz":
        return [(path, None)]
    try:
        with zipfile.ZipFile(path) as z:
            names = sorted((n for n in z.namelist() if n.endswith(".npz")), key=natural_key)
    except ARCHIVE_ERRORS as e:
        raise DataError(f"{path}: truncated or corrupt zip archive ({e})") from None
    if not names:
        raise DataError(f"{path}: expected .npz batches inside the zip, found none")
    return [(path, n) for n in names]


def _open_npz(path: Path, member: str | None):
    if member is None:
        return open(path, "rb")
    with zipfile.ZipFile(path) as z:
        return io.BytesIO(z.read(member))


def npz_count(path: Path, member: str | None) -> int:
    """Number of rows of a batch's 'data' array, read from the .npy header only."""
    where = f"{path}:{member}" if member else str(path)
    try:
        with _open_npz(path, member) as f, zipfile.ZipFile(f) as z, z.open("data.npy") as d:
            version = np.lib.format.read_magic(d)
            shape = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(d)[0]
    except KeyError:
        raise DataError(f"{where}: missing array 'data' in the npz batch") from None
    except ARCHIVE_ERRORS + (ValueError,) as e:
        raise DataError(f"{where}: truncated or corrupt npz batch ({e})") from None
    return int(shape[0])


def read_npz_batch(path: Path, member: str | None, size: int) -> np.ndarray:
    """One batch's 'data' rows (3*size*size, channel planes) as NHWC uint8."""
    where = f"{path}:{member}" if member else str(path)
    try:
        with _open_npz(path, member) as f, np.load(f, allow_pickle=False) as z:
            if "data" not in z.files:
                raise DataError(f"{where}: missing array 'data'; expected it among {z.files}")
            data = z["data"]
    except ARCHIVE_ERRORS + (ValueError,) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{where}: truncated or corrupt npz batch ({e})") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * size * size:
        raise DataError(f"{where}: expected uint8 rows of {3 * size * size} (3x{size}x{size}), found {data.dtype} {data.shape}")
    return data.reshape(-1, 3, size, size).transpose(0, 2, 3, 1)


# ---------------------------------------------------------------- image containers
IMAGE_EXT = (".png", ".jpg", ".jpeg")


class Container:
    """Images in a folder, a zip or an uncompressed tar, listed in sorted name order."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            self.kind = "folder"
            names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*")
                     if p.is_file() and p.suffix.lower() in IMAGE_EXT]
            self.loc = None
        elif zipfile.is_zipfile(self.path):
            self.kind = "zip"
            try:
                with zipfile.ZipFile(self.path) as z:
                    names = [n for n in z.namelist() if n.lower().endswith(IMAGE_EXT)]
            except ARCHIVE_ERRORS as e:
                raise DataError(f"{self.path}: truncated or corrupt zip archive ({e})") from None
            self.loc = None
        else:
            self.kind = "tar"
            try:
                with tarfile.open(self.path, "r:") as tar:   # uncompressed only: members are read by offset
                    members = [m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith(IMAGE_EXT)]
            except ARCHIVE_ERRORS as e:
                with open(self.path, "rb") as f:
                    head = f.read(512)
                if head[257:262] == b"ustar":
                    raise DataError(f"{self.path}: truncated or corrupt tar archive ({e})") from None
                if head[:2] in (b"\x1f\x8b", b"BZ", b"\xfd7"):
                    raise DataError(f"{self.path}: expected an uncompressed tar (members are read by offset), "
                                    f"found a compressed file: decompress it first") from None
                raise DataError(f"{self.path}: expected an image folder, a zip or an uncompressed tar of images, "
                                f"found something else ({e})") from None
            names = [m.name for m in members]
            self.loc = {m.name: (m.offset_data, m.size) for m in members}
            end = max((o + s for o, s in self.loc.values()), default=0)
            if end > self.path.stat().st_size:
                raise DataError(f"{self.path}: truncated tar archive: expected at least {end} bytes, "
                                f"found {self.path.stat().st_size}")
        self.names = sorted(names)
        if not self.names:
            raise DataError(f"{self.path}: expected PNG or JPEG images ({self.kind}), found none")

    def where(self, name: str) -> str:
        return f"{self.path}/{name}" if self.kind == "folder" else f"{self.path}:{name}"

    def reader(self):
        """A function name -> bytes for use inside one process (opens its own handle)."""
        if self.kind == "folder":
            return lambda n: (self.path / n).read_bytes()
        if self.kind == "zip":
            z = zipfile.ZipFile(self.path)
            return z.read
        f = open(self.path, "rb")

        def read(n):
            off, size = self.loc[n]
            f.seek(off)
            return f.read(size)
        return read


FILTERS = ("box", "bilinear", "bicubic", "lanczos", "box_halving_bicubic")


@dataclass(frozen=True)
class ImageSpec:
    """How one raw image becomes a training image: checks (mode, source size) and the transform.

    crop is a PIL box (left, upper, right, lower); without one, images must be square. Resizing uses
    `filter` (Pillow's antialiased filters; `box_halving_bicubic` halves with BOX while the image is at
    least twice the target, then BICUBIC, the convention of OpenAI's improved-diffusion loaders).
    """
    mode: str
    size: int
    source_size: tuple | None = None
    crop: tuple | None = None
    filter: str | None = None

    def apply(self, blob: bytes, where: str) -> np.ndarray:
        from PIL import Image
        try:
            im = Image.open(io.BytesIO(blob))
            im.load()
        except Exception as e:
            raise DataError(f"{where}: cannot decode image ({e})") from None
        if im.mode != self.mode:
            raise DataError(f"{where}: expected image mode {self.mode}, found {im.mode}")
        if self.source_size and tuple(im.size) != tuple(self.source_size):
            raise DataError(f"{where}: expected size {self.source_size[0]}x{self.source_size[1]}, "
                            f"found {im.size[0]}x{im.size[1]}")
        if self.crop:
            im = im.crop(tuple(self.crop))
        elif im.size[0] != im.size[1]:
            raise DataError(f"{where}: expected a square image (no crop is configured), found {im.size[0]}x{im.size[1]}")
        if im.size != (self.size, self.size):
            im = self._resize(im, where)
        a = np.asarray(im, dtype=np.uint8)
        return a[..., None] if a.ndim == 2 else a

    def _resize(self, im, where):
        from PIL import Image
        R = Image.Resampling
        if self.filter is None:
            raise DataError(f"{where}: image is {im.size[0]}x{im.size[1]} after cropping but the dataset is "
                            f"{self.size}x{self.size}, and no resize_filter is configured")
        if self.filter == "box_halving_bicubic":
            while min(im.size) >= 2 * self.size:
                im = im.resize((im.size[0] // 2, im.size[1] // 2), resample=R.BOX)
            return im.resize((self.size, self.size), resample=R.BICUBIC)
        return im.resize((self.size, self.size), resample=getattr(R, self.filter.upper()))


_WORKER: dict = {}


def _init_worker(container: Container, spec: ImageSpec):
    _WORKER.update(container=container, spec=spec, read=container.reader())


def _decode_chunk(names: list[str]) -> np.ndarray:
    c, spec, read = _WORKER["container"], _WORKER["spec"], _WORKER["read"]
    return np.stack([spec.apply(read(n), c.where(n)) for n in names])


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def decode(container: Container, names: list[str], spec: ImageSpec, chunk: int = 256, processes: int | None = None):
    """Yield decoded uint8 NHWC chunks of `names`, in order, decoding on every core."""
    chunks = [names[i:i + chunk] for i in range(0, len(names), chunk)]
    processes = min(processes or workers(), max(len(chunks), 1))
    if processes <= 1:
        _init_worker(container, spec)
        yield from map(_decode_chunk, chunks)
        return
    with mp.get_context("fork").Pool(processes, _init_worker, (container, spec)) as pool:
        yield from pool.imap(_decode_chunk, chunks)


def read_partition(path: Path, names: list[str]) -> np.ndarray:
    """CelebA's list_eval_partition.txt ('000001.jpg 0' lines) -> split label per image of `names`."""
    try:
        lines = path.read_text().split("\n")
    except OSError as e:
        raise DataError(f"{path}: cannot read the partition file ({e})") from None
    part = {}
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path}:{i}: expected '<image name> <0|1|2>', found {line!r}")
        part[fields[0]] = int(fields[1])
    base = [PurePosixPath(n).name for n in names]
    missing = [b for b in base if b not in part]
    if missing:
        raise DataError(f"{path}: no partition for image {missing[0]} ({len(missing)} images missing)")
    extra = len(part) - len(base)
    if extra:
        absent = sorted(set(part) - set(base))[0]
        raise DataError(f"{path}: lists {len(part)} images but the image container has {len(base)}; "
                        f"expected every listed image, e.g. {absent} is missing")
    return np.array([part[b] for b in base], dtype=np.int8)
