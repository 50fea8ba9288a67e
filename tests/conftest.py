"""Shared fixtures: a throw-away copy of the repository to run engines in."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
