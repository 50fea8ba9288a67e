"""params: params.yaml -> pipelines/<preset>/params/<kind>-<name>.json, one small JSON file per stage
holding exactly the keys it tracks, where DVC reads them: the same dotted keys and the values the stages
read (the strict loader's), so `dvc params diff` and dvc.lock show what params.yaml says, while DVC parses
and searches a tiny JSON file per stage instead of the whole YAML (README, "Where the time goes"). Under
Snakemake the Snakefile refreshes them before planning (mrgen.dag.refresh_params_files)."""
from mrgen.config.spec import check_dvc_readable
from mrgen.dag import params_files


def body(ctx):
    if ctx.spec.path is not None:
        check_dvc_readable(ctx.spec.path, ctx.spec.source)
    folder = ctx.out(ctx.stage.outs[0].path)
    folder.mkdir(parents=True)
    for path, text in params_files(ctx.spec).items():
        (folder / path.rsplit("/", 1)[1]).write_text(text)
