"""Provenance records: what a stage read (hashes, params), what it wrote, and the environment it ran in."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mrgen.errors import DataError
from mrgen.io import sha256_file, sha256_path
from mrgen.paths import ROOT

PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "dvc", "snakemake", "matplotlib", "pyyaml", "tqdm",
            "pydantic", "pandas", "clean-fid", "pywavelets")


def git_state(deps=(), root: Path = ROOT) -> dict:
    """The commit, and which of the stage's own code files differ from it (the rest of the tree may be
    dirty with other stages' records, which says nothing about this result)."""
    def git(*args):
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return r.stdout.rstrip("\n") if r.returncode == 0 else ""     # porcelain lines start with a space
    commit = git("rev-parse", "HEAD") or None
    code = [d for d in deps if d.endswith(".py")]
    changed = sorted(line[3:] for line in git("status", "--porcelain", "--", *code).splitlines()) if commit and code else []
    return {"commit": commit, "code_changed": changed if commit else None}


def environment() -> dict:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    lock = ROOT / "requirements.lock"
    env = {"python": platform.python_version(), "packages": versions,
           "lock_sha256": sha256_file(lock) if lock.exists() else None,
           "host": socket.gethostname(), "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    env["cpus_available"] = len(os.sched_getaffinity(0))
    env["device"] = device()
    return env


def device() -> dict:
    """What computed the numbers: CPU threads torch used, and the GPUs it saw (name each; a stage that ran
    on the GPU says so in its `device` field). Thread counts change float sums on a CPU, so a rerun on
    another machine is compared within tolerance (`mrgen verify`)."""
    out = {"cpu_threads": None, "gpus": [], "cuda": None}
    if "torch" in sys.modules:                    # a stage that never imported torch computed nothing with it
        import torch
        out["cpu_threads"] = torch.get_num_threads()
        out["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return out


def hashes(paths, base: Path = ROOT) -> dict:
    """sha256 of each path (folders: of their sorted file list and contents), keyed by the declared path."""
    out = {}
    for p in paths:
        if not (base / p).exists():
            raise DataError(f"{p}: missing; expected the output of the stage that makes it — run it first")
        out[str(p)] = sha256_path(base / p)
    return out
