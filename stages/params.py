"""params: params.yaml as JSON -> pipelines/<preset>/params.json, the file this preset's DVC stages read
their `params` keys from: the keys and values the stages read (the strict loader's), so `dvc params diff`
and dvc.lock show what params.yaml says, and DVC parses one JSON file in milliseconds instead of the YAML
once per stage (README, "Where the time goes"). Under Snakemake the Snakefile refreshes it before
planning (mrgen.dag.refresh_params_mirror); this stage is DVC's way to the same file."""
from mrgen.dag import params_mirror_text


def body(ctx):
    ctx.out(ctx.stage.outs[0].path).write_text(params_mirror_text(ctx.spec))
