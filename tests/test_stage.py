"""The stage contract (mrgen.stage): one lock per instance, one scratch folder per invocation, outputs and
record committed together (folders replaced atomically, old outputs back on failure), one line for every
bad input or full disk, signals leave nothing behind."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import env

import mrgen.provenance
import mrgen.stage
from mrgen.config.spec import load
from mrgen.registry import Out, Stage


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(mrgen.stage, "ROOT", tmp_path)
    monkeypatch.setattr(mrgen.provenance, "ROOT", tmp_path)
    return tmp_path


def folder_stage():
    """A stage with a folder output, a file output and its record."""
    return Stage("prepare", "toy", "tiny", "mrgen prepare --preset tiny toy", [],
                 [Out("data/tiny/prepared/toy", directory=True), Out("results/tiny/toy.json", cache=False),
                  Out("results/tiny/toy.provenance.json", cache=False)])


def write(ctx, version):
    d = ctx.out("data/tiny/prepared/toy")
    d.mkdir()
    (d / "train.npy").write_text(f"train {version}")
    (d / "meta.json").write_text(f"meta {version}")
    ctx.out("results/tiny/toy.json").write_text(json.dumps({"version": version}))


def run(root, body, stage=None):
    mrgen.stage.guarded(lambda: mrgen.stage.execute(load(), stage or folder_stage(), body))


def test_outputs_and_record_appear_together_and_replace_atomically(root):
    run(root, lambda ctx: write(ctx, 1))
    rec = json.loads((root / "results/tiny/toy.provenance.json").read_text())
    assert set(rec["outputs"]) == {"data/tiny/prepared/toy", "results/tiny/toy.json"}
    assert rec["git"]["code_changed"] is None or isinstance(rec["git"]["code_changed"], list)
    run(root, lambda ctx: write(ctx, 2))
    assert (root / "data/tiny/prepared/toy/train.npy").read_text() == "train 2"
    assert sorted(p.name for p in (root / "data/tiny/prepared/toy").iterdir()) == ["meta.json", "train.npy"]
    assert not list((root / "work/tiny/.staging").iterdir())


def test_a_failure_while_committing_puts_the_old_outputs_back(root, monkeypatch):
    run(root, lambda ctx: write(ctx, 1))
    real, calls = os.replace, []

    def flaky(src, dst):
        if str(dst).endswith("toy.json") and "staging" not in str(dst) and not calls:   # the first try only
            calls.append(dst)
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real(src, dst)
    monkeypatch.setattr(mrgen.stage.os, "replace", flaky)
    with pytest.raises(SystemExit) as e:
        run(root, lambda ctx: write(ctx, 2))
    assert e.value.code == 2
    monkeypatch.setattr(mrgen.stage.os, "replace", real)
    assert (root / "data/tiny/prepared/toy/train.npy").read_text() == "train 1"     # the old version, whole
    assert json.loads((root / "results/tiny/toy.json").read_text()) == {"version": 1}
    assert json.loads((root / "results/tiny/toy.provenance.json").read_text())["outputs"]
    assert not list((root / "work/tiny/.staging").iterdir())


def test_a_body_that_fails_leaves_outputs_untouched_and_no_scratch(root, capsys):
    run(root, lambda ctx: write(ctx, 1))

    def bad(ctx):
        write(ctx, 2)
        raise mrgen.stage.DataError("data/tiny/raw/toy/x.bin: truncated; expected 64 bytes, found 3")
    with pytest.raises(SystemExit) as e:
        run(root, bad)
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: data/tiny/raw/toy/x.bin: truncated; expected 64 bytes, found 3\n"
    assert (root / "data/tiny/prepared/toy/train.npy").read_text() == "train 1"
    assert not list((root / "work/tiny/.staging").iterdir())


def test_a_full_disk_is_one_line_and_commits_nothing(root, capsys):
    def full(ctx):
        raise OSError(errno.ENOSPC, "No space left on device", str(ctx.out("results/tiny/toy.json")))
    with pytest.raises(SystemExit) as e:
        run(root, full)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: ") and err.endswith("toy.json: no space left on device; free space and rerun "
                                                      "(nothing was committed)\n")
    assert not (root / "results/tiny/toy.json").exists() and not (root / "results/tiny/toy.provenance.json").exists()


def test_sigterm_unwinds_cleanly(root, capsys):
    def killed(ctx):
        write(ctx, 1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    with pytest.raises(SystemExit) as e:
        run(root, killed)
    assert e.value.code == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in capsys.readouterr().err
    assert not (root / "data/tiny/prepared/toy").exists() and not list((root / "work/tiny/.staging").iterdir())


def test_scratch_is_per_invocation_and_leftovers_of_dead_ones_are_cleared(root):
    seen = []
    leftover = root / "work/tiny/.staging/prepare-toy.99999.abc"
    leftover.mkdir(parents=True)
    (leftover / "half.npy").write_text("x")
    run(root, lambda ctx: (seen.append(ctx.staging), write(ctx, 1)))
    run(root, lambda ctx: (seen.append(ctx.staging), write(ctx, 2)))
    assert seen[0] != seen[1] and all(str(os.getpid()) in p.name for p in seen)
    assert not leftover.exists()


def test_a_second_invocation_of_a_running_instance_stops_with_one_line(root):
    lock = root / "work/tiny/.locks/prepare-toy.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", f"""
