"""Bad files give one clear line (DataError naming the file, expected vs found) and nothing half-written:
resumable checkpoints (corrupt latest.pt -> previous.pt -> fresh, stale temporaries), final checkpoints,
prepared splits, and fetch (a verified copy, not a hard link; the params key of a legitimate new copy)."""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from recipes import hvae_recipe, train_hvae, train_part, wavelet_recipe

from mrgen.data.fetch import fetch_raw
from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared, PreparedWriter
from mrgen.io import load_torch
from mrgen.models.hvae import VAE, HVAEConfig, load_checkpoint

CFG = HVAEConfig(image_size=8, image_channels=3, width=16, zdim=4, likelihood="dmol",
                 enc_blocks="8x1,8d2,4r2,4d4,1x1", dec_blocks="1x1,4m1,4r2,8m4,8x1")
T = hvae_recipe()
META = {"likelihood": "dmol", "input_shift": -127.5, "input_scale": 1 / 64}
IMAGES = np.random.RandomState(0).randint(0, 256, size=(64, 8, 8, 3), dtype=np.uint8)


class Killed(Exception):
    pass


class KilledAt(Batches):
    """The training batches of a process that is killed when it reaches step `at`."""

    def __init__(self, at: int, meta: dict = META, seed: int = 3):
        super().__init__(IMAGES, meta, 8, seed=seed)
        self.at = at

    def train(self, step):
        if step == self.at:
            raise Killed
        return super().train(step)


def run(work: Path, train_b=None):
    family, state = train_hvae(CFG, T, train_b or Batches(IMAGES, META, 8, seed=3), Batches(IMAGES[:8], META, 8), work)
    return family.model, family.ema, state


def killed_after_two_saves(work: Path):
    """latest.pt at step 6, previous.pt at step 3: a run killed at step 7 of 8."""
    with pytest.raises(Killed):
        run(work, KilledAt(7))
    assert torch.load(work / "latest.pt", weights_only=True)["step"] == 6
    assert torch.load(work / "previous.pt", weights_only=True)["step"] == 3


def truncate(path: Path, keep: float = 0.5):
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


