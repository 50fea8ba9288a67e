#!/usr/bin/env bash
# Stop what scripts/slurm_up.sh started: slurmd, slurmctld, munged (by their pid files), after
# cancelling every job. Running it again does nothing.
set -uo pipefail
command -v scancel >/dev/null && scancel --full --quiet --user=root 2>/dev/null
for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
  if [ -s "$f" ] && p=$(cat "$f") && [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null; then
    kill "$p"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
done
echo "slurm_down: stopped"
