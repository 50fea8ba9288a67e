"""The `mrgen` console script.

    mrgen KIND --preset P NAME     run one stage instance (what dvc.yaml and the Snakefile call)
    mrgen describe --preset P      print the parameter counts of every run of preset P
    mrgen dag [--check]            regenerate (or check) each preset's dvc.yaml and the params JSON schema
    mrgen stages [--preset P]      list the stage instances of a preset
    mrgen times [--preset P]       where the DAG's time goes: wall time per kind, critical path, schedule
    mrgen audit [--preset P] [--json] [-v] [--explain FILE CELL] [TARGET ...]
                                   check every link from each published number back to the raw bytes
    mrgen status [--preset P] [--json] [--engines] [TARGET ...]
                                   which stages would rerun and why (code file, params key old -> new, input)
    mrgen verify [--preset P] [--from-raw] [--keep] TARGET ...
                                   rerun a target's numbers in a scratch workspace; compare within tolerance
    mrgen plan [--preset P] [--gpu TYPE] [--site FILE] [TARGET ...]
                                   before launching: jobs, GPU-hours and disk per table / figure and in total

Every error is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from mrgen import stage as contract
from mrgen.registry import KINDS


def _run_stage(kind: str, preset: str, name: str | None, argv: list[str]) -> None:
    from mrgen.config.spec import load
    from mrgen.registry import stage as find
    spec = load(preset=preset)
    module = importlib.import_module(f"stages.{kind}")
    if name is None:
        if not hasattr(module, "show"):
            raise contract.SpecError(f"mrgen {kind}: expected an instance name (see `mrgen stages --preset {preset}`)")
        module.show(spec)
        return
    st = find(spec, kind, name)
    contract.tee_log(spec, st)
    contract.execute(spec, st, module.body, getattr(module, "launch", None))


def _dag(check: bool) -> None:
    from mrgen.config.spec import load
    from mrgen.dag import generated, stale
    from mrgen.io import write_text
    from mrgen.paths import ROOT
    spec = load()
    if check:
        bad = stale(spec)
        if bad:
            print(f"error: stale generated files: {', '.join(bad)}; run `mrgen dag`", file=sys.stderr)
            sys.exit(1)
        return
    for path, text in generated(spec).items():
        write_text(ROOT / path, text)
        print(f"wrote {path}")


def _list(preset: str | None) -> None:
    from mrgen.config.spec import load
    from mrgen.registry import stages
    for st in stages(load(preset=preset)):
        print(f"{st.id}\t{st.cmd}")


def _times(preset: str | None, cores: int) -> None:
    from mrgen.config.spec import load
    if cores < 1:
        raise contract.SpecError(f"mrgen times --cores: expected a positive number of cores, found {cores}")
    from mrgen.times import report
    print(report(load(preset=preset), cores))


def _plan(preset: str | None, gpu: str, site: str | None, targets: list[str]) -> None:
    from mrgen.cluster import load_site
    from mrgen.config.spec import load
    from mrgen.plan import plan, render
    spec = load(preset=preset)
    rows, total = plan(spec, targets, load_site(site, frozenset(KINDS)), gpu)
    print(render(spec, rows, total, gpu))


def _audit(preset: str | None, targets: list[str], as_json: bool, verbose: bool, explain: list[str] | None) -> None:
    import json

    from mrgen.audit import Auditor, render, resolve
    from mrgen.audit import as_json as to_json
    from mrgen.audit import explain as explain_cell
    from mrgen.config.spec import load
    auditor = Auditor(load(preset=preset))
    if explain:
        print(explain_cell(auditor, *explain))
        return
    ids = resolve(auditor, targets)
    if as_json:
        doc = to_json(auditor, ids)
        print(json.dumps(doc, indent=1, ensure_ascii=False))
        clean = not doc["lock_problems"] and all(a["status"] == "ok" for t in doc["targets"].values() for a in t)
    else:
        text, clean = render(auditor, ids, verbose)
        print(text)
    if not clean:
        sys.exit(1)


def _verify(preset: str | None, targets: list[str], from_raw: bool, keep: bool) -> None:
    from mrgen.config.spec import load
    from mrgen.verify import verify
    text, ok = verify(load(preset=preset), targets, from_raw, keep)
    print(text)
    if not ok:
        sys.exit(1)


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("mrgen")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="mrgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"mrgen {_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for kind in KINDS:
        p = sub.add_parser(kind, help=f"run a {kind} stage instance")
        p.add_argument("--preset", required=True)
        p.add_argument("name", nargs="?" if kind == "describe" else None,
                       help="the instance (a dataset, run, model part, setting or experiment name)")
    p = sub.add_parser("dag", help="regenerate dvc.yaml files and the params schema from params.yaml")
    p.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    p = sub.add_parser("stages", help="list stage instances")
    p.add_argument("--preset")
    p = sub.add_parser("times", help="wall time per stage kind from the records, critical path, schedule")
    p.add_argument("--preset")
    p.add_argument("--cores", type=int, default=2, help="cores to schedule the recorded times on (default 2)")
    p = sub.add_parser("plan", help="jobs, GPU-hours and disk per target before launching")
    p.add_argument("--preset")
    p.add_argument("--gpu", default="H100", help="GPU type of the estimate where the site names none (default H100)")
    p.add_argument("--site", help="the site file (default workflow/site.yaml)")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="tables / figures (default: all of the preset)")
    p = sub.add_parser("audit", help="walk every published number back to the raw bytes, checking each link")
    p.add_argument("--preset")
    p.add_argument("--json", action="store_true", help="every link of every target as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="show every link, not only the broken ones")
    p.add_argument("--explain", nargs=2, metavar=("FILE", "CELL"),
                   help="the chain of one number: a table file and ROW:COLUMN, e.g. results/tiny/tables/t1.md photos-ws:nll")
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="experiments, stage ids or files (default: every table and figure)")
    p = sub.add_parser("verify", help="rerun targets in a scratch workspace and compare every number within tolerance")
    p.add_argument("--preset")
    p.add_argument("--from-raw", action="store_true", help="retrain too (default: from the checkpoints and prepared data)")
    p.add_argument("--keep", action="store_true", help="keep the scratch workspace")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="experiments, stage ids or files")
    p = sub.add_parser("status", help="which stages would rerun, and why (code, params, inputs, outputs, upstream)")
    p.add_argument("--preset")
    p.add_argument("--json", action="store_true", help="every rerunning stage and its reasons as JSON")
    p.add_argument("--engines", action="store_true",
                   help="also ask `dvc status` and `snakemake -n`; exit 1 where their rerun set differs")
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="experiments, stage ids or files, with everything upstream (default: every stage)")
    args = ap.parse_args(argv)
    if args.command == "verify":
        contract.guarded(lambda: _verify(args.preset, args.targets, args.from_raw, args.keep))
    elif args.command == "status":
        from mrgen.status import cli as status_cli
        contract.guarded(lambda: status_cli(args.preset, args.targets, args.json, args.engines))
    elif args.command == "audit":
        contract.guarded(lambda: _audit(args.preset, args.targets, args.json, args.verbose, args.explain))
    elif args.command == "plan":
        contract.guarded(lambda: _plan(args.preset, args.gpu, args.site, args.targets))
    elif args.command == "dag":
        contract.guarded(lambda: _dag(args.check))
    elif args.command == "times":
        contract.guarded(lambda: _times(args.preset, args.cores))
    elif args.command == "stages":
        contract.guarded(lambda: _list(args.preset))
    else:
        contract.guarded(lambda: _run_stage(args.command, args.preset, args.name, argv))


if __name__ == "__main__":
    main()
