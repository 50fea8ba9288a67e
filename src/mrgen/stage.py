"""The contract every stage shares (`mrgen KIND --preset P NAME`):

1. hold a lock on the instance while it runs (a second invocation stops with one line);
2. stage every output in a scratch folder of its own invocation;
3. on success, write the provenance record into the scratch folder too, then move old outputs aside,
   the new ones into place and the record last, each with one rename (folders included), and only then
   run the stage's after-commit steps (e.g. deleting the resumable checkpoint);
4. on bad input (params, data, a file that cannot be read or written) exit 2 with one line; on SIGTERM,
   SIGINT or SIGHUP exit 128+signal; either way leave no scratch or temp files behind. A training loop
   answers SIGTERM and SIGUSR1 itself: it saves its state and the stage exits 75, "resumable".
"""
from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mrgen import provenance
from mrgen.config.spec import Spec, SpecError
from mrgen.errors import RESUMABLE_EXIT, DataError, Preempted
from mrgen.io import write_json
from mrgen.paths import ROOT
from mrgen.registry import Stage

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class _State:
    committed = False                              # whether this process has committed its outputs


state = _State()


class Interrupted(BaseException):
    """A termination signal arrived; unwinds through every `finally` so nothing is left half-written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Busy(Exception):
    """Another invocation holds this instance's lock."""


@dataclass
class Context:
    """What a stage body gets: the spec, its stage instance, its declared params, and staged outputs."""
    spec: Spec
    stage: Stage
    params: dict
    staging: Path
    inputs: dict                                   # declared inputs -> sha256
    info: dict = field(default_factory=dict)      # seed, device, counters: copied into provenance
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def out(self, path: str) -> Path:
        """The scratch location of declared output `path`; it is moved into place on success."""
        if path not in {o.path for o in self.stage.outs[:-1]}:
            raise RuntimeError(f"{self.stage.id} writes {path}, which it does not declare")
        p = self.staging / path
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def _move(src: Path, dst: Path) -> None:
    """One rename; across file systems (results/ or models/ mounted elsewhere) a copy into a hidden sibling
    of `dst`, then one rename there."""
    try:
        os.replace(src, dst)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.incoming")
        try:
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp)
            os.replace(tmp, dst)
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink()
        shutil.rmtree(src) if src.is_dir() else src.unlink()


def _commit(stage: Stage, staging: Path) -> None:
    """Move every staged output into place, record last; a failure part-way puts the old outputs back.

    The old record is moved aside first, so even a SIGKILL part-way never leaves a record beside outputs
    it does not describe: the instance then has no record, and both engines rerun it."""
    trash = staging / ".replaced"
    moved: list[tuple[Path, Path | None]] = []          # (destination, where its old version went)
    order = [stage.outs[-1]] + stage.outs[:-1]           # the old record leaves first, the new one comes last
    try:
        for o in order:
            if not (staging / o.path).exists():
                raise RuntimeError(f"{stage.id} did not write its declared output {o.path}")
        for o in order:
            dst = ROOT / o.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists() or dst.is_symlink():
                old = trash / o.path
                old.parent.mkdir(parents=True, exist_ok=True)
                _move(dst, old)
                moved.append((dst, old))
            else:
                moved.append((dst, None))
        for o in stage.outs:
            _move(staging / o.path, ROOT / o.path)
    except BaseException:
        for dst, old in reversed(moved):
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst, ignore_errors=True)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            if old is not None:
                _move(old, dst)
        raise


