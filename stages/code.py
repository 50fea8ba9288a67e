"""code: the source files -> pipelines/<preset>/code/<kind>.json, one small JSON file per stage kind holding
the sha256 of every source file its numbers depend on. A DVC stage depends on its kind's file instead of
on each source file, so DVC checks ~90 files where it checked thousands of dependencies (README, "Where the
time goes"); an edit rewrites only the files of the kinds that import the edited file, so DVC reruns what
it reran before. Under Snakemake, whose rules list the source files themselves, the Snakefile refreshes
them before planning (mrgen.dag.refresh_params_files), for `dvc commit` after the run."""
from mrgen.dag import code_files
from mrgen.paths import ROOT


def body(ctx):
    folder = ctx.out(ctx.stage.outs[0].path)
    folder.mkdir(parents=True)
    for path, text in code_files(ctx.spec, ROOT).items():
        (folder / path.rsplit("/", 1)[1]).write_text(text)
