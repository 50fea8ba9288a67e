#!/usr/bin/env bash
# Set up, then run the whole test suite (unit + the real tiny DAG under DVC and Snakemake).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" DVC_NO_ANALYTICS=1
exec python -m pytest -q "$@"
