"""The real tiny DAG under both engines: each builds all of it once, from an empty copy, at smoke scale and
at the same time (the conftest starts both when the session begins), and the two builds must hold the same
numbers. Hand-over between them, incremental reruns and resume after a kill work on copies of the Snakemake
build. tests/test_dag.py proves both engines run the same commands on the same inputs and outputs; these
tests show each engine really runs them. The full-scale main job is the committed results
(tests/test_results_fresh.py audits them, checks their claims and reruns one target from the raw bytes)."""
import json
import os
import signal
import subprocess
import time

import pytest
import torch
import yaml
from conftest import SMK, commit, env, sh

from mrgen.config.spec import load
from mrgen.registry import KINDS, stages

pytestmark = pytest.mark.slow


def _dotted(tree, key):
    for part in key.split("."):
        tree = tree[part]
    return tree


def to_run(repo):
    """Snakemake's dry run: the set of rules it would execute."""
    out = sh(f"{SMK} -n", repo).stdout
    if "Nothing to be done" in out:
        return set()
    return {line.split()[0] for line in out.split("Job stats:")[1].split("total")[0].splitlines()[3:] if line.strip()} - {"all"}


def dvc_changed(repo):
    out = sh("dvc status --json dvc.yaml", repo).stdout
    return set(json.loads(out))


def test_snakemake_run_then_dvc_commit_is_clean(smk_built):
    assert "Data and pipelines are up to date" in sh("dvc status dvc.yaml", smk_built).stdout
    assert to_run(smk_built) == set()
    table = (smk_built / "results/tiny/tables/f4.md").read_text()
    assert "tiny scale" in table and "digits-r20" in table
    w1 = (smk_built / "results/tiny/tables/w1.md").read_text()
    assert all(m in w1 for m in ("sgm", "wsgm", "wmgm")) and "351,005,205" in w1     # paper-scale WSGM beside ours
    fid = json.loads((smk_built / "results/tiny/metrics/wmgm-photos-n4/fid.json").read_text())
    n = load(smk_built / "params.yaml", preset="tiny").p["wavelet"]["samples"]      # smoke scale: 12
    assert fid["fid"] > 0 and fid["weights"].startswith("clean-fid clean mode") and fid["n_samples"] == n
    assert len(list((smk_built / "results/tiny/samples/wmgm-photos-n4").glob("*.png"))) == n
    rec = json.loads((smk_built / "models/tiny/digits-x1/provenance.json").read_text())
    assert rec["git"]["commit"] and rec["inputs"]["data/tiny/prepared/digits"] and rec["environment"]["lock_sha256"]
    spec = load(smk_built / "params.yaml")                   # what DVC read is what the stages read
    for st in stages(spec):
        if st.params:
            mine = json.loads((smk_built / st.params_file).read_text())
            assert {k: _dotted(mine, k) for k in st.params} == {k: _dotted(spec.written, k) for k in st.params}


def test_dvc_repro_then_snakemake_has_nothing_to_do(dvc_built):
    assert "Data and pipelines are up to date" in sh("dvc status dvc.yaml", dvc_built).stdout
    assert to_run(dvc_built) == set()


def test_dvc_built_every_stage_the_registry_declares(dvc_built, smk_built):
    """DVC's build and Snakemake's (both at smoke scale) made every file the registry declares."""
    for repo in (dvc_built, smk_built):
        spec = load(repo / "params.yaml")
        missing = [o.path for st in stages(spec) for o in st.outs if not (repo / o.path).exists()]
        assert missing == [], repo
    lock = yaml.safe_load((dvc_built / "dvc.lock").read_text())["stages"]
    assert set(lock) == {f"{st.kind}-{st.name}" for st in stages(load(dvc_built / "params.yaml"))}
    nll = json.loads((dvc_built / "results/tiny/metrics/digits-r20/nll.json").read_text())
    assert nll["train_steps"] == 20 and nll["test_iw"]["k"] == 4                     # smoke scale


# wall-clock figures, which two runs of one command may disagree on
WALL_CLOCK = ("timing.json",)


def _same(a, b) -> bool:
    if a.is_dir():
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp")
        return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()
                               and p.name != ".snakemake_timestamp") and all(_same(a / f, b / f) for f in files)
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix == ".pt":                                  # a checkpoint: the same tensors, whatever the zip
        x, y = (torch.load(p, weights_only=True) for p in (a, b))
        return x["step"] == y["step"] and x["state_dict"].keys() == y["state_dict"].keys() and all(
            torch.equal(x["state_dict"][k], y["state_dict"][k]) for k in x["state_dict"])
    if a.suffix == ".json":
        return json.loads(a.read_text()) == json.loads(b.read_text())
    return False


