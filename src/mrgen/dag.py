"""Both engines' DAGs from the registry: dvc.yaml per preset (one explicit stage per instance, no
`foreach` over raw params) and the pieces the Snakefile's one-rule-per-kind loop needs."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from mrgen.config.spec import Spec
from mrgen.paths import ROOT, Paths
from mrgen.registry import KINDS, Kind, Stage, stages

HEADER = ("# GENERATED from params.yaml by `mrgen dag` (the stage registry, mrgen.registry); do not edit.\n"
          "# Preset {preset}. tests/test_dag.py checks that it is fresh and that Snakemake sees the same DAG.\n")


def dvc_name(st: Stage) -> str:
    return f"{st.kind}-{st.name}"


def _body(st: Stage, wdir: str | None) -> dict:
    d: dict = {"cmd": st.cmd}
    if wdir:
        d["wdir"] = wdir
    d["deps"] = list(st.deps)
    if st.params:
        d["params"] = [{st.params_file: list(st.params)}]
    for kind, key in (("out", "outs"), ("metric", "metrics"), ("plot", "plots")):
        # persist: DVC must not delete outputs before the command runs; the stage replaces them atomically
        # and leaves them as they were when it refuses its inputs
        entries = [{o.path: {"persist": True} if o.cache else {"cache": False, "persist": True}}
                   for o in st.outs if o.kind == kind]
        if entries:
            d[key] = entries
    return d


def dvc_file(spec: Spec) -> str:
    """Where this preset's dvc.yaml lives, relative to the repository root."""
    return Paths.dvc_yaml(spec.preset, spec.params.preset)


def dvc_yaml(spec: Spec) -> dict:
    depth = len(Path(dvc_file(spec)).parts) - 1
    wdir = "/".join([".."] * depth) or None
    return {"stages": {dvc_name(st): _body(st, wdir) for st in stages(spec)}}


def render(spec: Spec) -> str:
    return HEADER.format(preset=spec.preset) + yaml.safe_dump(dvc_yaml(spec), sort_keys=False, width=120)


def generated(spec: Spec) -> dict[str, str]:
    """Every generated file (path relative to the root -> text): each preset's dvc.yaml and the schema."""
    from mrgen.config.export import schema_text  # noqa: PLC0415
    out = {dvc_file(spec.for_preset(p)): render(spec.for_preset(p)) for p in spec.raw["presets"]}
    out["workflow/schemas/params.schema.json"] = schema_text()
    return out


def stale(spec: Spec, root: Path = ROOT) -> list[str]:
    return [f for f, text in generated(spec).items()
            if not (root / f).is_file() or (root / f).read_text() != text]


# ---------------------------------------------------------------- Snakemake: one rule per stage kind
class SnakemakeDAG:
    """What the Snakefile's rule loop asks: per kind, the instances, output pattern, log pattern,
    inputs, params, resources and command of `{name}`."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.instances = {(st.kind, st.name): st for st in stages(spec)}

    def kinds(self) -> list[Kind]:
        """Kinds with at least one instance in this preset (the params mirror is not a rule: see
        `refresh_params_mirror`)."""
        return [k for k in KINDS.values() if k.name != "params" and any(kind == k.name for kind, _ in self.instances)]

    def names(self, kind: str) -> str:
        """Wildcard constraint: exactly this preset's instances of the kind."""
        return "|".join(sorted(n for k, n in self.instances if k == kind))

    def outputs(self, kind: str) -> list[tuple[str, bool]]:
        return [(o.path, o.directory) for o in KINDS[kind].outs(self.spec.paths, "{name}")]

    def log(self, kind: str) -> str:
        return self.spec.paths.log(kind, "{name}")

    SHELL = "mrgen {params.kind} --preset {params.preset} {wildcards.name:q}"
    """Every rule's command, the same words dvc.yaml runs. Snakemake evaluates `shell:` when a job runs
    (after the rule loop has ended), so the kind and preset come from the rule's params."""

    def inputs(self, kind: str):
        return lambda wc: self.instances[(kind, wc.name)].deps

    def params_json(self, kind: str):
        """The stage's resolved params as one string, so Snakemake's params trigger sees any change."""
        def f(wc):
            st = self.instances[(kind, wc.name)]
            return json.dumps({k: self.spec.lookup(k) for k in st.params}, sort_keys=True)
        return f

    def resource(self, kind: str, field: str):
        return lambda wc: getattr(self.instances[(kind, wc.name)].resources, field)

    def threads(self, kind: str):
        return lambda wc: self.instances[(kind, wc.name)].resources.cpus

    def targets(self) -> list[str]:
        return [o.path for st in self.instances.values() if st.kind != "params" for o in st.outs]


# ---------------------------------------------------------------- the params mirror DVC reads
def params_mirror_text(spec: Spec) -> str:
    """params.yaml as JSON: the keys and values the stages read (the strict loader's)."""
    return json.dumps(spec.written, indent=1, ensure_ascii=False) + "\n"


def refresh_params_mirror(spec: Spec, root: Path = ROOT) -> bool:
    """Rewrite the preset's params mirror if it differs from params.yaml (True if it did).

    The Snakefile calls this before planning, so a Snakemake run never leaves a mirror older than
    params.yaml behind it, and `dvc commit` after it records the params the stages read. Snakemake itself
    tracks params through each rule's `spec` param; a rule that consumed the mirror would rerun everything
    on any params edit (or, marked ancient, hide its consumers' own triggers on the run that rewrites it).
    Under DVC the params stage writes the mirror (dep params.yaml), so `dvc repro` refreshes it first."""
    from mrgen.io import write_text
    path, text = root / spec.paths.params_mirror(), params_mirror_text(spec)
    if path.is_file() and path.read_text() == text:
        return False
    write_text(path, text)
    return True
