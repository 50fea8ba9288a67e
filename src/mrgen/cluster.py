"""What each stage instance asks a scheduler for, and in the Slurm executor's words.

Resources are declared once: params.yaml's `presets.<p>.resources.<kind>` (train and wtrain ask for their
recipe's `gpus`), merged key by key with a site's `workflow/site.yaml` (README, "Running on a cluster"):
its `default`, then `kinds.<kind>`, then the same two under `presets.<p>`, each overriding only the keys it
gives. Nothing here changes a result, so none of it is a params dependency of any stage.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from mrgen.config.schema import Resources, Site
from mrgen.config.spec import SpecError, one_line, read_yaml
from mrgen.paths import ROOT

SITE_FILE = "workflow/site.yaml"
SIGNAL_BEFORE_S = 120
"""A resumable job gets SIGTERM this long before its time limit (`--signal`), to save its checkpoint
and exit 75 with time to spare; Snakemake's retry then resumes it."""


def load_site(path: str | Path | None = None, kinds: frozenset[str] | None = None) -> Site:
    """The site file (default workflow/site.yaml; absent or empty means no overrides), validated: one line
    naming the file and key on any error."""
    shown = str(path or SITE_FILE)
    p = Path(path) if path else ROOT / SITE_FILE
    if not p.is_absolute():
        p = ROOT / p
    if not p.exists():
        if path is None:
            return Site()
        raise SpecError(f"{shown}: site file not found; expected the YAML file `--config site=PATH` (or "
                        f"`mrgen plan --site`) names, or none for {SITE_FILE}")
    raw = read_yaml(p, shown)
    if raw is None:
        return Site()
    if not isinstance(raw, dict):
        raise SpecError(f"{shown}: expected a mapping at the top level, found {type(raw).__name__}")
    try:
        site = Site.model_validate(raw)
    except ValidationError as e:
        raise one_line(shown, e) from None
    if kinds is not None:
        levels = [("", site)] + [(f"presets.{p}.", lvl) for p, lvl in site.presets.items()]
        for prefix, lvl in levels:
            for kind in lvl.kinds:
                if kind not in kinds:
                    raise SpecError(f"{shown}: {prefix}kinds.{kind}: expected a stage kind, one of {sorted(kinds)}")
    return site


def merge(declared: Resources, site: Site, preset: str, kind: str, recipe_gpus: bool) -> Resources:
    """`declared` with the site's keys over it. A kind whose GPUs are its recipe's (DDP world size, so the
    numbers) keeps them: a site that names them for that kind gets one line."""
    out = declared.model_dump()
    levels = [("", site)] + ([(f"presets.{preset}.", site.presets[preset])] if preset in site.presets else [])
    for prefix, lvl in levels:
        for where, over in (("default", lvl.default), (f"kinds.{kind}", lvl.kinds.get(kind))):
            if over is None:
                continue
            given = over.model_dump(exclude_none=True)
            if recipe_gpus and "gpus" in given:
                if where != "default":
                    raise SpecError(f"{SITE_FILE}: {prefix}{where}.gpus: {kind} runs as many DDP workers as its "
                                    f"training recipe's gpus (params.yaml), which a site cannot change")
                given.pop("gpus")
            out.update(given)
    return Resources(**out)


def slurm_extra(res: Resources, resumable: bool) -> str:
    """sbatch options the executor has no resource for, from validated numbers only: the job's own log is
    appended across requeues, and a resumable job is warned before its time limit."""
    extra = ["--open-mode=append"]
    if resumable:
        extra.append(f"--signal=TERM@{min(SIGNAL_BEFORE_S, res.runtime * 60 // 4)}")
    return " ".join(extra)


def snakemake_resources(res: Resources, resumable: bool) -> dict:
    """The Snakemake resources of one job (the Slurm executor's names). Keys the site leaves unset are
    left out, so sbatch falls back to the cluster's defaults; `gpu_model` is empty when no GPU is asked."""
    out = {"runtime": res.runtime, "mem_mb": res.mem_mb, "cpus_per_task": res.cpus, "gpu": res.gpus,
           "nodes": res.nodes, "gpu_model": res.gpu_type if res.gpus and res.gpu_type else "",
           "slurm_extra": slurm_extra(res, resumable)}
    for key, name in (("partition", "slurm_partition"), ("account", "slurm_account"), ("qos", "qos"),
                      ("constraint", "constraint")):
        if getattr(res, key) is not None:
            out[name] = getattr(res, key)
    return out


# ---------------------------------------------------------------- jobs an earlier controller left running
ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
          "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT")


def running_jobs(workdir: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Slurm jobs of this working directory still queued or running: job id -> ('kind@name', state), from
    the comment the Slurm executor gives each job (rule_<kind>_wildcards_<name>). Empty where no Slurm
    answers."""
    import subprocess
    try:
        r = subprocess.run(["squeue", "-h", "--me", "-o", "%i|%T|%k|%Z"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if r.returncode != 0:
        return {}
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split("|")
        if len(parts) != 4 or parts[1] not in ACTIVE or not parts[2].startswith("rule_"):
            continue
        jid, state, comment, wd = parts
        kind, _, name = comment.removeprefix("rule_").partition("_wildcards_")
        if Path(wd).resolve() == workdir.resolve() and name:
            out[jid] = (f"{kind}@{name}", state)
    return out


INFO_ONLY = ("unlock", "touch", "lint", "dag", "rulegraph", "filegraph", "d3dag", "summary", "detailed_summary",
             "list_rules", "list_target_rules", "list_changes", "list_code_changes", "list_params_changes",
             "list_input_changes", "cleanup_metadata", "delete_all_output", "delete_temp_output", "report",
             "archive", "export_cwl", "containerize", "generate_unit_tests", "print_compilation", "cleanup_shadow")


def snakemake_mode(argv: list[str]) -> str:
    """What the Snakemake command `argv` (its arguments, profile included) will do with Slurm: "run" jobs, a
    "dry" run, or "other" (unlock, touch, lint, a graph or summary, or any run with another executor: no
    Slurm job to wait for, so no Slurm command is called, which takes seconds where a Slurm client is
    installed but no controller answers). The Snakefile is read before Snakemake's own settings reach it,
    so they are read from the command line the same way."""
    import contextlib
    import io
    try:
        from snakemake.cli import parse_args
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, args = parse_args(argv)
    except (Exception, SystemExit):                    # not a Snakemake command line (an API call): do nothing
        return "other"
    if any(getattr(args, flag, None) for flag in INFO_ONLY) or getattr(args, "executor", None) != "slurm":
        return "other"
    return "dry" if args.dryrun else "run"


def wait_for_earlier_jobs(dry_run: bool, poll_s: float = 10.0, say=print) -> None:
    """Before a controller plans: jobs an earlier Snakemake submitted from this folder and that still run
    (it died, or its login session ended) are waited for, never submitted a second time; what they make is
    then up to date and not rerun. A dry run only names them."""
    import time
    jobs = running_jobs()
    if not jobs:
        return
    for jid, (sid, state) in sorted(jobs.items()):
        say(f"Slurm job {jid} ({sid}, {state}) was submitted from this folder by an earlier Snakemake"
            + ("; a run now waits for it" if dry_run else "; waiting for it instead of submitting it again"))
    while not dry_run and jobs:
        time.sleep(poll_s)
        now = running_jobs()
        for jid in sorted(set(jobs) - set(now)):
            say(f"Slurm job {jid} ({jobs[jid][0]}) has left the queue")
        jobs = now
