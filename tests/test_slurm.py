"""The pipeline on a real Slurm cluster (scripts/slurm_up.sh: slurmctld, slurmd, munge, two fake GPUs):
`snakemake --profile workflow/profiles/slurm` runs an HVAE target and a wavelet target through sbatch,
each job's request is what the registry and the site file declare, outputs equal a local run's byte for
byte, a time limit and a requeue end in the checkpoint of an uninterrupted run, and a deterministic
failure is reported once, with its log, leaving the previous results in place."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import SHORT, SLURM_ARGS, SLURM_SITE, SLURM_TARGETS, env, long_run, need_slurm, sh

from mrgen.cluster import load_site
from mrgen.config.spec import load
from mrgen.dag import SnakemakeDAG
from mrgen.registry import KINDS

pytestmark = pytest.mark.slow


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def submitted(output: str) -> dict[str, str]:
    """Slurm job id -> 'kind@name', from Snakemake's output."""
    found = re.findall(r"submitted with SLURM jobid (\d+) \(log: .*?/slurm_logs/rule_(\w+)/([^/]+)/", output)
    return {jid: f"{kind}@{name}" for jid, kind, name in found}


def show_job(jid: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", jid], capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def slurm_time(minutes: int) -> str:
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:00"


def records(repo: Path) -> dict[str, dict]:
    """Every provenance record under the preset's outputs: 'kind@name' -> record."""
    out = {}
    for f in [*repo.glob("models/tiny/**/*provenance.json"), *repo.glob("results/tiny/**/*provenance.json"),
              *repo.glob("data/tiny/**/*.provenance.json"), *repo.glob("data/tiny/raw/*.provenance.json")]:
        rec = json.loads(f.read_text())
        out[f"{rec['stage']}@{rec['instance']}"] = rec
    return out


# ---------------------------------------------------------------- the slice through sbatch
def test_every_job_went_through_sbatch(slurm_built):
    log = (slurm_built.parent / "build.log").read_text()
    jobs = submitted(log)
    recs = records(slurm_built)
    remote = {sid for sid in recs if not KINDS[sid.split("@")[0]].local}
    assert sorted(jobs.values()) == sorted(remote), "each non-local stage is one sbatch job"
    for jid, sid in jobs.items():
        job = show_job(jid)                                   # Slurm knows the job (MinJobAge keeps it)
        assert job["JobState"] == "COMPLETED" and job["Comment"] == f"rule_{sid.replace('@', '_wildcards_')}"
        assert recs[sid]["environment"]["slurm_job_id"] == jid, sid   # and the stage ran inside that job
    for sid, rec in recs.items():
        if sid not in remote:
            assert rec["environment"]["slurm_job_id"] is None, f"{sid} is cheap: it runs on the submit host"


def test_requests_match_the_declaration(slurm_built):
    """scontrol's view of every job = params.yaml's resources merged with the site file, key by key."""
    log = (slurm_built.parent / "build.log").read_text()
    site = load_site(slurm_built / "site.yaml")
    dag = SnakemakeDAG(load(slurm_built / "params.yaml", "tiny"), site)
    rows = []
    for jid, sid in submitted(log).items():
        kind, name = sid.split("@")
        want, job = dag.jobs[(kind, name)], show_job(jid)
        gres = (f"gres:gpu:{want.gpu_type + ':' if want.gpu_type else ''}{want.gpus}" if want.gpus else None)
        got = {"cpus": int(job["NumCPUs"]), "mem": job["MinMemoryNode"], "time": job["TimeLimit"],
               "nodes": job["NumNodes"], "partition": job["Partition"], "account": job["Account"],
               "features": job["Features"], "gres": job.get("TresPerJob")}
        assert got == {"cpus": want.cpus, "mem": f"{want.mem_mb}M", "time": slurm_time(want.runtime), "nodes": "1",
                       "partition": want.partition or "main", "account": want.account or "(null)",
                       "features": want.constraint or "(null)", "gres": gres}, sid
        rows.append(sid)
    # the site's partial overrides kept the other declared keys: train's memory from the site default,
    # its CPUs from params; the two-worker run asked for two GPUs on one node
    assert dag.jobs[("train", "digits-x4")].mem_mb == SLURM_SITE["default"]["mem_mb"]
    assert dag.jobs[("train", "digits-x4-normalised")].gpus == 2
    assert {"train@digits-x4-normalised", "evaluate@digits-x4", "fid@sgm-photos-n4"} <= set(rows)


def test_two_gpu_training_ran_two_workers(slurm_built):
    rec = json.loads((slurm_built / "models/tiny/digits-x4-normalised/provenance.json").read_text())
    assert rec["world_size"] == 2 and rec["global_batch"] == 2 * rec["params"]["presets.tiny.training.ddp2"]["batch_size"]


DETERMINISTIC = [
    "models/tiny/digits-x4/ema.pt", "models/tiny/digits-x4/model.pt", "models/tiny/digits-x4/curve.csv",
    "models/tiny/digits-x4-normalised/ema.pt", "results/tiny/metrics/digits-x4/nll.json",
    "results/tiny/metrics/digits-x4-normalised/nll.json", "results/tiny/tables/t2.md", "results/tiny/tables/t2.csv",
    "results/tiny/tables/t2.tex", "models/tiny/sgm-photos-full/ema.pt", "results/tiny/metrics/sgm-photos-n4/fid.json",
    "results/tiny/metrics/fidref/photos.npz",
]


def test_outputs_equal_a_local_run(slurm_built, slurm_local):
    for f in DETERMINISTIC:
        assert sha(slurm_built / f) == sha(slurm_local / f), f
    samples = sorted(p.name for p in (slurm_local / "results/tiny/samples/sgm-photos-n4").iterdir())
    assert samples and all(sha(slurm_built / "results/tiny/samples/sgm-photos-n4" / s)
                           == sha(slurm_local / "results/tiny/samples/sgm-photos-n4" / s) for s in samples)


# ---------------------------------------------------------------- failures
def test_bad_input_fails_once_with_its_line_and_log_and_keeps_the_results(slurm_copy):
    """A corrupt checkpoint: evaluate is submitted once (not retried), Snakemake prints the stage's one line
    and the log path, and the committed nll.json stays as it was."""
    nll = slurm_copy / "results/tiny/metrics/digits-x4/nll.json"
    before = nll.read_bytes()
    (slurm_copy / "models/tiny/digits-x4/ema.pt").write_bytes(b"not a checkpoint")
    r = sh(f"timeout -k 10 600 snakemake results/tiny/tables/t2.md {SLURM_ARGS}", slurm_copy, check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert list(submitted(out).values()) == ["evaluate@digits-x4"], "a deterministic failure is not retried"
    assert "logs/tiny/evaluate/digits-x4.attempt.log" in out          # Snakemake names the log and shows it
    line = (slurm_copy / "logs/tiny/evaluate/digits-x4.attempt.log").read_text().strip().splitlines()[-1]
    assert line.startswith("error: ") and "ema.pt" in line and line in out, line
    history = (slurm_copy / "logs/tiny/evaluate/digits-x4.log").read_text()
    assert "Traceback" not in history and history.endswith(line + "\n")   # the earlier run's lines stay too
    assert nll.read_bytes() == before, "a failed job left the previous result in place"


# ---------------------------------------------------------------- time limits and requeues
def test_time_limit_checkpoints_and_the_retry_resumes(slurm_time_limit, uninterrupted):
    repo = slurm_time_limit
    out = (repo.parent / "build.log").read_text()
    jobs = [j for j, sid in submitted(out).items() if sid == "train@digits-x1"]
    assert len(jobs) >= 2, "the first job hit its time limit"
    log = (repo / "logs/tiny/train/digits-x1.log").read_text()
    assert "interrupted by SIGTERM" in log and "resuming from" in log      # both attempts, one log
    assert sha(repo / "models/tiny/digits-x1/ema.pt") == uninterrupted


def past_step_100(repo: Path) -> bool:
    """digits-x1's live curve (rewritten atomically at every log step) has a row past step 100. (Its
    progress bar in the log refreshes every 30 s: a short training may finish before it shows.)"""
    live = repo / "work/tiny/digits-x1/curve.csv"
    rows = list(csv.DictReader(live.read_text().splitlines())) if live.is_file() else []
    return bool(rows) and int(rows[-1]["step"]) >= 100


def interrupt_training(repo: Path, action) -> tuple[str, str, int]:
    """Run digits-x1's SHORT training through Slurm, call `action(job id)` once it is past step 100, and wait
    for Snakemake: (its output, the job id, its exit status)."""
    proc = subprocess.Popen(f"timeout -k 10 900 snakemake models/tiny/digits-x1/ema.pt {SLURM_ARGS}", shell=True,
                            cwd=repo, env=env(repo), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        while not past_step_100(repo):
            assert time.time() < deadline and proc.poll() is None, "training never started"
            time.sleep(1)
        queue = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k|%Z"], capture_output=True, text=True,
                               check=True).stdout        # this copy's job: a build may train digits-x1 meanwhile
        jid = next(i for i, name, cwd in (line.split("|") for line in queue.splitlines())
                   if name.endswith("rule_train_wildcards_digits-x1") and Path(cwd).resolve() == repo.resolve())
        action(jid)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    return out, jid, proc.returncode


def test_requeue_resumes_in_the_same_job(slurm_copy, uninterrupted_short):
    long_run(slurm_copy, 10, SHORT)

    def requeue(jid):
        subprocess.run(["scontrol", "requeue", jid], check=True)
        time.sleep(2)                                       # Slurm holds a requeued job ~2 min; release it now
        subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], check=True)
    out, jid, rc = interrupt_training(slurm_copy, requeue)
    assert rc == 0, out[-3000:]
    assert list(submitted(out).values()) == ["train@digits-x1"], "Snakemake waited for the requeued job"
    assert show_job(jid)["Restarts"] == "1"
    text = (slurm_copy / "logs/tiny/train/digits-x1.log").read_text()
    assert "interrupted by SIGTERM" in text and "resuming from" in text
    assert sha(slurm_copy / "models/tiny/digits-x1/ema.pt") == uninterrupted_short


