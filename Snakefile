# Snakemake entry point: the same PIPELINE as dvc.yaml, one rule per stage kind, generated from the stage
# registry (mrgen.registry) in workflow/rules/stages.smk.
#   snakemake --profile workflow/profiles/local                          the default preset (params.yaml)
#   snakemake --profile workflow/profiles/local --config preset=paper    another preset, side by side
#   snakemake --profile workflow/profiles/slurm                          on a Slurm cluster (preset paper)
# Requires the project's environment (README: scripts/setup.sh installs `mrgen` from this checkout).
from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "params.yaml"


validate(config, "workflow/schemas/params.schema.json")

include: "workflow/rules/stages.smk"


rule all:
    input:
        PIPELINE.targets(),
    default_target: True
