"""Scheduler settings without a cluster: the site file merged key by key over params.yaml's resources,
the Slurm executor's resources made from them, one line for a bad site file, and `mrgen plan`."""
from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT, env

from mrgen.cluster import load_site, merge, slurm_extra, snakemake_resources
from mrgen.config.schema import Resources
from mrgen.config.spec import SpecError, load
from mrgen.dag import SnakemakeDAG
from mrgen.registry import KINDS

KIND_NAMES = frozenset(KINDS)


def site(tmp_path, text: str | None):
    f = tmp_path / "site.yaml"
    if text is not None:                                 # None: a site file named but absent
        f.write_text(text)
    return load_site(f, KIND_NAMES)


def test_a_partial_override_keeps_every_other_key(tmp_path):
    s = site(tmp_path, "default: {account: lab, partition: gpu}\nkinds:\n  train: {runtime: 60, gpu_type: a100}\n"
                       "presets:\n  paper:\n    kinds:\n      train: {qos: long}\n")
    declared = Resources(cpus=8, mem_mb=32000, runtime=4320, gpus=4)
    got = merge(declared, s, "paper", "train", recipe_gpus=True)
    assert got == Resources(cpus=8, mem_mb=32000, runtime=60, gpus=4, partition="gpu", account="lab", qos="long",
                            gpu_type="a100")
    assert merge(declared, s, "tiny", "train", recipe_gpus=True).qos is None       # another preset: not applied


def test_the_paper_dag_takes_the_site_file(tmp_path):
    s = site(tmp_path, "default: {partition: gpu}\nkinds:\n  prepare: {partition: cpu, mem_mb: 64000}\n")
    dag = SnakemakeDAG(load(preset="paper"), s)
    prep = next(r for (k, _), r in dag.jobs.items() if k == "prepare")
    train = next(r for (k, _), r in dag.jobs.items() if k == "train")
    assert (prep.partition, prep.mem_mb, prep.cpus) == ("cpu", 64000, 8)            # cpus still from params
    assert (train.partition, train.mem_mb) == ("gpu", 32000)


def test_slurm_resources_name_only_what_is_set():
    r = snakemake_resources(Resources(cpus=4, mem_mb=8000, runtime=90, gpus=2, gpu_type="h100", qos="normal",
                                      constraint="a100|h100"), resumable=True)
    assert r == {"runtime": 90, "mem_mb": 8000, "cpus_per_task": 4, "gpu": 2, "nodes": 1, "gpu_model": "h100",
                 "slurm_extra": "--open-mode=append --signal=TERM@120", "qos": "normal", "constraint": "a100|h100"}
    plain = snakemake_resources(Resources(gpu_type="h100"), resumable=False)
    assert plain["gpu_model"] == "" and "qos" not in plain and "slurm_partition" not in plain
    assert slurm_extra(Resources(runtime=1), resumable=True) == "--open-mode=append --signal=TERM@15"


@pytest.mark.parametrize("text, line", [
    ("kinds:\n  trian: {runtime: 5}\n", "kinds.trian: expected a stage kind, one of"),
    ("default: {partition: 'gpu; rm -rf /'}\n", "default.partition: String should match pattern"),
    ("kinds:\n  train: {gpus: 2}\n", "kinds.train.gpus: train runs as many DDP workers"),
    ("default: {runtime: 0}\n", "default.runtime: Input should be greater than or equal to 1"),
    ("default: {nodes: 2}\n", "default.nodes: unknown key"),
    ("- a list\n", "expected a mapping at the top level"),
    (None, "site file not found"),
    ("default: {cpus: 2}\ndefault: {cpus: 4}\n", "duplicate key 'default'"),
])
def test_a_bad_site_file_is_one_line(tmp_path, text, line):
    with pytest.raises(SpecError) as e:
        SnakemakeDAG(load(preset="paper"), site(tmp_path, text))
    assert line in str(e.value) and "\n" not in str(e.value)


def test_snakemake_stops_on_a_bad_site_file_with_one_line(tmp_path):
    (tmp_path / "site.yaml").write_text("kinds:\n  train: {constraint: '$(touch pwned)'}\n")
    r = subprocess.run(["snakemake", "-n", "--config", f"site={tmp_path / 'site.yaml'}"], cwd=ROOT, env=env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "kinds.train.constraint: String should match pattern" in r.stderr
    assert "Traceback" not in r.stderr and not (ROOT / "pwned").exists()


def test_plan_counts_each_shared_stage_once():
    r = subprocess.run(["mrgen", "plan", "--preset", "tiny", "t1", "t2", "t2"], cwd=ROOT, env=env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in r.stdout.splitlines() if line.startswith("| ")}
    jobs = {k: int(v[0]) for k, v in rows.items() if k not in ("target",)}
    total = jobs.pop("**total (shared work once)**")
    assert list(jobs) == ["t1", "t2"] and max(jobs.values()) <= total < sum(jobs.values())   # digits-x4 etc. shared
    assert all("estimate" in v[-1] for v in rows.values() if v[0].strip() not in ("jobs", "---:"))


def test_plan_refuses_an_unknown_target_in_one_line():
    r = subprocess.run(["mrgen", "plan", "--preset", "tiny", "t9"], cwd=ROOT, env=env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no table or figure 't9'" in r.stderr


def test_plan_prefers_a_recorded_measurement_and_says_so():
    """A step time recorded by benchmarks/train_step.py --record for this model, GPU type and mode is used
    (scaled to the recipe's batch) and labelled measured; without one the FLOP-count estimate is."""
    from mrgen.plan import identity_key, mode, recipe, seconds_per_step
    from mrgen.registry import stage
    spec = load(preset="paper")
    st = stage(spec, "train", "t1-cifar10-vdvae")
    _, t = recipe(spec, st)
    measured = {identity_key(spec, st): {"H100": {mode(t): {"s_per_step": 0.5, "batch": t["batch_size"] * 2}}}}
    assert seconds_per_step(spec, st, "H100", measured) == (0.25, "measured")
    s, source = seconds_per_step(spec, st, "A100", measured)
    assert source == "estimate" and s > 0


@pytest.mark.parametrize("argv, mode", [
    (["--profile", "workflow/profiles/slurm"], "run"), (["-n", "--profile", "workflow/profiles/slurm"], "dry"),
    (["--unlock", "--profile", "workflow/profiles/slurm"], "other"), (["--touch"], "other"), (["--lint"], "other"),
    (["--dag"], "other"), (["--no-such-option"], "other"), (["--profile", "workflow/profiles/local"], "other"),
    (["-n", "--profile", "workflow/profiles/local"], "other"),
])
def test_only_a_run_waits_for_an_earlier_controllers_jobs(argv, mode):
    from mrgen.cluster import snakemake_mode
    assert snakemake_mode(argv) == mode
