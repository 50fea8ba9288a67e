"""Shared fixtures: a throw-away copy of the repository to run engines in."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)


def env(repo: Path | None = None) -> dict:
    """The environment of a command run in `repo`: this venv's `mrgen`, `dvc` and `snakemake`, importing
    the library and stage modules from that repo's own files (a copy runs the code it hashes)."""
    e = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONUNBUFFERED="1")
    e["PATH"] = VENV_BIN + os.pathsep + e["PATH"]
    e.pop("MRGEN_ROOT", None)
    if repo is not None:
        e["PYTHONPATH"] = os.pathsep.join([str(Path(repo) / "src"), str(repo)])
    return e


def sh(cmd, cwd, check=True, timeout=1800):
    r = subprocess.run(cmd, cwd=cwd, env=env(cwd), capture_output=True, text=True, timeout=timeout,
                       shell=isinstance(cmd, str))
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def copy_repo(dst: Path, with_results: bool = False) -> Path:
    """Copy the files git knows (tracked + untracked-not-ignored) into a fresh git + DVC repo.

    Committed pipeline outputs (results/, models/*/, data/, dvc.lock) are left out unless asked for, so the
    copy starts from an empty DAG.
    """
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    skip = () if with_results else ("results/", "models/", "data/", "dvc.lock", "pipelines/paper/dvc.lock")
    for f in files:
        if f.startswith(skip) or not (ROOT / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    sh("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm copy", dst)
    return dst


@pytest.fixture
def repo(tmp_path):
    return copy_repo(tmp_path / "repo")


# ---------------------------------------------------------------- the tiny DAG, built once per engine
SMK = "snakemake --profile workflow/profiles/local"
SLURM_TARGETS = "results/tiny/tables/t2.md results/tiny/metrics/sgm-photos-n4/fid.json"
SLURM_ARGS = "--profile workflow/profiles/slurm --config preset=tiny site=site.yaml"   # after the targets
SLURM_SITE = {                        # what a site file sets, and what the test cluster can check
    "default": {"account": "mrgen", "mem_mb": 1000},
    "kinds": {"train": {"gpu_type": "fake", "constraint": "fakegpu", "runtime": 20},
              "evaluate": {"gpus": 1, "gpu_type": "fake", "partition": "gpu", "runtime": 15},
              "fid": {"gpus": 1, "mem_mb": 3000}},
}
BUILD_TIMEOUT = 60 * 60


def slurm_up() -> bool:
    """A Slurm controller answers and its node takes jobs (scripts/slurm_up.sh)."""
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and any(s in ("idle", "mixed", "allocated") for s in r.stdout.split())


def slurm_case(repo: Path) -> None:
    """The cluster tests' slice of the tiny DAG at smoke scale: Table 2's digits panel (fetch, prepare, 2 x
    train, 2 x evaluate, table) and one FID (wtrain, wsample, fidref, fid); the normalised run trains as two
    DDP workers (`gpus: 2`, half the per-GPU batch); the site file of SLURM_SITE."""
    import yaml
    smoke(repo)
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    tiny = raw["presets"]["tiny"]
    del tiny["experiments"]["t2"]["panels"]["cifar10"]
    base = tiny["training"]["tiny"]
    tiny["training"]["ddp2"] = dict(base, gpus=2, batch_size=base["batch_size"] // 2)
    tiny["runs"]["digits-x4-normalised"]["training"] = "ddp2"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    (repo / "site.yaml").write_text(yaml.safe_dump(SLURM_SITE))
    sh("mrgen dag", repo)                               # a panel fewer: dvc.yaml's table-t2 follows




def smoke(repo: Path) -> None:
    """Cut the tiny preset's iteration and sample counts in a copy's params.yaml (nothing else changes: a
    round trip keeps its layout and comments, so tests edit the copy's text as they would the original's)."""
    from mrgen.config.spec import edit_yaml

    def cut(raw):
        tiny = raw["presets"]["tiny"]
        for t in tiny["training"].values():
            t.update(iters=20, warmup_iters=5, ckpt_every=10, log_every=5, val_every=10)
        for t in tiny["wavelet_training"].values():
            t.update(iters=12, ckpt_every=6, log_every=4)
            t.update(warmup_iters=min(t.get("warmup_iters", 0), 4))
        tiny["evaluation"].update(iw_samples=4, iw_images=32)
        tiny["wavelet"].update(samples=12, sample_batch=6)
        tiny["wavelet"]["fid"].update(reference_n=24, batch_size=12)
    edit_yaml(repo / "params.yaml", cut)


# The cluster tests' long trainings: digits-x1 trains LONG steps (about a minute on one core, so that a
# one-minute time limit interrupts it) or SHORT ones (long enough to be interrupted past step 100).
LONG = {"iters": 1500, "ckpt_every": 500, "val_every": 500}
SHORT = {"iters": 500, "ckpt_every": 250, "val_every": 250}


def long_run(repo: Path, runtime: int, steps: dict = LONG) -> None:
    """In the cluster slice: digits-x1 trains `steps`, with `runtime` minutes allowed per job."""
    import yaml
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    tiny = raw["presets"]["tiny"]
    tiny["training"]["long"] = dict(tiny["training"]["tiny"], **steps)
    tiny["runs"]["digits-x1"]["training"] = "long"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    site = yaml.safe_load((repo / "site.yaml").read_text())
    site["kinds"]["train"]["runtime"] = runtime
    (repo / "site.yaml").write_text(yaml.safe_dump(site))


def uninterrupted_case(steps: dict):
    def prepare(repo: Path) -> None:
        slurm_case(repo)
        long_run(repo, 60, steps)
    return prepare


def time_limit_case(repo: Path) -> None:
    slurm_case(repo)
    long_run(repo, 1)


LOCAL_SLICE = "--profile workflow/profiles/local --config preset=tiny site=site.yaml"
# a loaded machine may need more attempts than the rule's retries: running Snakemake again resumes too
TIME_LIMITED = f"timeout -k 10 900 snakemake models/tiny/digits-x1/ema.pt {SLURM_ARGS}"
FROM_RAW = "mrgen fetch --preset tiny digits && mrgen fetch --preset tiny photos && mrgen verify --from-raw f5"


@dataclass(frozen=True)
class Recipe:
    """A build: the command, how the copy's params change first, and whether the copy starts from the
    committed results (then as they are, without `dvc init`) or from an empty DAG."""
    cmd: str
    prepare: Callable[[Path], None] | None = None
    with_results: bool = False


# fixture -> its build. Each engine builds the whole tiny DAG (every stage, command and code path) at smoke
# scale, both at once, so the two builds can be compared file for file; the committed results are the main
# job at full scale (audited by tests/test_results_fresh.py, which reruns one target from the raw bytes
# here: `from_raw`). The cluster tests' slice runs through sbatch and, for comparison, locally; their
# references train digits-x1 LONG and SHORT steps in one go; digits-x1's LONG training under a one-minute
# Slurm time limit (mostly waiting: Slurm's limit, the executor's status checks) runs as a build too.
# The audit tests' slice is Theorem 2's table.
# Every build runs in the background from the session's start, while the tests that need none run.
BUILDS = {
    "smk_built": Recipe(SMK, smoke),
    "dvc_built": Recipe("dvc repro -q", smoke),
    "slurm_built": Recipe(f"timeout -k 10 1500 snakemake {SLURM_TARGETS} {SLURM_ARGS}", slurm_case),
    "slurm_local": Recipe(f"snakemake {SLURM_TARGETS} {LOCAL_SLICE}", slurm_case),
    "slurm_time_limit": Recipe(f"{TIME_LIMITED} || {TIME_LIMITED}", time_limit_case),
    "uninterrupted": Recipe(f"snakemake models/tiny/digits-x1/ema.pt {LOCAL_SLICE}", uninterrupted_case(LONG)),
    "uninterrupted_short": Recipe(f"snakemake models/tiny/digits-x1/ema.pt {LOCAL_SLICE}",
                                  uninterrupted_case(SHORT)),
    "th2_built": Recipe("dvc repro -q table-th2"),
    "from_raw": Recipe(FROM_RAW, with_results=True),
}
NEEDS_SLURM = ("slurm_built", "slurm_time_limit", "uninterrupted", "uninterrupted_short")   # for the cluster tests only


class Build:
    """One engine running the whole tiny DAG in its own copy of the repository, in the background from
    the moment the session knows a test needs it: the two engines and the unit tests share the cores."""

    def __init__(self, root: Path, recipe: Recipe):
        root.mkdir(parents=True)
        self.repo = copy_repo(root / "repo", with_results=recipe.with_results)
        if recipe.prepare is not None:
            recipe.prepare(self.repo)
        if not recipe.with_results:
            sh("dvc init -q -f", self.repo)
        self.log = root / "build.log"
        self.cmd = cmd = recipe.cmd
        self.started = time.time()
        with open(self.log, "w") as log:                 # its own process group: stop() ends every job
            self.proc = subprocess.Popen(cmd, shell=True, cwd=self.repo, env=env(self.repo), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=30)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue

    def wait(self) -> Path:
        try:
            rc = self.proc.wait(timeout=max(1, BUILD_TIMEOUT - (time.time() - self.started)))
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.cmd}: still running after {BUILD_TIMEOUT} s; see {self.log}") from None
        if rc != 0:
            raise AssertionError(f"{self.cmd} failed ({rc}):\n{self.log.read_text()[-4000:]}")
        return self.repo


def pytest_collection_modifyitems(session, config, items):
    """The cluster tests first: they mostly wait (for Slurm's time limits and the executor's status checks,
    which back off to 45 s and more), and the builds keep both cores busy meanwhile. Then the unit tests,
    then the tests of the small slices, and last those waiting for the whole tiny DAG."""
    cluster = {"slurm_built", "slurm_local", "slurm_copy", "slurm_time_limit", "uninterrupted", "uninterrupted_short"}

    def order(item):
        names = set(getattr(item, "fixturenames", ()))
        if names & {"smk_built", "dvc_built", "smk_copy"}:
            return 3
        if names & cluster:                 # the time-limited build finishes last: its test waits at the end
            return 0.5 if "slurm_time_limit" in names else 0
        return 2 if names & (set(BUILDS) | {"th2"}) else 1
    items.sort(key=order)


def pytest_collection_finish(session):
    """Start each engine's build as soon as the selected tests are known to need it (not for --collect-only)."""
    wanted = {f for item in session.items for f in getattr(item, "fixturenames", ()) if f in BUILDS}
    if wanted and not session.config.option.collectonly:
        session.config.mrgen_builds_dir = base = Path(tempfile.mkdtemp(prefix="mrgen-builds-"))
        if not slurm_up():                              # the cluster tests skip (or fail, where required)
            wanted -= set(NEEDS_SLURM)
        session.config.mrgen_builds = {f: Build(base / f, BUILDS[f]) for f in sorted(wanted)}


def pytest_sessionfinish(session):
    for b in getattr(session.config, "mrgen_builds", {}).values():
        b.stop()
    if getattr(session.config, "mrgen_builds_dir", None):
        shutil.rmtree(session.config.mrgen_builds_dir, ignore_errors=True)


def _build(request, name: str) -> Path:
    builds = request.config.mrgen_builds
    if name in NEEDS_SLURM and name not in builds:
        need_slurm()
    return builds[name].wait()


def need_slurm() -> None:
    """Skip a cluster test where no Slurm runs; fail it where the suite says one must (scripts/test.sh
    brings it up and sets MRGEN_SLURM=required)."""
    if slurm_up():
        return
    msg = "no Slurm cluster answers (bring one up with scripts/slurm_up.sh)"
    if os.environ.get("MRGEN_SLURM") == "required":
        pytest.fail(msg)
    pytest.skip(msg)


def commit(repo: Path) -> None:
    """Record a Snakemake run in dvc.lock, then re-stamp: `dvc commit` copies cached outputs back into the
    workspace with new mtimes, and Snakemake only keeps checksums of small files (README, Everyday use)."""
    sh("dvc commit -f -q dvc.yaml", repo)
    sh(f"{SMK} --touch", repo)


@pytest.fixture(scope="session")
def smk_built(request):
    """The tiny DAG built by Snakemake at smoke scale and recorded by `dvc commit` (read it; copy it to change
    it)."""
    repo = _build(request, "smk_built")
    commit(repo)
    return repo


@pytest.fixture(scope="session")
def dvc_built(request):
    """The tiny DAG built by `dvc repro` from an empty copy, at smoke scale (`smoke`)."""
    return _build(request, "dvc_built")


@pytest.fixture
def smk_copy(smk_built, tmp_path):
    """A private copy of the Snakemake-built repository (outputs, DVC cache and Snakemake's metadata, with
    their mtimes) for a test that edits it."""
    dst = tmp_path / "repo"
    shutil.copytree(smk_built, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def slurm_built(request):
    """The cluster slice (`slurm_case`) built through sbatch; its Snakemake output is build.log beside it."""
    return _build(request, "slurm_built")


@pytest.fixture(scope="session")
def slurm_local(request):
    """The same slice built by Snakemake on this machine, for comparison."""
    return _build(request, "slurm_local")


def _ema_sha(repo: Path) -> str:
    import hashlib
    return hashlib.sha256((repo / "models/tiny/digits-x1/ema.pt").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def uninterrupted(request):
    """sha256 of digits-x1's ema.pt trained LONG steps in one go, on this machine (the cluster tests'
    reference)."""
    return _ema_sha(_build(request, "uninterrupted"))


@pytest.fixture(scope="session")
def uninterrupted_short(request):
    """The same for SHORT steps."""
    return _ema_sha(_build(request, "uninterrupted_short"))


@pytest.fixture(scope="session")
def slurm_time_limit(request):
    """The cluster slice (from empty) after digits-x1's LONG training through sbatch with a one-minute
    limit; Snakemake's output is build.log beside it."""
    return _build(request, "slurm_time_limit")


@pytest.fixture(scope="session")
def th2_built(request):
    """Theorem 2's table and what it reads (fetch, prepare, th2, describe), built by `dvc repro` from an
    empty copy at the tiny preset's full scale (the audit tests' slice; read it, copy it to change it)."""
    return _build(request, "th2_built")


@pytest.fixture(scope="session")
def from_raw(request):
    """A copy of the committed results after `FROM_RAW` (its output: build.log beside the copy)."""
    return _build(request, "from_raw")


@pytest.fixture
def slurm_copy(slurm_built, tmp_path):
    """A private copy of the sbatch-built repository for a test that changes it."""
    dst = tmp_path / "repo"
    shutil.copytree(slurm_built, dst, symlinks=True)
    return dst
