"""The real tiny DAG under both engines: hand-over between them, incremental reruns, resume after kill."""
import json
import os
import signal
import subprocess
import time

import pytest
import torch
from conftest import copy_repo, env, sh

from mrgen.config.spec import load
from mrgen.registry import KINDS

pytestmark = pytest.mark.slow
SMK = "snakemake --profile workflow/profiles/local"


@pytest.fixture(scope="module")
def smk_repo(tmp_path_factory):
    """A copy where Snakemake ran the whole tiny DAG and `dvc commit` recorded it."""
    repo = copy_repo(tmp_path_factory.mktemp("smk") / "repo")
    sh("dvc init -q -f", repo)
    sh(SMK, repo)
    commit(repo)
    return repo


def commit(repo):
    """Record a Snakemake run in dvc.lock, then re-stamp: `dvc commit` copies cached outputs back into the
    workspace with new mtimes, and Snakemake only keeps checksums of small files (README, Everyday use)."""
    sh("dvc commit -f -q dvc.yaml", repo)
    sh(f"{SMK} --touch", repo)


def to_run(repo):
    """Snakemake's dry run: the set of rules it would execute."""
    out = sh(f"{SMK} -n", repo).stdout
    if "Nothing to be done" in out:
        return set()
    return {line.split()[0] for line in out.split("Job stats:")[1].split("total")[0].splitlines()[3:] if line.strip()} - {"all"}


def dvc_changed(repo):
    out = sh("dvc status --json dvc.yaml", repo).stdout
    return set(json.loads(out))


def test_snakemake_run_then_dvc_commit_is_clean(smk_repo):
    assert "Data and pipelines are up to date" in sh("dvc status dvc.yaml", smk_repo).stdout
    assert to_run(smk_repo) == set()
    table = (smk_repo / "results/tiny/tables/f4.md").read_text()
    assert "tiny scale" in table and "digits-r20" in table
    w1 = (smk_repo / "results/tiny/tables/w1.md").read_text()
    assert all(m in w1 for m in ("sgm", "wsgm", "wmgm")) and "351,005,205" in w1     # paper-scale WSGM beside ours
    fid = json.loads((smk_repo / "results/tiny/metrics/wmgm-photos-n4/fid.json").read_text())
    assert fid["fid"] > 0 and fid["weights"].startswith("clean-fid clean mode") and fid["n_samples"] == 48
    assert len(list((smk_repo / "results/tiny/samples/wmgm-photos-n4").glob("*.png"))) == 48
    rec = json.loads((smk_repo / "models/tiny/digits-x1/provenance.json").read_text())
    assert rec["git"]["commit"] and rec["inputs"]["data/tiny/prepared/digits"] and rec["environment"]["lock_sha256"]


def test_dvc_repro_then_snakemake_has_nothing_to_do(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    sh("dvc init -q -f", repo)
    sh("dvc repro -q", repo)
    assert "Data and pipelines are up to date" in sh("dvc status dvc.yaml", repo).stdout
    assert to_run(repo) == set()


def _edit(path, text):
    path.write_text(path.read_text() + text)


def test_only_the_figure_reruns_after_a_figure_code_or_param_change(smk_repo):
    _edit(smk_repo / "src/mrgen/report/figures.py", "\n# a comment that changes the figure code\n")
    spec = load(smk_repo / "params.yaml")
    figures = {f"figure-{e}" for e in KINDS["figure"].instances(spec)}
    assert {"figure-f4", "figure-w4", "figure-th2"} <= figures
    assert to_run(smk_repo) == {"figure"}
    assert dvc_changed(smk_repo) == figures
    out = sh("dvc repro", smk_repo).stdout
    assert all(f"Running stage '{f}'" in out for f in figures) and out.count("Running stage") == len(figures)
    sh("snakemake --profile workflow/profiles/local --touch", smk_repo)   # DVC rewrote the figure: tell Snakemake

    params = smk_repo / "params.yaml"
    params.write_text(params.read_text().replace("figure: {width: 6.4, height: 3.8, dpi: 150}",
                                                 "figure: {width: 6.4, height: 3.8, dpi: 120}"))
    assert to_run(smk_repo) == {"figure"}
    assert dvc_changed(smk_repo) == {"figure-f4"}
    sh(SMK, smk_repo)
    commit(smk_repo)
    assert to_run(smk_repo) == set() and dvc_changed(smk_repo) == set()


def test_a_model_code_change_reruns_training(smk_repo):
    _edit(smk_repo / "src/mrgen/models/hvae.py", "\n# a comment that changes the model code\n")
    assert {"train", "evaluate", "describe", "table", "figure"} <= to_run(smk_repo)
    changed = dvc_changed(smk_repo)
    assert {f"train-digits-{v}" for v in ("x1", "x4", "r20")} <= changed
    assert "prepare-digits" not in changed


def test_training_resumes_after_being_killed(repo):
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("iters: 250", "iters: 120").replace("ckpt_every: 100", "ckpt_every: 40"))
    sh("mrgen fetch --preset tiny digits && mrgen prepare --preset tiny digits", repo)
    cmd = ["mrgen", "train", "--preset", "tiny", "digits-x1"]
    p = subprocess.Popen(cmd, cwd=repo, env=env(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    latest = repo / "work/tiny/digits-x1/latest.pt"
    deadline = time.time() + 300
    while not latest.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert latest.exists() and p.poll() is None, "no checkpoint appeared before the run ended"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (repo / "models/tiny/digits-x1/ema.pt").exists()          # nothing half-written
    step = torch.load(latest, weights_only=True)["step"]
    assert 0 < step < 120
    r = sh(cmd, repo)
    assert f"resuming from {latest} at step {step}" in r.stderr
    resumed = torch.load(repo / "models/tiny/digits-x1/ema.pt", weights_only=True)
    assert resumed["step"] == 120 and not latest.exists()
    # the resumed run is the uninterrupted run, bit for bit
    sh(cmd, repo)
    fresh = torch.load(repo / "models/tiny/digits-x1/ema.pt", weights_only=True)
    assert all(torch.equal(resumed["state_dict"][k], fresh["state_dict"][k]) for k in fresh["state_dict"])
