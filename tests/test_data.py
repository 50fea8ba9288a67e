"""Raw formats -> prepared data: readers on small files in the real formats (written here the way the
originals were made), the split rules, bad input (each names the file, expected vs found, and leaves no
prepared output), fetching (checksums, resume, offline message), and the loader."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mrgen.config.spec import Spec, load
from mrgen.data.fetch import fetch_raw
from mrgen.data.formats import read_idx
from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared, index_sha256
from mrgen.data.sources import prepare_dataset

RNG = np.random.default_rng(0)


def dataset(source, files, split, size, channels=3, **kw):
    """A params.yaml dataset entry (validated through the real schema)."""
    ds = {"source": source, "raw": {"files": files}, "image_size": size, "channels": channels,
          "likelihood": "dmol", "split": split, **kw}
    raw = load().raw
    raw["presets"]["tiny"]["datasets"]["t"] = ds
    return Spec(raw).raw["presets"]["tiny"]["datasets"]["t"]


def prepare_fails(ds, raw_dir, out, match):
    with pytest.raises(DataError, match=match):
        prepare_dataset("t", ds, raw_dir, out)
    assert not out.exists() and not any(out.parent.glob(f".{out.name}*")), "a failed prepare left output behind"


# ---------------------------------------------------------------- IDX
def write_idx(path, a):
    head = struct.pack(">BBBB", 0, 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + a.astype(np.uint8).tobytes())


def idx_dataset(tmp_path, n_train=50, n_test=20, val=10):
    raw = tmp_path / "raw"
    raw.mkdir()
    tr, te = RNG.integers(0, 256, (n_train, 28, 28)), RNG.integers(0, 256, (n_test, 28, 28))
    write_idx(raw / "train-images-idx3-ubyte.gz", tr)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", te)
    ds = dataset("idx_gz", {"train-images-idx3-ubyte.gz": {"role": "train"}, "t10k-images-idx3-ubyte.gz": {"role": "test"}},
                 {"method": "permutation", "val": val, "seed": 42}, 32, channels=1, pad=2)
    return ds, raw, tr, te


def test_idx_pad_and_official_test_with_seeded_validation(tmp_path):
    ds, raw, tr, te = idx_dataset(tmp_path)
    meta = prepare_dataset("t", ds, raw, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    perm = np.random.RandomState(42).permutation(50)          # VDVAE's rule: last `val` of the permutation
    assert np.array_equal(p.split("val")[:, 2:30, 2:30, 0], tr[perm[-10:]])
    assert np.array_equal(p.split("train")[:, 2:30, 2:30, 0], tr[perm[:-10]])
    assert np.array_equal(p.split("test")[:, 2:30, 2:30, 0], te)
    assert p.split("train")[:, :2].max() == 0 and meta["counts"] == {"train": 40, "val": 10, "test": 20}
    assert meta["index_sha256"]["val"] == index_sha256(perm[-10:])


def test_idx_truncated_gzip_names_the_file_and_leaves_nothing(tmp_path):
    ds, raw, *_ = idx_dataset(tmp_path)
    f = raw / "train-images-idx3-ubyte.gz"
    good = f.read_bytes()
    f.write_bytes(good[: len(good) // 2])
    prepare_fails(ds, raw, tmp_path / "out", r"train-images-idx3-ubyte\.gz: truncated or corrupt gzip")
    f.write_bytes(good)                                          # fixed input: a rerun succeeds
    assert prepare_dataset("t", ds, raw, tmp_path / "out")["counts"]["train"] == 40


def test_idx_wrong_length_and_magic(tmp_path):
    raw = tmp_path
    with gzip.open(raw / "a.gz", "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 10, 28, 28) + bytes(100))
    with pytest.raises(DataError, match=r"a\.gz: expected 7856 bytes for an IDX array of shape \(10, 28, 28\), found 116"):
        read_idx(raw / "a.gz")
    with gzip.open(raw / "b.gz", "wb") as f:
        f.write(b"\x00\x00\x0d\x03" + bytes(20))
    with pytest.raises(DataError, match=r"b\.gz: expected the IDX magic 00 00 08"):
        read_idx(raw / "b.gz")


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.exists() and not os.environ.get("CI"), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_real_files_from_the_debian_package(tmp_path):
    """The paper preset's fashion_mnist declaration: fetched (file:// URLs, sha256 verified) and prepared."""
    ds = load(preset="paper").p["datasets"]["fashion_mnist"]
    rec = fetch_raw("fashion_mnist", ds["raw"], tmp_path / "downloads", tmp_path / "raw")
    assert all(r["sha256"] == r["declared_sha256"] for r in rec.values())
    train = read_idx(tmp_path / "raw/train-images-idx3-ubyte.gz")
    assert train.shape == (60000, 28, 28) and abs(train.mean() / 255 - 0.2860) < 1e-3   # Fashion-MNIST's known mean
    meta = prepare_dataset("fashion_mnist", ds, tmp_path / "raw", tmp_path / "out")
    assert meta["counts"] == {"train": 55000, "val": 5000, "test": 10000} and meta["shape"] == [32, 32, 1]
    p = Prepared.open(tmp_path / "out")
    assert set(np.unique(p.split("test"))) == {0, 255}                    # binarised once
    (tmp_path / "fashion_meta.json").write_text(json.dumps(meta))