def test_scancel_is_reported_and_the_retry_resumes(slurm_copy, uninterrupted_short):
    long_run(slurm_copy, 10, SHORT)
    out, jid, rc = interrupt_training(slurm_copy, lambda jid: subprocess.run(["scancel", jid], check=True))
    assert rc == 0, out[-3000:]
    assert re.search(rf"SLURM-job '{jid}' failed, SLURM status is: 'CANCELLED'", out), out[-3000:]
    assert list(submitted(out).values()) == ["train@digits-x1", "train@digits-x1"]
    text = (slurm_copy / "logs/tiny/train/digits-x1.log").read_text()
    assert "interrupted by SIGTERM" in text and "resuming from" in text
    assert sha(slurm_copy / "models/tiny/digits-x1/ema.pt") == uninterrupted_short


def test_cluster_tests_have_a_cluster():
    need_slurm()


# ---------------------------------------------------------------- DVC after a cluster run
def ran(repo: Path) -> list[str]:
    """DVC's names of the stages whose records this run wrote (what a partial cluster run commits)."""
    return sorted(f"{sid.replace('@', '-')}" for sid in records(repo))


def test_commit_push_and_pull_a_cluster_slice(slurm_copy, tmp_path):
    """After the sbatch run: `dvc commit` of exactly the stages that ran recomputes nothing and records
    what `dvc status` then finds clean; `dvc push` to a directory remote (the cluster's store); a second
    clone pulls it and both engines find nothing to do."""
    stages = ran(slurm_copy)
    sh(["dvc", "commit", "-f", "-q", *stages], slurm_copy)
    assert sh(["dvc", "status", "-q", *stages], slurm_copy, check=False).returncode == 0, "nothing to recompute"
    lock = yaml.safe_load((slurm_copy / "dvc.lock").read_text())["stages"]
    assert sorted(lock) == stages
    assert all(".snakemake_timestamp" not in json.dumps(v) for v in lock.values())
    store = tmp_path / "store"
    sh(["dvc", "remote", "add", "-d", "store", str(store)], slurm_copy)
    sh(["dvc", "push", "-q", *stages], slurm_copy)
    sh("git add -A && git -c user.email=t@t -c user.name=t commit -qm 'cluster run'", slurm_copy)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(slurm_copy), str(clone)], tmp_path)
    sh(["dvc", "pull", "-q", *stages], clone)
    assert sha(clone / "models/tiny/digits-x4/ema.pt") == sha(slurm_copy / "models/tiny/digits-x4/ema.pt")
    assert sh(["dvc", "status", "-q", *stages], clone, check=False).returncode == 0
    sh(f"snakemake {SLURM_TARGETS} --profile workflow/profiles/local --config preset=tiny site=site.yaml --touch", clone)
    dry = sh(f"snakemake {SLURM_TARGETS} --profile workflow/profiles/local --config preset=tiny site=site.yaml -n", clone)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-2000:]


