# Every stage kind of the registry as one rule, in one loop: instances, inputs, output and log patterns,
# params, resources and the command all come from mrgen.registry, the same declaration dvc.yaml is
# generated from (tests/test_dag.py checks both engines see one PIPELINE).
from mrgen.cluster import load_site, snakemake_mode, wait_for_earlier_jobs
from mrgen.dag import SnakemakeDAG, refresh_params_files
from mrgen.registry import KINDS

# DVC reads each stage's params from pipelines/<preset>/params/<kind>-<name>.json (its params stage
# writes them from params.yaml); bring them up to date before planning, so `dvc commit` after this run
# records the params that ran.
try:
    # SPEC: the validated params of the Snakefile; the site's scheduler settings (README, "Running on a
    # cluster"): workflow/site.yaml, or the file `--config site=PATH` names
    PIPELINE = SnakemakeDAG(SPEC, load_site(config.get("site"), frozenset(KINDS)))
    refresh_params_files(SPEC, PIPELINE.instances.values())
except SpecError as e:
    sys.stderr.write(f"error: {e}\n")
    sys.exit(2)
except OSError as e:
    sys.stderr.write(f"error: {e.filename or 'pipelines/'}: cannot write DVC's params files: {e.strerror}\n")
    sys.exit(2)

# How each output is flagged (SnakemakeDAG.outputs): a small git-tracked file is `update`d in place, never
# deleted before the job or left deleted by a failed one
_FLAG = {"directory": directory, "keep": update, "": lambda p: p}

# A controller (not a job's own Snakemake) first waits for jobs an earlier one left running in Slurm, so a
# restarted Snakemake never submits a running training a second time (README, "Running on a cluster").
# (`--unlock`, `--touch`, `--lint` and the like run nothing: nothing to wait for)
_MODE = snakemake_mode(sys.argv[1:]) if workflow.is_main_process else "other"
if _MODE != "other":
    wait_for_earlier_jobs(dry_run=_MODE == "dry", say=lambda line: sys.stderr.write(f"{line}\n"))

# Directive values are evaluated here, per kind; `shell:` is evaluated when a job runs, so it reads the
# kind and preset from params.
for _kind in PIPELINE.kinds():

    rule:
        name: _kind.name
        input: PIPELINE.inputs(_kind.name)
        output: [_FLAG[how](p) for p, how in PIPELINE.outputs(_kind.name)]
        log: PIPELINE.log(_kind.name)
        params:
            kind=_kind.name,
            preset=SPEC.preset,
            spec=PIPELINE.params_json(_kind.name),
        wildcard_constraints: name=PIPELINE.names(_kind.name)
        threads: PIPELINE.threads(_kind.name)
        resources: **PIPELINE.resources(_kind.name)
        retries: PIPELINE.retries(_kind.name)
        localrule: _kind.local
        conda: "../envs/mrgen.yaml"
        shell: PIPELINE.SHELL
