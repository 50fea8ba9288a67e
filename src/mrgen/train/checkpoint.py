"""Resumable training state in work/<run>/: latest.pt, the previous good one as previous.pt, and recovery.

Saving writes a temporary sibling, renames the current latest.pt to previous.pt, then the new file to
latest.pt (each step an atomic rename). Loading tries latest.pt, then previous.pt: an unreadable file (torch
cannot load it, or keys are missing) is moved aside to `<name>.corrupt` and reported in one line on stderr,
so a corrupt checkpoint never makes every retry fail. Temporary files left by a killed process are deleted
when training starts (the stage holds a per-instance lock: there is no other writer).

Under DDP, rank 0 alone inspects, moves and deletes files; it then tells every rank which file to load.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from mrgen.io import atomic_path_keep_previous, load_torch, read_torch, save_torch
from mrgen.train.dist import Dist

LATEST, PREVIOUS = "latest.pt", "previous.pt"
WHAT = "the training state saved by the training loop"


def remove_stale_temporaries(work: Path) -> list[Path]:
    """Delete `.latest.pt.*.tmp` / `.previous.pt.*.tmp` left by a killed process; returns what was removed."""
    gone = []
    if work.is_dir():
        for pattern in (f".{LATEST}.*.tmp", f".{PREVIOUS}.*.tmp"):
            for p in sorted(work.glob(pattern)):
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


def save_resumable(work: Path, state: dict) -> None:
    """Write work/latest.pt atomically, keeping the one it replaces as work/previous.pt."""
    work = Path(work)
    with atomic_path_keep_previous(work / LATEST, work / PREVIOUS) as tmp:
        save_torch(state, tmp)


def discard_resumable(work: Path) -> None:
    """The stage's outputs are in place (called after the commit): drop every resumable file, so a rerun
    trains afresh."""
    for name in (LATEST, PREVIOUS, f"{LATEST}.corrupt", f"{PREVIOUS}.corrupt"):
        (Path(work) / name).unlink(missing_ok=True)


def finish_resumable(work: Path) -> None:
    """Training is complete: drop previous.pt (the stage drops latest.pt once its outputs are written, so a
    rerun trains afresh; previous.pt must not outlive it)."""
    (Path(work) / PREVIOUS).unlink(missing_ok=True)


def _set_aside(path: Path) -> Path:
    bad = path.with_name(path.name + ".corrupt")
    os.replace(path, bad)                       # replaces an older .corrupt
    return bad


def _decide(work: Path, required: tuple, accept: Callable[[dict], str | None] | None, map_location):
    """Rank 0: clean up and pick the checkpoint to resume from; returns (path, dict) or (None, None).

    Prints at most one line: `resuming from <latest> at step N`, `ignoring <path>: <reason>`, or a
    `warning: ...` naming each unreadable file, where it was moved, and what happens instead."""
    latest, previous = work / LATEST, work / PREVIOUS
    remove_stale_temporaries(work)
    notes = []                                   # what went wrong on the way, for the warning line

    def read(path):
        ck, reason = read_torch(path, required, map_location)
        if ck is None:
            bad = _set_aside(path)
            again = any(" is corrupt " in n for n in notes)
            notes.append(f"{path.name} is corrupt too ({reason}); moved to {bad.name}" if again
                         else f"{path} is corrupt ({reason}); moved to {bad}")
        return ck

    if latest.exists():
        path, ck = latest, read(latest)
        if ck is None:
            path, ck = previous, (read(previous) if previous.exists() else None)
    elif previous.exists():                      # killed between the two renames of a save, or after a
        notes.append(f"{latest} is missing")     # fallback to previous.pt and before the next save
        path, ck = previous, read(previous)
    else:
        return None, None
    lead = "warning: " + "; ".join(notes) + "; " if notes else ""
    if ck is not None and accept is not None and (why := accept(ck)):
        print(f"{lead}ignoring {path}: {why}" + ("; starting fresh" if lead else ""), file=sys.stderr)
        return None, None
    if ck is None:
        print(f"{lead}starting fresh", file=sys.stderr)
        return None, None
    print(f"{lead}resuming from {path} at step {ck['step']}", file=sys.stderr)
    return path, ck


def load_resumable(work: Path, required_keys=(), accept: Callable[[dict], str | None] | None = None,
                   map_location=None, dist: Dist = Dist()) -> dict | None:
    """The training state to resume from work/ (latest.pt, else previous.pt), or None to start fresh.

    `accept(ck)` returns None to resume from ck, or the reason to ignore it (other inputs or params): the
    line `ignoring <path>: <reason>` is printed and training starts fresh. Unreadable files are moved aside
    (see the module docstring). Every rank of `dist` must call this.
    """
    work = Path(work)
    required = tuple(dict.fromkeys(("step", *required_keys)))
    path, ck = _decide(work, required, accept, map_location) if dist.main else (None, None)
    if dist.world > 1:
        path = dist.gather(None if path is None else str(path))[0]
        if not dist.main and path is not None:
            ck = load_torch(path, required, WHAT, map_location)
    return ck
