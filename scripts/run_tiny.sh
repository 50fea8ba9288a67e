#!/usr/bin/env bash
# The main job: set up, then run the whole DAG of the tiny preset with Snakemake and record it in DVC.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" DVC_NO_ANALYTICS=1
snakemake --profile workflow/profiles/local "$@"
dvc commit -f -q dvc.yaml
snakemake --profile workflow/profiles/local --touch    # dvc commit renewed the mtimes of cached outputs
dvc status dvc.yaml
echo "results: results/tiny/report.html (the reproduction report: open it in a browser; report.md beside it), results/tiny/tables/{f4,t1,t2,t3,g4,th2,w1,w4,w5,w6}.md, results/tiny/figures/{f4,f5,f6,th2,w4,w5,w6}.png"
