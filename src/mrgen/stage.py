"""The contract every stage CLI shares: parse `--preset P NAME`, validate params.yaml, stage outputs in a
scratch folder, move them into place only on success, then write the provenance record."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mrgen import provenance
from mrgen.data.prepared import DataError
from mrgen.io import write_json
from mrgen.spec import ROOT, SpecError, Spec, Stage, load


@dataclass
class Context:
    """What a stage body gets: the spec, its stage instance, its declared params, and staged outputs."""
    spec: Spec
    stage: Stage
    params: dict
    staging: Path
    inputs: dict                                   # declared inputs -> sha256
    info: dict = field(default_factory=dict)      # seed, device, counters: copied into provenance

    def out(self, path: str) -> Path:
        """The scratch location of declared output `path`; it is moved into place on success."""
        if path not in {o.path for o in self.stage.outs}:
            raise RuntimeError(f"{self.stage.id} writes {path}, which it does not declare")
        p = self.staging / path
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def _commit(ctx: Context) -> None:
    for o in ctx.stage.outs:
        src, dst = ctx.staging / o.path, ROOT / o.path
        if o.path == ctx.stage.record:
            continue
        if not src.exists():
            raise RuntimeError(f"{ctx.stage.id} did not write its declared output {o.path}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir():
            shutil.rmtree(dst)
        src.rename(dst)


def run(kind: str, body, argv=None, launch=None) -> None:
    """CLI entry of a stage kind: `python -m stages.KIND --preset P NAME`.

    launch(spec, name, argv) may run the stage some other way (the train stage's torchrun workers) and
    return their exit status; None means run the body here."""
    ap = argparse.ArgumentParser(prog=f"python -m stages.{kind}")
    ap.add_argument("--preset", required=True, help="the preset dvc.yaml / the Snakefile were built for")
    ap.add_argument("name", help=f"the {kind} instance (a dataset, run or experiment name)")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)

    def go():
        spec = _checked(load(), args.preset)
        status = launch(spec, args.name, argv) if launch else None
        if status is not None:
            sys.exit(status)
        execute(spec, kind, args.name, body)
    guarded(go)


def _checked(spec: Spec, preset: str) -> Spec:
    if spec.preset != preset:
        raise SpecError(f"params.yaml selects preset {spec.preset!r} but this command is for {preset!r}; "
                        f"run `python -m stages.preset {spec.preset}` to regenerate dvc.yaml")
    return spec


def guarded(fn):
    """Run fn; bad input ends the process with one clear line and exit status 2."""
    try:
        return fn()
    except (SpecError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def execute(spec: Spec, kind: str, name: str, body) -> None:
    """Run one stage instance: stage outputs, move them into place on success, write the record.

    Under torchrun only rank 0 commits outputs and writes the record; other ranks' staging is discarded."""
    stage = spec.stage(kind, name)
    rank = int(os.environ.get("RANK", "0"))
    staging = ROOT / "work" / ".staging" / (f"{kind}-{name}" + (f"-rank{rank}" if rank else ""))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        start, t0 = dt.datetime.now(dt.timezone.utc), time.time()
        ctx = Context(spec, stage, spec.stage_params(stage), staging, provenance.hashes(stage.deps))
        body(ctx)
        if rank != 0:
            return
        _commit(ctx)
        outputs = provenance.hashes(o.path for o in stage.outs if o.path != stage.record)
        write_json(ROOT / stage.record, {
            "stage": stage.kind, "instance": stage.name, "preset": spec.preset, "command": stage.cmd,
            "start": start.isoformat(), "end": dt.datetime.now(dt.timezone.utc).isoformat(),
            "wall_time_s": round(time.time() - t0, 3), "inputs": ctx.inputs, "outputs": outputs,
            "params": ctx.params, "git": provenance.git_state(), "environment": provenance.environment(),
            **ctx.info})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