def test_both_engines_computed_the_same_numbers(dvc_built, smk_built):
    """The same commands on the same inputs: every weight, sample, NLL, state trace and parameter count the
    two builds made is the same, bit for bit (tables, figures and the page only arrange them; timings are
    wall clock). The FID reference and the wavelet statistics reduce over threads: equal only because every
    stage computes with its declared cpus under either engine (mrgen.stage.pin_threads)."""
    spec = load(smk_built / "params.yaml")
    compared, differ = 0, []
    for st in stages(spec, skip=("params", "code", "table", "figure", "report")):
        for o in st.outs[:-1]:
            if o.path.endswith(WALL_CLOCK):
                continue
            compared += 1
            if not _same(dvc_built / o.path, smk_built / o.path):
                differ.append(f"{st.id}: {o.path}")
    assert compared > 100 and differ == [], differ


def _edit(path, text):
    path.write_text(path.read_text() + text)


def test_only_the_figure_reruns_after_a_figure_code_or_param_change(smk_copy):
    repo = smk_copy
    _edit(repo / "src/mrgen/report/figures.py", "\n# a comment that changes the figure code\n")
    spec = load(repo / "params.yaml")
    figures = {f"figure-{e}" for e in KINDS["figure"].instances(spec)}
    assert {"figure-f4", "figure-w4", "figure-th2"} <= figures
    assert dvc_changed(repo) == {"code-tiny"}              # DVC: a source file changed; repro refreshes the code files first
    assert to_run(repo) == {"code", "figure", "report"}    # Snakemake: the report reads the figures (by mtime) ...
    assert dvc_changed(repo) == figures | {"code-tiny"}    # ... and it refreshed them while planning
    out = sh("dvc repro", repo).stdout                     # DVC: the report too, if a figure's bytes changed
    report = "Running stage 'report-tiny'" in out
    assert all(f"Running stage '{f}'" in out for f in figures | {"code-tiny"})
    assert out.count("Running stage") == len(figures) + 1 + report
    sh(f"{SMK} --touch", repo)   # DVC rewrote the figure: tell Snakemake

    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("figure: {width: 6.4, height: 3.8, dpi: 150}",
                                                 "figure: {width: 6.4, height: 3.8, dpi: 120}"))
    assert dvc_changed(repo) == {"params-tiny"}            # DVC: params.yaml changed; repro refreshes the files first
    assert to_run(repo) == {"params", "figure", "report"}  # Snakemake refreshed the files while planning ...
    assert dvc_changed(repo) == {"params-tiny", "figure-f4"}       # ... so DVC now sees which stage reads the key
    sh(SMK, repo)
    commit(repo)
    assert to_run(repo) == set() and dvc_changed(repo) == set()


def test_a_params_edit_reruns_under_dvc_only_what_reads_the_key(smk_copy):
    repo = smk_copy
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("figure: {width: 6.4, height: 3.8, dpi: 150}",
                                                 "figure: {width: 6.4, height: 3.8, dpi: 100}"))
    out = sh("dvc repro dvc.yaml", repo).stdout
    assert out.count("Running stage") == 3, out            # the params files, the figure, the report showing it
    assert all(f"Running stage '{s}'" in out for s in ("params-tiny", "figure-f4", "report-tiny")), out
    assert dvc_changed(repo) == set()


def test_a_model_code_change_reruns_training(smk_copy):
    repo = smk_copy
    _edit(repo / "src/mrgen/models/hvae.py", "\n# a comment that changes the model code\n")
    assert {"train", "evaluate", "describe", "table", "figure"} <= to_run(repo)
    changed = dvc_changed(repo)
    assert {f"train-digits-{v}" for v in ("x1", "x4", "r20")} <= changed
    assert "prepare-digits" not in changed


def test_training_resumes_after_being_killed(smk_copy):
    repo = smk_copy
    params = repo / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    recipe = raw["presets"]["tiny"]["training"]["tiny"]
    built = recipe["iters"]                                # what the build trained (smoke scale)
    recipe.update(iters=120, ckpt_every=40)
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    cmd = ["mrgen", "train", "--preset", "tiny", "digits-x1"]
    p = subprocess.Popen(cmd, cwd=repo, env=env(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    latest = repo / "work/tiny/digits-x1/latest.pt"
    deadline = time.time() + 300
    while not latest.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert latest.exists() and p.poll() is None, "no checkpoint appeared before the run ended"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    ema = repo / "models/tiny/digits-x1/ema.pt"
    assert torch.load(ema, weights_only=True)["step"] == built                # the built model is untouched
    step = torch.load(latest, weights_only=True)["step"]
    assert 0 < step < 120
    r = sh(cmd, repo)
    assert f"resuming from {latest} at step {step}" in r.stderr
    resumed = torch.load(ema, weights_only=True)
    assert resumed["step"] == 120 and not latest.exists()
    # the resumed run is the uninterrupted run, bit for bit
    sh(cmd, repo)
    fresh = torch.load(ema, weights_only=True)
    assert all(torch.equal(resumed["state_dict"][k], fresh["state_dict"][k]) for k in fresh["state_dict"])
