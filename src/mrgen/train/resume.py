"""The resumable state of a training stage (work/<preset>/<run>/): removed once its outputs are in place."""
from __future__ import annotations

from pathlib import Path

RESUMABLE = ("latest.pt", "previous.pt", "latest.pt.corrupt", "previous.pt.corrupt")


def discard_resumable(work: Path) -> None:
    """A finished run's checkpoints: a rerun must train afresh (called only after the commit)."""
    for name in RESUMABLE:
        (work / name).unlink(missing_ok=True)