# ---------------------------------------------------------------- the controller dies
def test_a_restarted_controller_waits_for_the_running_job(slurm_copy, uninterrupted):
    """Snakemake is killed while its training job runs; restarted, it finds that job in Slurm's queue and
    waits for it: the training is never submitted twice, and its result is the uninterrupted one."""
    long_run(slurm_copy, 10)
    cmd = f"snakemake models/tiny/digits-x1/ema.pt {SLURM_ARGS}"
    first = subprocess.Popen(cmd, shell=True, cwd=slurm_copy, env=env(slurm_copy), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 300
    while not past_step_100(slurm_copy):      # LONG steps: the job still runs while the controller restarts
        assert time.time() < deadline and first.poll() is None, "training never started"
        time.sleep(1)
    os.killpg(first.pid, signal.SIGKILL)                 # the controller dies; its Slurm job runs on
    out1, _ = first.communicate()
    [jid] = [j for j, sid in submitted(out1).items() if sid == "train@digits-x1"]
    sh(f"snakemake --unlock {SLURM_ARGS}", slurm_copy)
    r = sh(f"timeout -k 10 900 {cmd}", slurm_copy, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert f"Slurm job {jid} (train@digits-x1, RUNNING)" in out and "waiting for it" in out
    assert "train@digits-x1" not in submitted(out).values(), "the running training was not submitted again"
    assert show_job(jid)["JobState"] == "COMPLETED"
    assert sha(slurm_copy / "models/tiny/digits-x1/ema.pt") == uninterrupted
