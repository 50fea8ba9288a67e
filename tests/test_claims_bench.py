"""benchmarks/claims.py: how it sets a copy's steps and seeds, and how it lays out the verdicts (its builds
are minutes long; the benchmark itself is run by hand, README "Benchmarks")."""
from __future__ import annotations

import importlib.util
import shutil
import sys

from mrgen.config.spec import load
from mrgen.paths import ROOT


def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("claims_bench", ROOT / "benchmarks" / "claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configure_sets_steps_warmup_and_seeds_of_the_named_runs_only(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    before = load(ROOT / "params.yaml", preset="tiny").p
    bench().configure(tmp_path, ["digits-x1", "photos-vdvae"], iters=150, seed=3)
    text = (tmp_path / "params.yaml").read_text()
    after = load(tmp_path / "params.yaml", preset="tiny").p
    t0, t1 = before["training"]["tiny"], after["training"]["tiny"]
    assert (t1["iters"], t1["warmup_iters"]) == (150, round(t0["warmup_iters"] * 150 / t0["iters"]))
    assert {k: v for k, v in t1.items() if k not in ("iters", "warmup_iters")} == \
        {k: v for k, v in t0.items() if k not in ("iters", "warmup_iters")}
    assert after["runs"]["digits-x1"]["seed"] == after["runs"]["photos-vdvae"]["seed"] == 3
    assert after["runs"]["digits-x2"] == before["runs"]["digits-x2"]
    assert after["wavelet_training"] == before["wavelet_training"]
    assert "# ---- wavelet paper" in text                      # a round trip: the comments stay


def test_report_lines_up_verdicts_times_and_the_claims_that_differ(capsys):
    claim = {"target": "f4", "panel": "digits", "claim": "NLL does not rise with K"}
    steady = {"target": "t1", "panel": "digits", "claim": "ws <= vdvae"}
    bench().report({
        "250/s0": (100.0, [{**claim, "ours": "yes (x1 29.0 → r2 28.9)"}, {**steady, "ours": "yes (28.5 < 29.2)"}]),
        "250/s1": (50.0, [{**claim, "ours": "no (x1 29.0 → r2 29.1)"}, {**steady, "ours": "yes (28.6 < 29.1)"}]),
    })
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-2:] == ["yes", "no"] and out[2].split()[-2:] == ["yes", "yes"]
    assert out[3].split()[-2:] == ["100", "50"] and out[4].split()[-2:] == ["1.00", "0.50"]
    assert "f4 | digits | NLL does not rise with K" in out[-3] and "no (x1 29.0 → r2 29.1)" in out[-1]
    assert not any("ws <= vdvae" in line for line in out[5:])
