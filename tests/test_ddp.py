"""DDP on CPU with gloo: 2 processes x batch B train exactly like 1 process x batch 2B."""
import json
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, sh

pytestmark = pytest.mark.slow          # each test trains under torchrun: several torch processes at once


def run_workers(tmp_path, nproc, batch, family="hvae"):
    out = tmp_path / f"{family}-w{nproc}" / "out.json"
    out.parent.mkdir()
    sh([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        str(ROOT / "tests/ddp_worker.py"), str(out), str(batch), family], tmp_path, timeout=600)
    return json.loads(out.read_text()), torch.load(out.with_suffix(".pt"), weights_only=True)


def test_two_gloo_processes_match_one_process_over_the_same_global_batch(tmp_path):
    one, ema1 = run_workers(tmp_path, 1, 8)
    two, ema2 = run_workers(tmp_path, 2, 4)
    assert one["world"] == 1 and two["world"] == 2
    l1 = [r["elbo"] for r in one["curve"]]
    l2 = [r["elbo"] for r in two["curve"]]
    assert len(l1) == len(l2) == 6
    assert l1 == pytest.approx(l2, rel=1e-5)                    # the global batch's loss, step by step
    assert l1[-1] < l1[0]                                       # and it learned something
    # Adam divides by sqrt(v): summation-order noise (~1e-7) on near-zero gradients shows up as ~1e-6 in weights
    worst = max((ema1[k] - ema2[k]).abs().max().item() for k in ema1 if ema1[k].is_floating_point())
    assert all(torch.allclose(ema1[k], ema2[k], rtol=1e-4, atol=1e-5) for k in ema1), worst
    assert [r["grad_norm"] for r in one["curve"]] == pytest.approx([r["grad_norm"] for r in two["curve"]], rel=1e-4)


def test_a_score_part_under_two_gloo_processes_matches_one_process(tmp_path):
    """The same loop's DDP path for the wavelet family: 2 x 4 images train like 1 x 8 (noise and time fixed)."""
    one, ema1 = run_workers(tmp_path, 1, 8, "full")
    two, ema2 = run_workers(tmp_path, 2, 4, "full")
    assert two["world"] == 2 and len(one["curve"]) == len(two["curve"]) == 6
    assert [r["loss"] for r in one["curve"]] == pytest.approx([r["loss"] for r in two["curve"]], rel=1e-5)
    assert all(torch.allclose(ema1[k], ema2[k], rtol=1e-4, atol=1e-5) for k in ema1 if ema1[k].is_floating_point())


def test_the_gan_trains_under_two_gloo_processes(tmp_path):
    two, _ = run_workers(tmp_path, 2, 4, "gan")
    assert two["world"] == 2 and len(two["curve"]) == 6
    assert all(np.isfinite(r["loss_g"]) and np.isfinite(r["loss_d"]) for r in two["curve"])


def test_the_train_stage_relaunches_itself_as_torchrun_workers(repo):
    """training.gpus: 2 -> the unchanged stage command runs 2 gloo workers; rank 0 alone writes."""
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("iters: 250", "iters: 20\n        gpus: 2"))
    sh("mrgen fetch --preset tiny digits && mrgen prepare --preset tiny digits", repo)
    r = sh("mrgen train --preset tiny digits-x1", repo)
    assert "launching 2 processes" in r.stderr
    rec = json.loads((repo / "models/tiny/digits-x1/provenance.json").read_text())
    assert rec["world_size"] == 2 and rec["global_batch"] == 64 and rec["steps"] == 20
    assert torch.load(repo / "models/tiny/digits-x1/ema.pt", weights_only=True)["step"] == 20
    assert not list((repo / "work/tiny/.staging").glob("*"))          # no rank left a scratch folder behind
