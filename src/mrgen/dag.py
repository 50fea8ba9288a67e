"""Both engines' DAGs from the registry: dvc.yaml per preset (one explicit stage per instance, no
`foreach` over raw params) and the pieces the Snakefile's one-rule-per-kind loop needs."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from mrgen.cluster import merge, snakemake_resources
from mrgen.config.schema import Site
from mrgen.config.spec import VARIANT_SECTION, Spec, SpecError
from mrgen.io import short_reason
from mrgen.paths import ROOT, Paths
from mrgen.registry import KINDS, Kind, Stage, stages, wavelet_parts

RETRIES = 3                     # attempts after the first for a resumable job (time limits, preemption)
HEADER = ("# GENERATED from params.yaml by `mrgen dag` (the stage registry, mrgen.registry); do not edit.\n"
          "# Preset {preset}. tests/test_dag.py checks that it is fresh and that Snakemake sees the same DAG.\n")


def dvc_name(st: Stage) -> str:
    return f"{st.kind}-{st.name}"


def _body(st: Stage, wdir: str | None) -> dict:
    d: dict = {"cmd": st.cmd}
    if wdir:
        d["wdir"] = wdir
    d["deps"] = st.dvc_deps           # a kind's source files as one file of their sha256 (Stage.dvc_deps)
    if st.params:
        d["params"] = [{st.params_file: list(st.params)}]
    # every output, metrics and curves included, is a plain out: how DVC shows metrics and curves is said once,
    # in the file's top-level `metrics:` and `plots:` (views); a curve also declared as a stage plot would
    # be drawn twice by `dvc plots show`, once with DVC's defaults. persist: DVC must not delete outputs
    # before the command runs; the stage replaces them atomically and leaves them as they were when it
    # refuses its inputs.
    d["outs"] = [{o.path: {"persist": True} if o.cache else {"cache": False, "persist": True}} for o in st.outs]
    return d


def dvc_file(spec: Spec) -> str:
    """Where this preset's dvc.yaml lives, relative to the repository root."""
    return Paths.dvc_yaml(spec.preset, spec.params.preset)


# ---------------------------------------------------------------- views: top-level metrics and plots
# The loss columns a training curve is drawn with, per stage kind (and wavelet part); the families' `fields`
# (mrgen.train.hvae, mrgen.train.wavelet) name them, but building the DAG imports no torch
# (tests/test_dvc_views.py checks they agree).
LOSSES = {"train": ("elbo",), "wtrain": ("loss",), "wtrain:gan": ("loss_g", "loss_d")}
LOSS_LABELS = {"train": "training loss: negative ELBO (nats per dim)", "wtrain": "training loss"}


def _columns(cols: tuple[str, ...]) -> str | list[str]:
    return cols[0] if len(cols) == 1 else list(cols)


def _head(caption: str) -> str:
    """A caption's lead ("Table 2, tiny scale: normalised vs ..." -> "Table 2, tiny scale")."""
    return caption.split(":")[0].strip()


