#!/usr/bin/env bash
# Set up, lint, then run the whole test suite (unit + the real tiny DAG under DVC and Snakemake).
# The IDX reader is tested on the real Fashion-MNIST files of Debian's dataset-fashion-mnist package,
# installed here when missing (needs root and Debian's package archive).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "note: install Debian's dataset-fashion-mnist to run the real-file IDX test (it is skipped otherwise)" >&2
  fi
fi
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" DVC_NO_ANALYTICS=1
# The cluster tests (tests/test_slurm.py) run against a real one-node Slurm: as root with Debian's archive
# it is installed and started here, and the tests must then find it; elsewhere they skip.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash scripts/slurm_up.sh
  export MRGEN_SLURM=required
else
  echo "note: not root: the Slurm cluster tests skip (scripts/slurm_up.sh brings one up)" >&2
fi
# The report page's browser test needs Debian's chromium: setup.sh installed it as root, so it must run
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export MRGEN_BROWSER=required
fi
ruff check .
snakemake --lint > /dev/null || { snakemake --lint; exit 1; }
mrgen dag --check
exec python -m pytest -q "$@"
