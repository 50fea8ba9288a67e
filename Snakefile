# Snakemake entry point: the same DAG as dvc.yaml, one rule per stage kind, generated from the stage
# registry (mrgen.registry) in workflow/rules/stages.smk.
#   snakemake --profile workflow/profiles/local                          the default preset (params.yaml)
#   snakemake --profile workflow/profiles/local --config preset=paper    another preset, side by side
#   snakemake --profile workflow/profiles/slurm                          on a Slurm cluster (preset paper)
# Requires the project's environment (README: scripts/setup.sh installs `mrgen` from this checkout).
import sys

from snakemake.utils import min_version, validate

from mrgen.config.spec import SpecError, load

min_version("9.0")

configfile: "params.yaml"


try:                                    # typed, range-checked, cross-referenced: one line on any error
    SPEC = load(preset=config.get("preset"))
except SpecError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(2)
# `site` (the scheduler settings file, workflow/rules/stages.smk) is a run option, not part of params.yaml
validate({k: v for k, v in config.items() if k != "site"}, "workflow/schemas/params.schema.json")

include: "workflow/rules/stages.smk"


rule all:
    input:
        PIPELINE.targets(),
    default_target: True