import fcntl, os, sys, time
fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, b"4242\\n", 0); print("held", flush=True); time.sleep(30)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run([sys.executable, "-c", f"""
import mrgen.stage, mrgen.provenance, pathlib
from mrgen.config.spec import load
from mrgen.registry import Out, Stage
mrgen.stage.ROOT = mrgen.provenance.ROOT = pathlib.Path({str(root)!r})
st = Stage("prepare", "toy", "tiny", "", [], [Out("results/tiny/toy.provenance.json", cache=False)])
mrgen.stage.guarded(lambda: mrgen.stage.execute(load(), st, lambda ctx: None))
"""], capture_output=True, text=True, env=env(), cwd=os.path.dirname(os.path.dirname(__file__)))
    finally:
        holder.kill()
    assert r.returncode == 2
    assert r.stderr == ("error: another invocation of this stage instance is running (pid 4242); "
                        "wait for it or stop it\n")


def test_a_run_named_like_shell_code_never_reaches_a_command(tmp_path):
    """`mrgen dag` refuses the spec in one line and writes nothing; no generated file carries the name."""
    from conftest import ROOT
    text = (ROOT / "params.yaml").read_text().replace(
        "      digits-x1: {dataset: digits", "      x;touch PWNED: {dataset: digits, model: digits_x1, training: tiny, seed: 0}\n"
                                            "      digits-x1: {dataset: digits", 1)
    for f in ("params.yaml", "dvc.yaml"):
        (tmp_path / f).write_text(text if f == "params.yaml" else (ROOT / f).read_text())
    r = subprocess.run(["mrgen", "dag"], cwd=tmp_path, env=env(), capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: params.yaml: presets.tiny.runs.x;touch PWNED: unsafe name; names must match")
    assert (tmp_path / "dvc.yaml").read_text() == (ROOT / "dvc.yaml").read_text()
    assert not (tmp_path / "PWNED").exists()


def test_the_old_record_leaves_first_and_the_new_one_comes_last(root, monkeypatch):
    """A SIGKILL anywhere in the commit can leave new and old outputs mixed, but never beside a record:
    the instance then has no record and both engines rerun it."""
    run(root, lambda ctx: write(ctx, 1))
    calls, real = [], mrgen.stage._move
    monkeypatch.setattr(mrgen.stage, "_move", lambda s, d: (calls.append((str(s), str(d))), real(s, d))[1])
    run(root, lambda ctx: write(ctx, 2))
    record = str(root / "results/tiny/toy.provenance.json")
    assert calls[0][0] == record and ".replaced" in calls[0][1]           # old record aside, first
    assert calls[-1][1] == record and "staging" in calls[-1][0]           # new record in, last


def test_outputs_on_another_file_system_are_copied_then_renamed(root, monkeypatch):
    real = os.replace

    def cross_device(src, dst):
        if "staging" in str(src) and "staging" not in str(dst):
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        return real(src, dst)
    monkeypatch.setattr(mrgen.stage.os, "replace", cross_device)
    run(root, lambda ctx: write(ctx, 1))
    run(root, lambda ctx: write(ctx, 2))
    assert (root / "data/tiny/prepared/toy/train.npy").read_text() == "train 2"
    assert not [p for p in (root / "data/tiny/prepared").iterdir() if p.name.startswith(".")]


def test_a_stray_world_size_or_rank_neither_skips_the_lock_nor_the_commit(root, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    run(root, lambda ctx: write(ctx, 1))
    assert (root / "results/tiny/toy.provenance.json").exists()
    assert (root / "work/tiny/.locks/prepare-toy.lock").exists()


def test_a_full_disk_while_saving_a_checkpoint_names_the_file(tmp_path):
    from mrgen.io import save_torch
    with pytest.raises(OSError) as e:
        save_torch({"x": 1}, "/dev/full")
    assert e.value.errno == errno.ENOSPC and e.value.filename == "/dev/full"


def test_a_log_on_a_full_disk_does_not_break_the_stage(capsys, tmp_path):
    tee = mrgen.stage._Tee(sys.stderr, __import__("pathlib").Path("/dev/full"), tmp_path / "ok.log")
    tee.write("a line\n")
    tee.flush()
    tee.write("another\n")
    tee.flush()
    assert len(tee.files) == 1 and capsys.readouterr().err == "a line\nanother\n"
    assert (tmp_path / "ok.log").read_text() == "a line\nanother\n"      # the other log keeps every line


def test_numerical_failure_is_one_line(capsys):
    def diverge():
        raise FloatingPointError("non-finite ELBO in the batch starting at image 0")
    with pytest.raises(SystemExit) as e:
        mrgen.stage.guarded(diverge)
    assert e.value.code == 2
    assert capsys.readouterr().err == ("error: numerical failure: non-finite ELBO in the batch starting at image 0; "
                                       "check the learning rate and the input files, then rerun\n")


def test_a_preempted_training_exits_75_naming_the_saved_state(capsys):
    """The training loop saved its state and raised Preempted: one line, status 75 ("resumable")."""
    import signal

    from mrgen.errors import Preempted
    from mrgen.stage import guarded

    def preempted():
        raise Preempted(signal.SIGUSR1, 120, "work/tiny/digits-x1/latest.pt")
    with pytest.raises(SystemExit) as e:
        guarded(preempted)
    assert e.value.code == 75
    assert capsys.readouterr().err == ("interrupted by SIGUSR1 at step 120; training state saved to "
                                       "work/tiny/digits-x1/latest.pt; rerun the same command to resume "
                                       "(exit status 75)\n")


def test_the_record_names_each_changed_code_file_in_full(tmp_path):
    """`git.code_changed` lists the stage's code files that differ from the commit, whole paths (porcelain
    lines start with a space for a change in the work tree, which must not be stripped)."""
    from mrgen.provenance import git_state
    for f in ("a.py", "b.py", "c.py"):
        (tmp_path / f).write_text("x = 1\n")
    subprocess.run("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm c", shell=True,
                   cwd=tmp_path, check=True)
    (tmp_path / "b.py").write_text("x = 2\n")
    (tmp_path / "c.py").write_text("x = 3\n")
    subprocess.run(["git", "add", "c.py"], cwd=tmp_path, check=True)
    state = git_state(["a.py", "b.py", "c.py", "data/x"], root=tmp_path)
    assert state["code_changed"] == ["b.py", "c.py"] and len(state["commit"]) == 40


def test_a_stage_computes_with_its_declared_cpus(tmp_path):
    """Under `dvc repro` a stage gets the whole machine, under Snakemake or Slurm its `cpus`: the stage pins
    torch's threads and every BLAS / OpenMP pool to `cpus` itself, so both engines sum in the same order."""
    code = ("import json, torch, numpy, threadpoolctl, mrgen.stage\n"
            "torch.set_num_threads(2)\n"
            "mrgen.stage.pin_threads(1)\n"
            "pools = [p['num_threads'] for p in threadpoolctl.threadpool_info()]\n"
            "print(json.dumps([torch.get_num_threads(), pools]))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, check=True)
    threads, pools = json.loads(out.stdout)
    assert threads == 1 and pools and set(pools) == {1}
