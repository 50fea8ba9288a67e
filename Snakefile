# Snakemake entry point: the same DAG as dvc.yaml, built from params.yaml through mrgen.spec.
#   snakemake --profile workflow/profiles/local      (this machine)
#   snakemake --profile workflow/profiles/slurm      (a Slurm cluster)
# The preset is params.yaml's `preset:` key (switch it with `python -m stages.preset NAME`).
# Requires the project's environment (README: scripts/setup.sh). The library comes from this checkout.
import sys

sys.path.insert(0, f"{workflow.basedir}/src")

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/hvae.smk"
include: "workflow/rules/wavelet.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        [o.path for s in SPEC.stages() for o in s.outs],
    default_target: True
