"""Provenance records: what a stage read (hashes, params), what it wrote, and the environment it ran in."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mrgen.io import sha256_file, sha256_path
from mrgen.spec import ROOT

PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "dvc", "snakemake", "matplotlib", "pyyaml", "tqdm")


def git_state(root: Path = ROOT) -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "HEAD") or None
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {"commit": commit, "dirty": dirty}


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
    if "torch" in sys.modules:
        import torch
        env["cuda"] = torch.version.cuda
        env["cuda_available"] = torch.cuda.is_available()
    return env


def hashes(paths) -> dict:
    return {str(p): sha256_path(ROOT / p) for p in paths}