def plot_views(spec: Spec, st_list: list[Stage] | None = None) -> list[tuple[str, dict]]:
    """The preset's training-curve plots, (id, definition) with repository-relative paths; x is the curve's
    `step` column, y its loss column(s). Every curve is in at least one plot:

    - train (HVAE): one plot per experiment panel comparing its runs (left out: a panel with the same runs
      as an earlier one, and a one-run panel whose run is drawn already), then one per run no panel names;
    - wtrain: one plot per wavelet model, the parts it trains (a shared part is drawn with its owner);
    - a curve of any other kind: its own plot with DVC's defaults.
    Ids start with the preset (`dvc plots show tiny/train/t2` selects by id prefix)."""
    st_list = stages(spec) if st_list is None else st_list
    curves = {(st.kind, st.name): o.path for st in st_list for o in st.outs if o.kind == "plot"}
    views: list[tuple[str, dict]] = []
    shown: list[set] = []                          # the run sets drawn so far

    def add(pid: str, title: str, y: dict, y_label: str) -> None:
        views.append((f"{spec.preset}/{pid}", {"x": "step", "y": y, "title": title, "x_label": "step",
                                               "y_label": y_label}))

    drawn: set = set()
    for e, ex in spec.p["experiments"].items():
        if VARIANT_SECTION.get(ex["kind"], "runs") != "runs":
            continue
        for panel, pdef in ex["panels"].items():
            runs = [r for r in dict.fromkeys(pdef["variants"].values()) if ("train", r) in curves]
            if not runs or set(runs) in shown or (len(runs) == 1 and ("train", runs[0]) in drawn):
                continue                          # the same comparison again, or one run drawn already
            shown.append(set(runs))
            drawn |= {("train", r) for r in runs}
            add(f"train/{e}-{panel}", f"{_head(ex['caption'])}, {panel}: training curves ({', '.join(pdef['variants'])})",
                {curves[("train", r)]: _columns(LOSSES["train"]) for r in runs}, LOSS_LABELS["train"])
    for kind, name in curves:
        if kind == "train" and (kind, name) not in drawn:
            drawn.add((kind, name))
            add(f"train/{name}", f"{name}: training curve", {curves[(kind, name)]: _columns(LOSSES["train"])},
                LOSS_LABELS["train"])
    parts = wavelet_parts(spec)
    by_model: dict[str, list[str]] = {}
    for kind, name in curves:
        if kind == "wtrain" and name in parts:
            by_model.setdefault(parts[name][0], []).append(name)
    for model, names in by_model.items():
        wm = spec.p["wavelet_models"][model]
        y = {curves[("wtrain", n)]: _columns(LOSSES.get(f"wtrain:{parts[n][1]}", LOSSES["wtrain"])) for n in names}
        drawn |= {("wtrain", n) for n in names}
        add(f"wtrain/{model}", f"{model} ({wm['method']} on {wm['dataset']}): training curves of "
            f"{'part' if len(names) == 1 else 'parts'} {', '.join(parts[n][1] for n in names)}", y, LOSS_LABELS["wtrain"])
    for key, path in curves.items():
        if key not in drawn:
            views.append((path, {}))
    return views


def metric_files(spec: Spec, st_list: list[Stage] | None = None) -> list[str]:
    """The preset's metrics files (outputs of kind "metric"), repository-relative, in DAG order."""
    return [o.path for st in (stages(spec) if st_list is None else st_list) for o in st.outs if o.kind == "metric"]


def dvc_yaml(spec: Spec) -> dict:
    """The preset's dvc.yaml: its stages, then its views. Stages run in `wdir` (the repository root); the
    paths of top-level `metrics:` and `plots:` are relative to the file's own folder (DVC's rule)."""
    depth = len(Path(dvc_file(spec)).parts) - 1
    wdir = "/".join([".."] * depth) or None
    rel = (lambda path: f"{wdir}/{path}") if wdir else (lambda path: path)
    st_list = stages(spec)
    plots = []
    for pid, d in plot_views(spec, st_list):
        if "y" in d:
            plots.append({pid: {**d, "y": {rel(f): cols for f, cols in d["y"].items()}}})
        else:
            plots.append(rel(pid))
    out: dict = {"stages": {dvc_name(st): _body(st, wdir) for st in st_list}}
    if metrics := metric_files(spec, st_list):
        out["metrics"] = [rel(f) for f in metrics]
    if plots:
        out["plots"] = plots
    return out


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

    def __init__(self, spec: Spec, site: Site | None = None):
        self.spec = spec
        self.instances = {(st.kind, st.name): st for st in stages(spec)}
        site = site or Site()
        self.jobs = {key: merge(st.resources, site, spec.preset, st.kind, KINDS[st.kind].gpus is not None)
                     for key, st in self.instances.items()}

    def kinds(self) -> list[Kind]:
        """Kinds with at least one instance in this preset."""
        return [k for k in KINDS.values() if any(kind == k.name for kind, _ in self.instances)]

    def names(self, kind: str) -> str:
        """Wildcard constraint: exactly this preset's instances of the kind."""
        return "|".join(sorted(n for k, n in self.instances if k == kind))

    def outputs(self, kind: str) -> list[tuple[str, str]]:
        """(pattern, how Snakemake must treat it): "directory"; "keep" for a small git-tracked file (metrics,
        tables, records, curves), which Snakemake must not delete before the job and puts back if the job
        fails (its `update` flag: the stage replaces it atomically itself); "" for a large cached file,
        which DVC's cache holds (`dvc checkout` brings it back)."""
        return [(o.path, "directory" if o.directory else "" if o.cache else "keep")
                for o in KINDS[kind].outs(self.spec.paths, "{name}")]

    def log(self, kind: str) -> str:
        return self.spec.paths.attempt_log(kind, "{name}")

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

    def resources(self, kind: str) -> dict:
        """The rule's resources (cluster.snakemake_resources, per instance): the keys one instance sets, as
        callables of the wildcards. Every instance of a kind sets the same keys (site keys are per kind)."""
        resumable = KINDS[kind].resumable
        first = next(res for (k, _), res in self.jobs.items() if k == kind)

        def one(key):
            return lambda wc: snakemake_resources(self.jobs[(kind, wc.name)], resumable)[key]
        return {key: one(key) for key in snakemake_resources(first, resumable)}

    def threads(self, kind: str):
        return lambda wc: self.jobs[(kind, wc.name)].cpus

    def retries(self, kind: str) -> int:
        """Only a resumable kind is retried (a time limit or preemption resumes it from its checkpoint); bad
        input fails the same way every time."""
        return RETRIES if KINDS[kind].resumable else 0

    def targets(self) -> list[str]:
        return [o.path for st in self.instances.values() for o in st.outs]


