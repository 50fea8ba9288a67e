"""Atomic file writing and content hashing, shared by every stage."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from mrgen.errors import DataError


@contextmanager
def atomic_path(path: str | Path, previous: str | Path | None = None):
    """Yield a temporary sibling of `path`; rename it into place only if the block succeeds. With
    `previous`, the file it replaces is first renamed there (both renames atomic), so the last good one
    survives beside the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp makes 0600; results are meant to be shared
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_torch(obj, path: str | Path) -> None:
    """torch.save through memory, so a full disk is an OSError naming the file (torch's own writer reports
    it as a RuntimeError with no file name)."""
    import io

    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        with open(path, "wb") as f:
            f.write(buf.getbuffer())
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_curve(path: str | Path, fields, rows: list[dict]) -> None:
    """A training curve as CSV (DVC plots read it); a missing value (no validation at that step) is empty.
    Written atomically: a reader (a user watching a run, DVC) never sees half a file."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows({k: ("" if row.get(k) is None else row[k]) for k in fields} for row in rows)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


ENGINE_MARKERS = frozenset({".snakemake_timestamp"})  # written into folder outputs by an engine, not by a stage


def folder_files(path: Path) -> list[Path]:
    """A folder's files in hashing order (sorted), less the engines' markers (also in .dvcignore), so a
    folder hashes the same whichever engine made it, for its producer and its consumers alike."""
    return [p for p in sorted(path.rglob("*")) if p.is_file() and p.name not in ENGINE_MARKERS]


def folder_digest(lines: list[str]) -> str:
    """The sha256 of a folder from its `relative/path sha256` lines, in folder_files order."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def sha256_path(path: str | Path) -> str:
    """A file's sha256, or for a folder the sha256 of its sorted (relative path, file sha256) lines. A file
    whose size, mtime, ctime and inode are what they were when it was last hashed is not read again
    (mrgen.hashcache)."""
    from mrgen.hashcache import cached_digest
    path = Path(path)
    if path.is_file():
        return cached_digest(path)
    return folder_digest([f"{p.relative_to(path).as_posix()} {cached_digest(p)}" for p in folder_files(path)])


def progress(iterable, **kw):
    """tqdm that refreshes often on a terminal and rarely in a log file (Slurm, DVC, CI)."""
    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 30, file=sys.stderr, **kw)


def short_reason(e: BaseException, limit: int = 120) -> str:
    """`Type: first sentence of the message`, shortened: the reason part of a one-line error."""
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    first = lines[0].split(". ")[0] if lines else ""
    kind = type(e).__name__
    if kind.islower():                          # struct.error, socket.timeout, ...
        kind = f"{type(e).__module__.lstrip('_')}.{kind}"
    text = f"{kind}: {first}" if first else kind
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_torch(path: str | Path, required_keys=(), map_location=None) -> tuple[dict | None, str | None]:
    """torch.load a dict (weights_only: no code is unpickled); returns (dict, None), or (None, short reason)
    when the file is missing, unreadable (truncated, corrupt, not a torch file) or lacks a required key."""
    import torch

    path = Path(path)
    if not path.is_file():
        return None, "missing"
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:                      # truncated zip, bad pickle, refused global, I/O error, ...
        return None, short_reason(e)
    if not isinstance(ck, dict):
        return None, f"holds a {type(ck).__name__}, not a dict"
    missing = [str(k) for k in required_keys if k not in ck]
    if missing:
        return None, f"missing keys {', '.join(missing)}"
    return ck, None


def load_torch(path: str | Path, required_keys=(), what: str = "a checkpoint written by this pipeline",
               map_location=None) -> dict:
    """read_torch, raising mrgen.errors.DataError in one line: `<path>: missing; expected <what>` or
    `<path>: not a readable checkpoint (<reason>); expected <what>`."""
    ck, reason = read_torch(path, required_keys, map_location)
    if reason == "missing":
        raise DataError(f"{path}: missing; expected {what}")
    if ck is None:
        raise DataError(f"{path}: not a readable checkpoint ({reason}); expected {what}")
    return ck


def atomic_path_keep_previous(path: str | Path, previous: str | Path):
    """atomic_path keeping the replaced file as `previous` (the resumable checkpoints' rotation)."""
    return atomic_path(path, previous)