# ---------------------------------------------------------------- CIFAR10 python tarball
def write_cifar_tar(path, n=20, skip=(), evil=False):
    """A tarball like the original: cifar-10-batches-py/ with protocol-2 pickles of dicts with bytes keys."""
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
        for name in names:
            if name in skip:
                continue
            if name == "batches.meta":
                d = {b"label_names": [b"airplane"], b"num_cases_per_batch": n}
            else:
                data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
                batches[name] = data
                d = {b"batch_label": name.encode(), b"labels": list(range(n)), b"data": data,
                     b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
            blob = pickle.dumps(d, protocol=2)
            if evil and name == "data_batch_2":
                blob = pickle.dumps(os.system, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def cifar_ds():
    return dataset("cifar10_python", {"cifar-10-python.tar.gz": {}},
                   {"method": "train_test_split", "val": 10, "seed": 11172018}, 32)


def test_cifar_tarball_layout_and_vdvae_split(tmp_path):
    from sklearn.model_selection import train_test_split
    batches = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    meta = prepare_dataset("t", cifar_ds(), tmp_path, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    train = np.concatenate([batches[f"data_batch_{i}"] for i in range(1, 6)]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    tr, va = train_test_split(train, test_size=10, random_state=11172018)     # exactly VDVAE's call
    assert np.array_equal(p.split("train"), tr) and np.array_equal(p.split("val"), va)
    assert np.array_equal(p.split("test"), batches["test_batch"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert meta["counts"] == {"train": 90, "val": 10, "test": 20}


def test_cifar_missing_member(tmp_path):
    write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", skip=("data_batch_3",))
    prepare_fails(cifar_ds(), tmp_path, tmp_path / "out",
                  r"cifar-10-python\.tar\.gz: missing member cifar-10-batches-py/data_batch_3")


def test_cifar_truncated_archive(tmp_path):
    write_cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    f = tmp_path / "cifar-10-python.tar.gz"
    f.write_bytes(f.read_bytes()[:-3000])
    prepare_fails(cifar_ds(), tmp_path, tmp_path / "out", r"cifar-10-python\.tar\.gz: truncated or corrupt archive")


def test_cifar_pickle_cannot_run_code(tmp_path):
    write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", evil=True)
    prepare_fails(cifar_ds(), tmp_path, tmp_path / "out", r"data_batch_2: not a CIFAR batch pickle \(refusing to load")


# ---------------------------------------------------------------- ImageNet npz batches
def test_npz_batches_natural_order_in_zip_and_seed42_split(tmp_path):
    rows = {i: RNG.integers(0, 256, (4, 3 * 8 * 8), dtype=np.uint8) for i in (1, 2, 10)}
    with zipfile.ZipFile(tmp_path / "train.zip", "w") as z:
        for i in (10, 1, 2):                                    # stored out of order on purpose
            buf = io.BytesIO()
            np.savez(buf, data=rows[i], labels=np.arange(4), mean=np.zeros(192))
            z.writestr(f"Imagenet8_train_npz/train_data_batch_{i}.npz", buf.getvalue())
    val = RNG.integers(0, 256, (5, 192), dtype=np.uint8)
    np.savez(tmp_path / "val_data.npz", data=val, labels=np.arange(5))
    ds = dataset("imagenet_npz", {"train.zip": {"role": "train"}, "val_data.npz": {"role": "test"}},
                 {"method": "permutation", "val": 3, "seed": 42}, 8)
    prepare_dataset("t", ds, tmp_path, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    train = np.concatenate([rows[1], rows[2], rows[10]]).reshape(-1, 3, 8, 8).transpose(0, 2, 3, 1)
    perm = np.random.RandomState(42).permutation(12)
    assert np.array_equal(p.split("train"), train[perm[:-3]]) and np.array_equal(p.split("val"), train[perm[-3:]])
    assert np.array_equal(p.split("test"), val.reshape(-1, 3, 8, 8).transpose(0, 2, 3, 1))
    assert "npz" in p.meta["format"] and "Chrabaszcz" in p.meta["format"]


def test_npz_wrong_row_size(tmp_path):
    np.savez(tmp_path / "tr.npz", data=np.zeros((4, 100), np.uint8))
    np.savez(tmp_path / "te.npz", data=np.zeros((4, 192), np.uint8))
    ds = dataset("imagenet_npz", {"tr.npz": {"role": "train"}, "te.npz": {"role": "test"}},
                 {"method": "permutation", "val": 1, "seed": 42}, 8)
    prepare_fails(ds, tmp_path, tmp_path / "out", r"tr\.npz: expected uint8 rows of 192 \(3x8x8\), found uint8 \(4, 100\)")


# ---------------------------------------------------------------- PNG tars (original downsampled ImageNet)
def png(a, mode="RGB"):
    buf = io.BytesIO()
    Image.fromarray(a, mode=mode if a.ndim == 3 else "L").save(buf, format="PNG")
    return buf.getvalue()


def write_png_tar(path, images: dict):
    with tarfile.open(path, "w") as tar:
        for name, blob in images.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def png_tar_case(tmp_path, n=30, bad=None):
    imgs = {f"train_8x8/{i:05d}.png": RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8) for i in range(n)}
    order = list(imgs)[::-1]                                   # tar order differs from sorted order
    blobs = {k: png(imgs[k]) for k in order}
    if bad:
        blobs[order[3]] = bad
    write_png_tar(tmp_path / "train_8x8.tar", blobs)
    write_png_tar(tmp_path / "valid_8x8.tar", {f"valid_8x8/{i:05d}.png": png(imgs[f"train_8x8/{i:05d}.png"]) for i in range(4)})
    ds = dataset("imagenet_png_tar", {"train_8x8.tar": {"role": "train"}, "valid_8x8.tar": {"role": "test"}},
                 {"method": "permutation", "val": 5, "seed": 42}, 8, source_size=[8, 8])
    return ds, np.stack([imgs[k] for k in sorted(imgs)])


def test_png_tar_sorted_names_and_split(tmp_path):
    ds, sorted_imgs = png_tar_case(tmp_path)
    prepare_dataset("t", ds, tmp_path, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    perm = np.random.RandomState(42).permutation(30)
    assert np.array_equal(p.split("train"), sorted_imgs[perm[:-5]])
    assert np.array_equal(p.split("val"), sorted_imgs[perm[-5:]]) and len(p.split("test")) == 4


def test_png_tar_wrong_image_size(tmp_path):
    ds, _ = png_tar_case(tmp_path, bad=png(np.zeros((8, 7, 3), np.uint8)))
    prepare_fails(ds, tmp_path, tmp_path / "out", r"train_8x8\.tar:train_8x8/00026\.png: expected size 8x8, found 7x8")


def test_png_tar_truncated(tmp_path):
    ds, _ = png_tar_case(tmp_path)
    f = tmp_path / "train_8x8.tar"
    f.write_bytes(f.read_bytes()[:5000])
    prepare_fails(ds, tmp_path, tmp_path / "out", r"train_8x8\.tar: truncated")


# ---------------------------------------------------------------- JPEG folder + partition (CelebA)
def jpeg(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def celeba_case(tmp_path, n=12, zipped=False):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i in range(1, n + 1):
        (folder / f"{i:06d}.jpg").write_bytes(jpeg(RNG.integers(0, 256, (218, 178, 3), dtype=np.uint8)))
    (tmp_path / "list_eval_partition.txt").write_text("".join(f"{i:06d}.jpg {0 if i <= 8 else (1 if i <= 10 else 2)}\n"
                                                              for i in range(1, n + 1)))
    ds = dataset("celeba", {"img_align_celeba": {}, "list_eval_partition.txt": {"role": "partition"}},
                 {"method": "official"}, 64, source_size=[178, 218], crop=[15, 40, 163, 188], resize_filter="bilinear")
    return ds, folder


def test_celeba_jpeg_folder_crop_resize_partition(tmp_path):
    ds, folder = celeba_case(tmp_path)
    meta = prepare_dataset("t", ds, tmp_path, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    assert meta["counts"] == {"train": 8, "val": 2, "test": 2}
    want = np.asarray(Image.open(folder / "000010.jpg").crop((15, 40, 163, 188)).resize((64, 64), Image.Resampling.BILINEAR))
    assert np.array_equal(p.split("val")[1], want)
    assert meta["input_shift"] == pytest.approx(-p.split("train").mean())      # CelebA: statistics of train


def test_celeba_zip_equals_folder(tmp_path):
    ds, folder = celeba_case(tmp_path)
    prepare_dataset("t", ds, tmp_path, tmp_path / "a")
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"img_align_celeba/{f.name}")
    ds2 = dict(ds, raw={"obtain": None, "files": {"img_align_celeba.zip": ds["raw"]["files"]["img_align_celeba"],
                                                  "list_eval_partition.txt": ds["raw"]["files"]["list_eval_partition.txt"]}})
    prepare_dataset("t", ds2, tmp_path, tmp_path / "b")
    a, b = Prepared.open(tmp_path / "a"), Prepared.open(tmp_path / "b")
    assert all(np.array_equal(a.split(s), b.split(s)) for s in ("train", "val", "test"))


def test_celeba_wrong_mode(tmp_path):
    ds, folder = celeba_case(tmp_path)
    Image.fromarray(np.zeros((218, 178), np.uint8)).save(folder / "000005.jpg")
    prepare_fails(ds, tmp_path, tmp_path / "out", r"img_align_celeba/000005\.jpg: expected image mode RGB, found L")


def test_celeba_partition_missing_image(tmp_path):
    ds, folder = celeba_case(tmp_path)
    (folder / "000013.jpg").write_bytes((folder / "000001.jpg").read_bytes())
    prepare_fails(ds, tmp_path, tmp_path / "out", r"list_eval_partition\.txt: no partition for image 000013\.jpg")


def test_empty_folder(tmp_path):
    (tmp_path / "celeba_hq").mkdir()
    ds = dataset("image_folder", {"celeba_hq": {}}, {"method": "permutation", "val": 0, "test": 1, "seed": 0}, 16,
                 resize_filter="box_halving_bicubic")
    prepare_fails(ds, tmp_path, tmp_path / "out", r"celeba_hq: expected PNG or JPEG images \(folder\), found none")


def test_image_folder_resize_and_split_too_large(tmp_path):
    (tmp_path / "hq").mkdir()
    for i in range(6):
        Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"hq/{i}.png")
    ds = dataset("image_folder", {"hq": {}}, {"method": "permutation", "val": 1, "test": 2, "seed": 0}, 16,
                 resize_filter="box_halving_bicubic")
    prepare_dataset("t", ds, tmp_path, tmp_path / "out")
    p = Prepared.open(tmp_path / "out")
    im = Image.open(tmp_path / "hq/0.png")
    # improved-diffusion's rule: BOX-halve while at least twice the target (64 -> 32 -> 16), then BICUBIC
    want = np.asarray(im.resize((32, 32), Image.Resampling.BOX).resize((16, 16), Image.Resampling.BOX))
    idx = list(np.random.RandomState(0).permutation(6))
    split, pos = next((s, i) for s, rows in (("train", idx[:3]), ("val", idx[3:4]), ("test", idx[4:]))
                      for i, r in enumerate(rows) if r == 0)
    assert np.array_equal(p.split(split)[pos], want)
    big = dict(ds, split={"method": "permutation", "val": 3, "test": 3, "seed": 0})
    prepare_fails(big, tmp_path, tmp_path / "out2", r"hq: split request val=3 \+ test=3 needs more than the 6 images")


# ---------------------------------------------------------------- fetch
def test_fetch_wrong_checksum_names_file_expected_and_found(tmp_path):
    inbox = tmp_path / "downloads"
    inbox.mkdir()
    (inbox / "x.bin").write_bytes(b"not the file")
    raw = {"obtain": None, "files": {"x.bin": {"sha256": "0" * 64, "md5": None, "urls": None, "package": None, "role": "all"}}}
    with pytest.raises(DataError, match=r"downloads/x\.bin: wrong checksum: expected sha256 0{64}, found "
                                        + hashlib.sha256(b"not the file").hexdigest()):
        fetch_raw("t", raw, inbox, tmp_path / "raw")
    assert not (tmp_path / "raw/x.bin").exists()


def test_fetch_offline_says_where_to_place_the_file(tmp_path):
    raw = {"obtain": "ask the authors", "files": {"x.bin": {"sha256": "ab" * 32, "md5": None, "role": "all",
                                                             "urls": ["http://127.0.0.1:9/x.bin"], "package": None}}}
    with pytest.raises(DataError, match=r"missing raw file\. could not download it \(http://127\.0\.0\.1:9/x\.bin: .*\); "
                                        r"offline\? Place x\.bin at .*downloads/x\.bin \(sha256 abab.*"
                                        r"How to obtain it: ask the authors"):
        fetch_raw("t", raw, tmp_path / "downloads", tmp_path / "raw")


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one payload with Range support; the first full request is cut off half-way."""
    payload = bytes(range(256)) * 4096
    cut = True

    def do_GET(self):
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if RangeHandler.cut:
            RangeHandler.cut = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_fetch_resumes_a_broken_download(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/blob"
        decl = {"sha256": hashlib.sha256(RangeHandler.payload).hexdigest(), "md5": None, "urls": [url],
                "package": None, "role": "all"}
        raw = {"obtain": None, "files": {"blob": decl}}
        with pytest.raises(DataError, match=r"could not download it|download ended early"):
            fetch_raw("t", raw, tmp_path / "downloads", tmp_path / "raw")
        part = tmp_path / "downloads/blob.part"
        assert 0 < part.stat().st_size < len(RangeHandler.payload)
        rec = fetch_raw("t", raw, tmp_path / "downloads", tmp_path / "raw")     # resumes with a Range request
        assert (tmp_path / "raw/blob").read_bytes() == RangeHandler.payload and rec["blob"]["obtained"].startswith("downloaded")
    finally:
        server.shutdown()


# ---------------------------------------------------------------- loader
def test_loader_shards_and_seeded_batches():
    a = np.arange(103 * 4, dtype=np.uint8).reshape(103, 2, 2, 1)
    meta = {"likelihood": "dmol", "input_shift": -127.5, "input_scale": 1 / 127.5}
    shards = [Batches(a, meta, 10, rank=r, world=3).shard() for r in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(103))
    ranks = [Batches(a, meta, 8, seed=5, rank=r, world=2) for r in range(2)]
    x0, x1 = ranks[0].train(3)[1], ranks[1].train(3)[1]
    assert not torch.equal(x0, x1)                                      # ranks see different images
    assert torch.equal(x0, Batches(a, meta, 8, seed=5, rank=0, world=2).train(3)[1])   # deterministic
    assert len(list(ranks[1].ordered())) == 7                           # its 52 images in batches of 8


# ---------------------------------------------------------------- the stages themselves
def test_fetch_and_prepare_stages_bad_raw_file_then_fixed(repo):
    """A corrupt raw file: the fetch stage exits 2 naming it, writes nothing; fixed, both stages succeed."""
    from conftest import sh
    inbox = repo / "data/downloads/digits"
    inbox.mkdir(parents=True)
    (inbox / "digits.csv.gz").write_bytes(b"corrupt")
    r = sh("mrgen fetch --preset tiny digits", repo, check=False)
    assert r.returncode == 2 and "digits.csv.gz: wrong checksum: expected sha256 09f66e6d" in r.stderr
    assert not (repo / "data/tiny/raw/digits").exists() and not (repo / "data/tiny/raw/digits.provenance.json").exists()
    r = sh("mrgen prepare --preset tiny digits", repo, check=False)
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: data/tiny/raw/digits: missing; expected the output of the stage that makes it — run it first")
    assert not (repo / "data/tiny/prepared/digits").exists()
    (inbox / "digits.csv.gz").unlink()                        # fixed: fetch copies it from scikit-learn
    sh("mrgen fetch --preset tiny digits", repo)
    sh("mrgen prepare --preset tiny digits", repo)
    meta = json.loads((repo / "data/tiny/prepared/digits/meta.json").read_text())
    rec = json.loads((repo / "data/tiny/raw/digits.provenance.json").read_text())
    assert meta["counts"] == {"train": 1297, "val": 250, "test": 250}
    assert meta["raw_sha256"]["digits.csv.gz"] == rec["files"]["digits.csv.gz"]["sha256"] == \
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