class _Tee:
    """stderr to the terminal (or the engine's output) and appended to log files: the instance's history
    (logs/<preset>/<kind>/<name>.log) and its last run's (Snakemake's `log:`, emptied by it before a run)."""

    def __init__(self, stream, *logs: Path):
        self.stream, self.files = stream, []
        for log in logs:
            log.parent.mkdir(parents=True, exist_ok=True)
            self.files.append(open(log, "a", buffering=1))

    def _each(self, op):
        for f in list(self.files):
            try:
                op(f)
            except OSError:                     # a full disk: keep the terminal, stop that log copy
                self.files.remove(f)

    def write(self, s):
        self.stream.write(s)
        self._each(lambda f: f.write(s))
        return len(s)

    def flush(self):
        self.stream.flush()
        self._each(lambda f: f.flush())

    def isatty(self):
        return self.stream.isatty()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise Busy(holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def pin_threads(n: int) -> None:
    """Compute with exactly the stage's declared cpus (`resources.cpus`): torch's intra-op threads and every
    BLAS / OpenMP pool numpy, scipy or torch loaded. Snakemake and Slurm give a job that many cores while
    `dvc repro` gives it the machine; a reduction split over a different number of threads sums in another
    order, so without this the engines computed different FIDs from the same samples."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def execute(spec: Spec, stage: Stage, body, launch=None) -> None:
    """Run one stage instance under its lock in its own scratch folder; commit outputs and record together.

    launch(ctx) may run the body some other way (the train stage's torchrun workers) and return their exit
    status; under torchrun only rank 0 commits outputs and writes the record."""
    worker = "MRGEN_LOCK_HOLDER" in os.environ and "WORLD_SIZE" in os.environ   # a torchrun worker of ours
    rank = int(os.environ.get("RANK", "0")) if worker else 0
    lock = None if worker else _lock(ROOT / spec.paths.lock(stage.kind, stage.name))
    root = ROOT / spec.paths.staging()
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{stage.kind}-{stage.name}."
    if not worker:                                  # we hold the lock: leftovers of this instance are dead
        for old in root.glob(prefix + "*"):
            shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}.", dir=root))
    try:
        pin_threads(stage.resources.cpus)
        start, t0 = dt.datetime.now(dt.UTC), time.time()
        git = provenance.git_state(stage.deps)      # at start: the code that runs is the code on disk now
        ctx = Context(spec, stage, {k: spec.lookup(k) for k in stage.params}, staging,
                      provenance.hashes(stage.deps))
        if launch and not worker:
            status = launch(ctx)
            if status is not None:               # the workers ran the stage; rank 0 committed it
                sys.exit(status)
        body(ctx)
        if rank != 0:
            return
        outputs = provenance.hashes((o.path for o in stage.outs[:-1]), base=staging)
        write_json(staging / stage.record, {
            "stage": stage.kind, "instance": stage.name, "preset": spec.preset, "command": stage.cmd,
            "start": start.isoformat(), "end": dt.datetime.now(dt.UTC).isoformat(),
            "wall_time_s": round(time.time() - t0, 3), "inputs": ctx.inputs, "outputs": outputs,
            "params": ctx.params, "git": git, "environment": provenance.environment(),
            **ctx.info})
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # from here on a signal waits for the commit
        _commit(stage, staging)
        state.committed = True
        for step in ctx.after_commit:
            step()
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        shutil.rmtree(staging, ignore_errors=True)
        if lock is not None:
            os.close(lock)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def guarded(fn):
    """Run fn; bad input ends the process with one clear line and exit status 2, a signal with 128+signal."""
    handlers = {s: signal.signal(s, _raise_interrupted) for s in SIGNALS}
    state.committed = False
    try:
        return fn()
    except (SpecError, DataError) as e:
        _fail(str(e))
    except FloatingPointError as e:               # a divergent run (learning rate) or corrupt weights
        _fail(f"numerical failure: {e}; check the learning rate and the input files, then rerun")
    except Busy as e:
        _fail(f"another invocation of this stage instance is running (pid {e.args[0]}); wait for it or stop it")
    except Preempted as e:
        print(f"interrupted by {signal.Signals(e.signum).name} at step {e.step}; training state saved to {e.path}; "
              f"rerun the same command to resume (exit status {RESUMABLE_EXIT})", file=sys.stderr)
        sys.exit(RESUMABLE_EXIT)
    except Interrupted as e:
        after = "after its outputs were committed" if state.committed else "outputs left as they were"
        print(f"interrupted by {signal.Signals(e.signum).name}; {after}", file=sys.stderr)
        sys.exit(128 + e.signum)
    except BrokenPipeError:                       # `mrgen audit | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as e:
        what = e.filename or "a file"
        if e.errno == errno.ENOSPC:
            _fail(f"{what}: no space left on device; free space and rerun (nothing was committed)")
        _fail(f"{what}: {e.strerror or e}")
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)


def _fail(line: str):
    print(f"error: {line}", file=sys.stderr)
    sys.exit(2)


def tee_log(spec: Spec, stage: Stage) -> None:
    """From here on, this process's stderr also goes to the instance's log files."""
    if not isinstance(sys.stderr, _Tee):
        sys.stderr = _Tee(sys.stderr, ROOT / stage.log, ROOT / spec.paths.attempt_log(stage.kind, stage.name))