# ---------------------------------------------------------------- the params files DVC reads
def _json(tree) -> str:
    return json.dumps(tree, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _is_json(value) -> bool:
    try:
        _json(value)
        return True
    except (TypeError, ValueError):
        return False


def params_files(spec: Spec, of: Iterable[Stage] | None = None) -> dict[str, str]:
    """Per stage with params (of the preset's, or of those given): its file (relative path) -> JSON holding
    exactly its keys, at their dotted places and with params.yaml's values as the stages read them."""
    out = {}
    for st in stages(spec) if of is None else of:
        if not st.params:
            continue
        tree: dict = {}
        for key in st.params:
            *parents, leaf = key.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = copy.deepcopy(spec.written_at(key))
        try:
            out[st.params_file] = _json(tree)
        except (TypeError, ValueError) as e:             # e.g. a date, or int and str keys side by side
            bad = next((k for k in st.params if not _is_json(spec.written_at(k))), st.params[0])
            raise SpecError(f"{spec.source}: {bad}: expected JSON values (strings, numbers, booleans, null, "
                            f"lists, maps with string keys) for DVC's params file, found {short_reason(e)}") from None
    return out


def code_files(spec: Spec, root: Path = ROOT) -> dict[str, str]:
    """Per fingerprinted stage kind: its code file (relative path) -> JSON of each of its source files'
    sha256 (what a DVC stage of that kind depends on in place of the files themselves)."""
    from mrgen.io import sha256_path
    from mrgen.registry import kind_code
    return {spec.paths.code_file(k.name): _json({f: sha256_path(root / f) for f in kind_code(k)})
            for k in KINDS.values() if k.fingerprinted}


def _refresh(want: dict[str, str], folder: Path, root: Path) -> list[str]:
    """Rewrite the files of `want` that differ, remove the folder's other JSON files; return what changed."""
    from mrgen.io import write_text
    changed = [f for f, text in want.items() if not (root / f).is_file() or (root / f).read_text() != text]
    for f in changed:
        write_text(root / f, want[f])
    stale = [p for p in folder.glob("*.json") if p.relative_to(root).as_posix() not in want] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)                        # another Snakemake process may have removed it
    return changed + [p.relative_to(root).as_posix() for p in stale]


def refresh_params_files(spec: Spec, of: Iterable[Stage] | None = None, root: Path = ROOT) -> list[str]:
    """Bring the preset's params files up to date with params.yaml, and its code files with the source
    files: rewrite those that differ, remove those of stages or kinds that no longer exist; return what
    changed.

    The Snakefile calls this before planning, so even a Snakemake run of a few targets leaves none older
    than params.yaml behind it, and `dvc commit` after it records the params that ran; its params rule
    (nothing consumes it) then rewrites them with their record. Snakemake's rules track params through
    their `spec` param, not through these files: consuming them would rerun every rule on any params edit,
    and an `ancient()` input hides its consumers' own triggers (code, params) on the run that rewrites it.
    Under DVC the params stage writes them (dep params.yaml) and the code stage the code files (deps: the
    source files), so `dvc repro` refreshes them before it decides what else to rerun."""
    from mrgen.config.spec import check_dvc_readable
    if spec.path is not None:                      # what `dvc commit` after this run will parse
        check_dvc_readable(spec.path, spec.source)
    return (_refresh(params_files(spec, of), root / spec.paths.params_dir(), root)
            + _refresh(code_files(spec, root), root / spec.paths.code_dir(), root))