# ---------------------------------------------------------------- resumable checkpoints
def test_corrupt_latest_is_moved_aside_and_training_resumes_from_previous(tmp_path, capfd):
    _, ema_ref, state_ref = run(tmp_path / "ref")                 # uninterrupted
    work = tmp_path / "work"
    killed_after_two_saves(work)
    truncate(work / "latest.pt")
    capfd.readouterr()
    _, ema, state = run(work)
    err = capfd.readouterr().err
    lines = [s for s in err.splitlines() if "latest.pt" in s]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {work}/latest.pt is corrupt (")
    assert lines[0].endswith(f"moved to {work}/latest.pt.corrupt; resuming from {work}/previous.pt at step 3")
    assert "Traceback" not in err
    assert (work / "latest.pt.corrupt").exists() and not (work / "previous.pt").exists()   # finished: dropped
    assert state.curve == state_ref.curve and same_weights(ema, ema_ref)   # resumed exactly from step 3


def test_corrupt_latest_and_previous_start_fresh(tmp_path, capfd):
    work = tmp_path / "work"
    killed_after_two_saves(work)
    (work / "latest.pt.corrupt").write_bytes(b"an older corrupt file")
    truncate(work / "latest.pt")
    (work / "previous.pt").write_bytes(b"not a torch file")
    capfd.readouterr()
    _, _, state = run(work)
    err = capfd.readouterr().err
    line, = [s for s in err.splitlines() if "latest.pt" in s]
    assert line.startswith(f"warning: {work}/latest.pt is corrupt (") and line.endswith("; starting fresh")
    assert "previous.pt is corrupt too (" in line and "moved to previous.pt.corrupt" in line
    assert (work / "previous.pt.corrupt").read_bytes() == b"not a torch file"
    assert (work / "latest.pt.corrupt").read_bytes() != b"an older corrupt file"     # replaced
    assert [r["step"] for r in state.curve] == list(range(1, 9))                    # from step 0


def test_latest_without_required_keys_counts_as_corrupt(tmp_path, capfd):
    work = tmp_path / "work"
    work.mkdir()
    torch.save({"fingerprint": "fp", "step": 5}, work / "latest.pt")
    _, _, state = run(work)
    line, = [s for s in capfd.readouterr().err.splitlines() if "latest.pt" in s]
    assert "(missing keys format, objects, rng, skipped, curve)" in line and line.endswith("starting fresh")
    assert len(state.curve) == 8


def test_stale_temporaries_of_a_killed_process_are_removed(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    stale = [work / ".latest.pt.k3j2_x.tmp", work / ".previous.pt.a8b9.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    (work / "keep.txt").write_text("not ours")
    run(work)
    assert not any(p.exists() for p in stale) and (work / "keep.txt").exists()
    assert not list(work.glob(".*.tmp"))


def test_wavelet_checkpoint_falls_back_to_previous(tmp_path, capfd):
    """The wavelet trainer shares the helper: corrupt latest.pt -> previous.pt, bit-equal to no interruption."""
    from mrgen.models.wavelet import methods
    small = {"channels": 16, "channel_mult": [1, 2], "res_blocks": 1, "attention": [], "heads": 1}
    t = wavelet_recipe(iters=7, ckpt_every=2, prefetch=0)
    meta = {"likelihood": "dmol", "input_shift": 0.0, "input_scale": 1.0}
    batches = Batches(IMAGES, meta, 8, seed=1)

    def go(work, b=batches):
        torch.manual_seed(0)
        net = methods.build(methods.net_config("full", small, 8, 3, 1))
        family, state = train_part("full", net, b, t, work)
        return family.model, family.ema, state

    _, ema_ref, state_ref = go(tmp_path / "ref")
    work = tmp_path / "work"
    with pytest.raises(Killed):
        go(work, KilledAt(5, meta, seed=1))
    truncate(work / "latest.pt", 0.3)
    capfd.readouterr()
    _, ema, state = go(work)
    line, = [s for s in capfd.readouterr().err.splitlines() if "latest.pt" in s]
    assert line.endswith(f"moved to {work}/latest.pt.corrupt; resuming from {work}/previous.pt at step 2")
    assert state.curve == state_ref.curve and same_weights(ema, ema_ref)
    assert all(math.isfinite(r["loss"]) for r in state.curve)


# ---------------------------------------------------------------- final checkpoints
def test_corrupt_ema_checkpoint_is_a_data_error_naming_it(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "ema.pt"
    torch.save({"config": asdict(CFG), "state_dict": VAE(CFG).state_dict(), "step": 8}, path)
    assert load_checkpoint(path).step == 8
    truncate(path)
    with pytest.raises(DataError, match=rf"^{path}: not a readable checkpoint \(.+\); expected the ema\.pt/model\.pt "
                                        r"written by the train stage — rerun it$"):
        load_checkpoint(path)
    torch.save({"config": asdict(CFG), "step": 8}, path)
    with pytest.raises(DataError, match=r"ema\.pt: not a readable checkpoint \(missing keys state_dict\)"):
        load_checkpoint(path)
    with pytest.raises(DataError, match=r"nothing\.pt: missing; expected the ema\.pt/model\.pt"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_load_torch_helper(tmp_path):
    path = tmp_path / "ema.pt"
    torch.save({"part": "gan", "config": {}, "state_dict": {}}, path)
    assert load_torch(path, ("part", "config", "state_dict"), "x")["part"] == "gan"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(DataError, match=rf"^{path}: not a readable checkpoint \(.+\); expected the wtrain ema\.pt$"):
        load_torch(path, ("part",), "the wtrain ema.pt")


# ---------------------------------------------------------------- prepared data
def prepared(tmp_path) -> Path:
    out = tmp_path / "digits"
    w = PreparedWriter(out, {"train": (6, 8, 8, 1), "val": (2, 8, 8, 1), "test": (3, 8, 8, 1)})
    for a in w.arrays.values():
        a[:] = 7
    w.finish({"likelihood": "dmol"})
    return out


def test_missing_split_names_the_file_and_the_stage(tmp_path):
    out = prepared(tmp_path)
    (out / "val.npy").unlink()
    p = Prepared.open(out)
    assert p.split("train").shape == (6, 8, 8, 1)
    with pytest.raises(DataError, match=rf"^{out}/val\.npy: missing; expected the val split written by the prepare "
                                        r"stage — rerun prepare$"):
        p.split("val")


def test_truncated_split_is_a_data_error(tmp_path):
    out = prepared(tmp_path)
    truncate(out / "train.npy", 0.9)
    with pytest.raises(DataError, match=rf"^{out}/train\.npy: not a readable \.npy array \(.+\); expected the train "
                                        r"split written by the prepare stage — rerun prepare$"):
        Prepared.open(out).split("train")
    (out / "test.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=r"test\.npy: not a readable \.npy array"):
        Prepared.open(out).split("test")


def test_missing_or_invalid_prepared_folder_and_meta(tmp_path):
    with pytest.raises(DataError, match=r"nowhere: missing; expected the prepared folder written by the prepare stage"):
        Prepared.open(tmp_path / "nowhere")
    out = prepared(tmp_path)
    (out / "meta.json").write_text('{"counts": {"train": 6')
    with pytest.raises(DataError, match=r"digits/meta\.json: not valid JSON \(JSONDecodeError: .+\); expected the "
                                        r"meta\.json written by the prepare stage — rerun prepare"):
        Prepared.open(out)
    (out / "meta.json").write_text('{"counts": {}}')
    with pytest.raises(DataError, match=r"meta\.json: missing keys shape;"):
        Prepared.open(out)
    (out / "meta.json").unlink()
    with pytest.raises(DataError, match=r"meta\.json: missing; expected the meta\.json written by the prepare stage"):
        Prepared.open(out)


# ---------------------------------------------------------------- fetch
def raw_decl(sha):
    return {"obtain": None, "files": {"digits.csv.gz": {"sha256": sha, "md5": None, "urls": None, "package": None,
                                                        "role": "all"}}}


def test_fetch_copies_rather_than_hard_links(tmp_path):
    inbox, out = tmp_path / "downloads", tmp_path / "raw"
    inbox.mkdir()
    src = inbox / "digits.csv.gz"
    src.write_bytes(b"the verified bytes")
    sha = hashlib.sha256(b"the verified bytes").hexdigest()
    rec = fetch_raw("digits", raw_decl(sha), inbox, out)
    assert rec["digits.csv.gz"]["sha256"] == sha
    assert os.stat(src).st_ino != os.stat(out / "digits.csv.gz").st_ino
    with open(src, "r+b") as f:                  # overwrite the downloaded file in place
        f.write(b"THE")
    assert (out / "digits.csv.gz").read_bytes() == b"the verified bytes"
    assert not [p for p in out.iterdir() if p.name != "digits.csv.gz"]     # no temporaries left


def test_fetch_copies_folders_with_the_folder_checksum(tmp_path):
    from mrgen.io import sha256_path
    inbox = tmp_path / "downloads"
    (inbox / "imgs/sub").mkdir(parents=True)
    (inbox / "imgs/a.jpg").write_bytes(b"a")
    (inbox / "imgs/sub/b.jpg").write_bytes(b"b")
    raw = {"obtain": None, "files": {"imgs": {"sha256": sha256_path(inbox / "imgs"), "md5": None, "urls": None,
                                              "package": None, "role": "all"}}}
    fetch_raw("t", raw, inbox, tmp_path / "raw")
    assert (tmp_path / "raw/imgs/sub/b.jpg").read_bytes() == b"b"
    assert os.stat(inbox / "imgs/a.jpg").st_ino != os.stat(tmp_path / "raw/imgs/a.jpg").st_ino


def test_fetch_checksum_mismatch_names_the_params_key(tmp_path):
    inbox, out = tmp_path / "downloads", tmp_path / "raw"
    inbox.mkdir()
    (inbox / "digits.csv.gz").write_bytes(b"another copy")
    found = hashlib.sha256(b"another copy").hexdigest()
    key = "presets.tiny.datasets.digits.raw"
    with pytest.raises(DataError) as e:
        fetch_raw("digits", raw_decl("0" * 64), inbox, out, params_key=key)
    msg = str(e.value)
    assert msg.startswith(f"{inbox}/digits.csv.gz: wrong checksum: expected sha256 {'0' * 64}, found {found}")
    assert msg.endswith(f"; if this is a legitimate different copy, set {key}.files.digits.csv.gz.sha256: {found} "
                        f"in params.yaml")
    assert "\n" not in msg and not (out / "digits.csv.gz").exists() and not list(out.iterdir())


def test_a_raw_gzip_with_flipped_bytes_is_one_line(tmp_path):
    """Bytes flipped inside the compressed stream (zlib.error, not OSError) name the file."""
    import gzip

    from mrgen.data.sources import prepare_dataset
    raw = tmp_path / "raw"
    raw.mkdir()
    data = bytearray(gzip.compress(("0," * 64 + "1\n").encode() * 200))
    for i in range(40, 60):
        data[i] ^= 0xFF
    (raw / "digits.csv.gz").write_bytes(bytes(data))
    ds = {"source": "sklearn_digits", "raw": {"files": {"digits.csv.gz": {"role": "all"}}}, "image_size": 8,
          "channels": 1, "likelihood": "bernoulli", "split": {"method": "permutation", "val": 10, "test": 10, "seed": 0}}
    with pytest.raises(DataError, match=r"digits\.csv\.gz: expected a gzip CSV of 65 numbers per row"):
        prepare_dataset("digits", ds, raw, tmp_path / "out")
