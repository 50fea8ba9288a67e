"""The stage registry: each stage kind declared once. A declaration says which instances the config asks
for, and each instance's inputs, outputs (a pure function of the instance name, so it is also
Snakemake's output pattern), params keys, metrics and plots. dvc.yaml and the Snakemake rules are
generated from `KINDS` in one loop each (mrgen.dag), and the DAG-equality test takes what it expects
from `stages(spec)`. A kind's CLI is stages/<kind>.py; the code its numbers depend on is what that file
imports, transitively, less the infrastructure modules. Snakemake and the records track those files
themselves; DVC tracks one file per kind holding their sha256, written by the `code` stage (`dvc_deps`).

Resources per kind and preset come from params.yaml (`presets.<p>.resources.<kind>`); training asks for
its recipe's `gpus`. Building the DAG imports neither torch nor the models.
"""
from __future__ import annotations

import ast
import functools
import glob
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mrgen.config.schema import FIGURE_KINDS, TABLE_KINDS, Resources
from mrgen.config.spec import VARIANT_SECTION, Spec, SpecError
from mrgen.paths import ROOT, Paths

REFERENCE_PRESET = "paper"          # the preset whose parameter counts every table prints beside ours


@dataclass(frozen=True)
class Out:
    path: str
    cache: bool = True                  # False: a small result committed to git
    kind: str = "out"                   # out | metric | plot
    directory: bool = False


@dataclass
class Stage:
    """One node of the DAG: the same command, inputs, outputs and params keys for both engines.
    The provenance record is always the last output."""
    kind: str
    name: str
    preset: str
    cmd: str
    deps: list[str]
    outs: list[Out]
    params: list[str] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    log: str = ""
    params_file: str = ""               # where DVC reads its `params` keys (pipelines/<p>/params/<kind>-<name>.json)
    code: list[str] = field(default_factory=list)   # its source files: the first of `deps`
    code_file: str = ""                 # where DVC reads their sha256 (pipelines/<p>/code/<kind>.json); "": lists them

    @property
    def dvc_deps(self) -> list[str]:
        """The deps dvc.yaml declares: its kind's code file in place of the source files, then the data."""
        if not self.code_file:
            return list(self.deps)
        code = set(self.code)
        return [self.code_file] + [d for d in self.deps if d not in code]

    @property
    def id(self) -> str:
        return f"{self.kind}@{self.name}"

    @property
    def record(self) -> str:
        return self.outs[-1].path


@dataclass(frozen=True)
class Kind:
    """A stage kind's declaration."""
    name: str
    instances: Callable[[Spec], Iterable[str]]              # instance names, in DAG order
    deps: Callable[[Spec, str], list[str]]                  # data inputs (code added from `code`)
    outs: Callable[[Paths, str], list[Out]]                 # pure in the name; the record last
    params: Callable[[Spec, str], list[str]]                # dotted params.yaml keys it reads
    local: bool = False                                     # cheap: runs where the engine runs, never as a job
    gpus: Callable[[Spec, str], int] | None = None          # per-instance GPUs (train), else resources'
    resumable: bool = False                                 # SIGTERM/SIGUSR1: checkpoint, exit 75; a rerun resumes
    code: tuple[str, ...] = ()                              # globs added to (with "!": removed from) its imports
    fingerprinted: bool = True                              # DVC reads its code's sha256 from the code stage's file


def command(kind: str, preset: str, name: str) -> str:
    """`mrgen KIND --preset P NAME`: every word validated upstream, and quoted all the same."""
    return shlex.join(["mrgen", kind, "--preset", preset, name])


# Modules whose edits change no stage's numbers (they load params, run the contract, write records):
# never a code dependency, so editing them reruns nothing; records carry the git commit.
INFRASTRUCTURE = ("mrgen.config", "mrgen.registry", "mrgen.stage", "mrgen.provenance", "mrgen.io", "mrgen.paths",
                  "mrgen.errors", "mrgen.hashcache", "mrgen.dag", "mrgen.cli", "mrgen.times", "mrgen.cluster", "mrgen.__main__")


def _module_file(module: str) -> Path | None:
    p = ROOT / "src" / Path(*module.split("."))
    for f in (p / "__init__.py", p.with_suffix(".py")):
        if f.is_file():
            return f
    return None


def _imported(path: Path, package: str) -> set[str]:
    """Every mrgen module an `import` statement in `path` names (in functions too), with their packages."""
    found: set[str] = set()
    try:
        tree = ast.parse(path.read_text(), str(path))
    except SyntaxError as e:
        raise SpecError(f"{path.relative_to(ROOT)}:{e.lineno}: {e.msg}; cannot tell what the stage imports") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:                      # `mrgen.a.b` runs mrgen/a/__init__.py too
            parts = name.split(".")
            if parts[0] == "mrgen":
                found.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return found


@functools.cache
def imported_code(stage_file: str) -> frozenset[str]:
    """The library files a stage CLI runs: the closure of its mrgen imports, less INFRASTRUCTURE."""
    files, todo = {stage_file}, [(ROOT / stage_file, "stages")]
    while todo:
        path, package = todo.pop()
        for module in _imported(path, package):
            f = _module_file(module)
            if f is None or any(module == i or module.startswith(i + ".") for i in INFRASTRUCTURE):
                continue
            rel = f.relative_to(ROOT).as_posix()
            if rel not in files:
                files.add(rel)
                todo.append((f, module if f.name == "__init__.py" else module.rpartition(".")[0]))
    return frozenset(files)


def code(kind: str, *patterns: str) -> list[str]:
    """The source files a stage's numbers depend on: what stages/<kind>.py imports (transitively), plus
    files matching `patterns`, less those matching a pattern starting with "!" (e.g. plotting helpers a
    table stage imports but computes nothing with). Files, so mtime-based engines see edits."""
    files = set(imported_code(f"stages/{kind}.py"))
    for p in patterns:
        found = {Path(f).relative_to(ROOT).as_posix() for f in glob.glob(str(ROOT / p.lstrip("!")), recursive=True)}
        files = files - found if p.startswith("!") else files | found
    return sorted(f for f in files if f.endswith(".py"))


# ---------------------------------------------------------------- helpers the declarations share
def _record(path: str) -> Out:
    return Out(path, cache=False)


def _beside(path: str, suffix: str = ".provenance.json") -> str:
    """The record of a single-file or folder output: a sibling named after it."""
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return stem + suffix


def _runs_of(spec: Spec, kinds: tuple[str, ...]) -> list[str]:
    """Runs some experiment of these kinds needs (Fig 5 state traces, Fig 6 samples)."""
    return sorted({r for ex in spec.p["experiments"].values() if ex["kind"] in kinds
                   for panel in ex["panels"].values() for r in panel["variants"].values()})


def experiment_variants(spec: Spec, exp: str) -> list[str]:
    panels = spec.p["experiments"][exp]["panels"]
    return sorted({r for panel in panels.values() for r in panel["variants"].values()})


def wavelet_parts(spec: Spec) -> dict[str, tuple[str, str]]:
    """Training instances of the wavelet paper: '<model>-<part>' -> (model, part); a part another model
    shares (`shared:`) is trained once, by its owner."""
    return {f"{m}-{part}": (m, part) for m, wm in spec.p["wavelet_models"].items()
            for part, pd in wm["parts"].items() if pd["shared"] is None}


def wavelet_settings(spec: Spec) -> dict[str, tuple[str, int]]:
    """Sampling instances: '<model>-n<steps>' -> (model, steps)."""
    steps = spec.p["wavelet"]["steps"] if spec.p["wavelet"] else []
    return {f"{m}-n{n}": (m, n) for m in spec.p["wavelet_models"] for n in steps}


def wstats_datasets(spec: Spec) -> list[str]:
    """Datasets whose wavelet statistics a model (standardisation) or W5 / W6 needs."""
    used = {wm["dataset"] for wm in spec.p["wavelet_models"].values() if wm["method"] != "sgm"}
    used |= {d for ex in spec.p["experiments"].values() if ex["kind"] in ("w5", "w6")
             for panel in ex["panels"].values() for d in panel["variants"].values()}
    return sorted(used)


def describe_presets(spec: Spec) -> list[str]:
    """Whose parameter counts this preset's tables print: its own, and the paper-scale reference."""
    return list(dict.fromkeys([spec.preset, REFERENCE_PRESET] if REFERENCE_PRESET in spec.raw["presets"]
                              else [spec.preset]))


def report_inputs(spec: Spec, e: str) -> list[str]:
    """The files an experiment's table / figure reads: metrics, state traces, samples, statistics."""
    pa, ex = spec.paths, spec.p["experiments"][e]
    kind, variants = ex["kind"], experiment_variants(spec, e)
    if kind == "f5":
        files = [f"{pa.metrics_dir(r)}/states.json" for r in variants]
    elif kind == "f6":
        files = [pa.samples_file(r) for r in variants]
    elif kind in ("w5", "w6"):
        files = [pa.wstats_file(d) for d in variants]
    elif kind == "th2":
        files = [pa.th2_file(e)]
    elif kind in ("w1", "w4"):
        w = spec.p["wavelet"]
        steps = [w["w1_steps"]] if kind == "w1" else w["steps"]
        files = [f"{pa.metrics_dir(f'{m}-n{n}')}/{f}" for m in variants for n in steps
                 for f in ("fid.json", "timing.json")]
    else:
        files = [f"{pa.metrics_dir(r)}/nll.json" for r in variants]
    return files + [pa.describe_csv(p) for p in describe_presets(spec)]


def report_params(spec: Spec, e: str, figure: bool) -> list[str]:
    """The keys a table / figure reads: its experiment, the papers' printed numbers, and what decides
    whether our row measures what the paper's did (the paper-scale peer's dataset and settings)."""
    ex = spec.p["experiments"][e]
    keys = ["kind", "caption", "panels"] + ([] if ex["kind"] in VARIANT_SECTION else ["metric"])
    keys += ["figure"] if figure else []
    out = [spec.key("experiments", e, k) for k in keys]
    published = "w1" if ex["kind"] in ("w1", "w4") else e
    if published in spec.raw["published"]:
        out.append(f"published.{published}")
    if ex["kind"] in ("w1", "w4"):
        out += [spec.key("wavelet", "w1_steps"), spec.key("wavelet", "steps")]
    ref = spec.raw["presets"].get(REFERENCE_PRESET, {})
    if REFERENCE_PRESET == spec.preset or e not in ref.get("experiments", {}):
        return out
    r = f"presets.{REFERENCE_PRESET}"
    out.append(f"{r}.experiments.{e}.panels")                  # which paper config is each row's peer
    section = VARIANT_SECTION.get(ex["kind"], "runs")
    peers = sorted({v for panel in ref["experiments"][e]["panels"].values() for v in panel["variants"].values()})
    if section == "runs":
        out += [f"{r}.runs.{p}.dataset" for p in peers]
        out += [f"{r}.datasets.{d}.likelihood" for d in sorted({ref["runs"][p]["dataset"] for p in peers})]
    elif section == "wavelet_models":
        out += [f"{r}.wavelet_models.{p}.dataset" for p in peers] + [f"{r}.wavelet.w1_steps"]
    return out


def _run_params(spec: Spec, r: str) -> list[str]:
    run = spec.run(r)
    return [spec.key("runs", r), *spec.model_keys(run["model"]), spec.key("training", run["training"]),
            spec.key("datasets", run["dataset"])]


def _wtrain_deps(spec: Spec, name: str) -> list[str]:
    """A wavelet part trains on its dataset; the band models also on its per-scale standardisation."""
    model, part = wavelet_parts(spec)[name]
    d = spec.p["wavelet_models"][model]["dataset"]
    return [spec.paths.prepared(d)] + ([] if part in ("full", "gan") else [spec.paths.wstats_file(d)])


def _wtrain_recipe(spec: Spec, name: str) -> str:
    """The wavelet_training recipe a trained part names."""
    model, part = wavelet_parts(spec)[name]
    return spec.p["wavelet_models"][model]["parts"][part]["training"]


def _wtrain_params(spec: Spec, name: str) -> list[str]:
    model, part = wavelet_parts(spec)[name]
    wm = spec.p["wavelet_models"][model]
    return [spec.key("wavelet_models", model), spec.key("wavelet_nets", wm["parts"][part]["net"]),
            spec.key("wavelet_training", _wtrain_recipe(spec, name)), spec.key("wavelet", "horizon"),
            spec.key("wavelet", "schedule"), spec.key("datasets", wm["dataset"])]


def _wsample_deps(spec: Spec, name: str) -> list[str]:
    """Every part's EMA weights; the wavelet methods also the standardisation they sample in."""
    model = wavelet_settings(spec)[name][0]
    wm = spec.p["wavelet_models"][model]
    deps = [f"{spec.paths.model_dir(f'{spec.wavelet_part(model, part)[0]}-{part}')}/ema.pt" for part in wm["parts"]]
    return deps + ([] if wm["method"] == "sgm" else [spec.paths.wstats_file(wm["dataset"])])


def _describe_params(spec: Spec, p: str) -> list[str]:
    """Only what parameter counts depend on, so a paper training recipe never makes tiny tables stale."""
    pre = spec.raw["presets"][p]
    keys = [f"presets.{p}.runs.{r}.{f}" for r in pre["runs"] for f in ("dataset", "model")]
    keys += [k for m in sorted({run["model"] for run in pre["runs"].values()})
             for k in spec.model_keys(m, p)]
    datasets = {run["dataset"] for run in pre["runs"].values()} | {wm["dataset"] for wm in pre["wavelet_models"].values()}
    keys += [f"presets.{p}.datasets.{d}.{f}" for d in sorted(datasets)
             for f in ("image_size", "channels", "likelihood", "pad")]
    keys += [f"presets.{p}.wavelet_models.{m}.{f}" for m in pre["wavelet_models"] for f in ("dataset", "levels", "parts")]
    keys += [f"presets.{p}.wavelet_nets.{n}" for n in sorted({pd["net"] for wm in pre["wavelet_models"].values()
                                                              for pd in wm["parts"].values() if pd["net"]})]
    return list(dict.fromkeys(keys))


def _model_outs(pa: Paths, name: str) -> list[Out]:
    md = pa.model_dir(name)
    return [Out(f"{md}/model.pt"), Out(f"{md}/ema.pt"), Out(f"{md}/curve.csv", cache=False, kind="plot"),
            _record(f"{md}/provenance.json")]


def _report_outs(folder: str, exts: tuple[str, ...]):
    def outs(pa: Paths, e: str) -> list[Out]:
        make = pa.table if folder == "tables" else pa.figure
        return [Out(make(e, x), cache=False) for x in exts] + [_record(make(e, "provenance.json"))]
    return outs


def _reports(kinds: tuple[str, ...]):
    return lambda spec: [e for e, ex in spec.p["experiments"].items() if ex["kind"] in kinds]


def _fid_weights(spec: Spec) -> str:
    return spec.paths.raw_dir(spec.p["wavelet"]["fid"]["weights"])


def _page_outs(pa: Paths, p: str) -> list[Out]:
    return [Out(pa.report("html", p), cache=False), Out(pa.report("md", p), cache=False),
            _record(pa.report("provenance.json", p))]


def _page_deps(spec: Spec, p: str) -> list[str]:
    """What the report page reads: every table's metrics, every figure's PNG, and the provenance record of
    every stage upstream of a table or figure (found in the graph of the other kinds' stages)."""
    from mrgen.lineage import Graph  # lineage imports this module
    g = Graph({st.id: st for st in stages(spec, skip=("report",))})
    ex = spec.p["experiments"]
    files = [f for e in ex if ex[e]["kind"] in TABLE_KINDS for f in report_inputs(spec, e)]
    files += [spec.paths.figure(e, "png") for e in ex if ex[e]["kind"] in FIGURE_KINDS]
    up = set().union(*(g.upstream(t) for t in g.targets()))
    return list(dict.fromkeys(files + [st.record for i, st in g.stages.items() if i in up]))


def _page_params(spec: Spec, p: str) -> list[str]:
    """What the page reads: each table's keys (report_params), each figure-only experiment's kind and caption,
    and the tolerances against the papers' numbers."""
    keys = []
    for e, ex in spec.p["experiments"].items():
        keys += (report_params(spec, e, figure=False) if ex["kind"] in TABLE_KINDS
                 else [spec.key("experiments", e, k) for k in ("kind", "caption")])
    return keys + ["tolerances.paper"]


# ---------------------------------------------------------------- the stage kinds
_KINDS = [
    Kind("params", code=("src/mrgen/config/*.py", "src/mrgen/registry.py", "src/mrgen/dag.py", "src/mrgen/paths.py"),
         instances=lambda s: [s.preset],
         deps=lambda s, p: ["params.yaml"],
         outs=lambda pa, p: [Out(pa.params_dir(p), cache=False, directory=True), _record(_beside(pa.params_dir(p)))],
         params=lambda s, p: [],
         local=True),
    Kind("code", fingerprinted=False,
         instances=lambda s: [s.preset],
         deps=lambda s, p: fingerprinted_code(),
         outs=lambda pa, p: [Out(pa.code_dir(p), cache=False, directory=True), _record(_beside(pa.code_dir(p)))],
         params=lambda s, p: [],
         local=True),
    Kind("fetch", instances=lambda s: [*s.p["datasets"], *s.p["assets"]],
         deps=lambda s, d: [],
         outs=lambda pa, d: [Out(pa.raw_dir(d), directory=True), _record(f"{pa.raw_dir(d)}.provenance.json")],
         params=lambda s, d: [s.key("datasets" if d in s.p["datasets"] else "assets", d, "raw")]),
    Kind("prepare", instances=lambda s: list(s.p["datasets"]),
         deps=lambda s, d: [s.paths.raw_dir(d)],
         outs=lambda pa, d: [Out(pa.prepared(d), directory=True), _record(f"{pa.prepared(d)}.provenance.json")],
         params=lambda s, d: [s.key("datasets", d)]),
    Kind("train", instances=lambda s: list(s.p["runs"]),
         deps=lambda s, r: [s.paths.prepared(s.run(r)["dataset"])],
         outs=_model_outs,
         params=_run_params,
         gpus=lambda s, r: s.p["training"][s.run(r)["training"]]["gpus"],
         resumable=True),
    Kind("evaluate", instances=lambda s: list(s.p["runs"]),
         deps=lambda s, r: [s.paths.prepared(s.run(r)["dataset"]), f"{s.paths.model_dir(r)}/ema.pt"],
         outs=lambda pa, r: [Out(f"{pa.metrics_dir(r)}/nll.json", cache=False, kind="metric"),
                             _record(f"{pa.metrics_dir(r)}/provenance.json")],
         params=lambda s, r: [s.key("runs", r)] + [s.key("evaluation", k) for k in
                                                   ("batch_size", "seed", "iw_samples", "iw_images")]),
    Kind("states", instances=lambda s: _runs_of(s, ("f5",)),
         deps=lambda s, r: [s.paths.prepared(s.run(r)["dataset"]), f"{s.paths.model_dir(r)}/ema.pt"],
         outs=lambda pa, r: [Out(f"{pa.metrics_dir(r)}/states.json", cache=False),
                             _record(f"{pa.metrics_dir(r)}/states.provenance.json")],
         params=lambda s, r: [s.key("runs", r), s.key("evaluation", "states"), s.key("evaluation", "seed")]),
    Kind("sample", instances=lambda s: _runs_of(s, ("f6",)),
         deps=lambda s, r: [f"{s.paths.model_dir(r)}/ema.pt"],
         outs=lambda pa, r: [Out(pa.samples_file(r), cache=False), _record(_beside(pa.samples_file(r)))],
         params=lambda s, r: [s.key("runs", r), s.key("evaluation", "samples"), s.key("evaluation", "seed")]),
    Kind("wstats", instances=wstats_datasets,
         deps=lambda s, d: [s.paths.prepared(d)],
         outs=lambda pa, d: [Out(pa.wstats_file(d), cache=False), _record(_beside(pa.wstats_file(d)))],
         params=lambda s, d: [s.key("wavelet", "analysis")] + [s.key("wavelet_models", m, "levels") for m, wm in
                                                               s.p["wavelet_models"].items()
                                                               if wm["dataset"] == d and wm["method"] != "sgm"]),
    Kind("th2", instances=_reports(("th2",)),
         deps=lambda s, e: [s.paths.prepared(s.p["wavelet"]["th2"]["dataset"])],
         outs=lambda pa, e: [Out(pa.th2_file(e), cache=False), _record(_beside(pa.th2_file(e)))],
         params=lambda s, e: [s.key("wavelet", "th2")]),
    Kind("wtrain", instances=lambda s: list(wavelet_parts(s)),
         deps=_wtrain_deps,
         outs=_model_outs,
         params=_wtrain_params,
         gpus=lambda s, n: s.p["wavelet_training"][_wtrain_recipe(s, n)]["gpus"],
         resumable=True),
    Kind("wsample", instances=lambda s: list(wavelet_settings(s)),
         deps=_wsample_deps,
         outs=lambda pa, n: [Out(pa.samples_dir(n), directory=True),
                             Out(f"{pa.metrics_dir(n)}/timing.json", cache=False, kind="metric"),
                             _record(f"{pa.metrics_dir(n)}/sample.provenance.json")],
         params=lambda s, n: [s.key("wavelet_models", wavelet_settings(s)[n][0])]
         + [s.key("wavelet", k) for k in ("horizon", "schedule", "samples", "sample_batch", "seed")]),
    Kind("fidref", instances=lambda s: sorted({s.p["wavelet_models"][m]["dataset"] for m, _ in wavelet_settings(s).values()}),
         deps=lambda s, d: [s.paths.prepared(d), _fid_weights(s)],
         outs=lambda pa, d: [Out(pa.fidref_file(d)), _record(_beside(pa.fidref_file(d)))],
         params=lambda s, d: [s.key("wavelet", "fid")]),
    Kind("fid", instances=lambda s: list(wavelet_settings(s)),
         deps=lambda s, n: [s.paths.samples_dir(n),
                            s.paths.fidref_file(s.p["wavelet_models"][wavelet_settings(s)[n][0]]["dataset"]),
                            _fid_weights(s)],
         outs=lambda pa, n: [Out(f"{pa.metrics_dir(n)}/fid.json", cache=False, kind="metric"),
                             _record(f"{pa.metrics_dir(n)}/fid.provenance.json")],
         params=lambda s, n: [s.key("wavelet", "fid")]),
    Kind("describe", instances=describe_presets,
         deps=lambda s, p: [],
         outs=lambda pa, p: [Out(pa.describe_csv(p), cache=False), _record(_beside(pa.describe_csv(p)))],
         params=lambda s, p: _describe_params(s, p),
         local=True),
    Kind("table", code=("!src/mrgen/report/figures.py",),
         instances=_reports(TABLE_KINDS),
         deps=report_inputs,
         outs=_report_outs("tables", ("md", "csv", "tex")),
         params=lambda s, e: report_params(s, e, figure=False),
         local=True),
    Kind("figure", instances=_reports(FIGURE_KINDS),
         deps=report_inputs,
         outs=_report_outs("figures", ("png", "pdf")),
         params=lambda s, e: report_params(s, e, figure=True),
         local=True),
    Kind("report", code=("!src/mrgen/report/figures.py",),
         instances=lambda s: [s.preset],
         deps=_page_deps,
         outs=_page_outs,
         params=_page_params,
         local=True),
]
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}


def kind_code(kind: Kind) -> list[str]:
    return code(kind.name, *kind.code)


def fingerprinted_code() -> list[str]:
    """Every source file a fingerprinted kind's numbers depend on: what the code stage hashes."""
    return sorted({f for k in _KINDS if k.fingerprinted for f in kind_code(k)})


def build(spec: Spec, kind: Kind, name: str) -> Stage:
    """One instance of a kind: what both engines run, read, write and track."""
    res = Resources(**spec.p["resources"].get(kind.name, {}))
    if kind.gpus is not None:
        res = res.model_copy(update={"gpus": kind.gpus(spec, name)})
    params = list(dict.fromkeys(spec.tracked(k) for k in kind.params(spec, name)))
    files = kind_code(kind)
    return Stage(kind.name, name, spec.preset, command(kind.name, spec.preset, name),
                 list(dict.fromkeys(files + kind.deps(spec, name))), kind.outs(spec.paths, name),
                 params, res, spec.paths.log(kind.name, name),
                 spec.paths.params_file(kind.name, name) if params else "", files,
                 spec.paths.code_file(kind.name) if kind.fingerprinted else "")


def check(spec: Spec) -> Spec:
    """What only the registry can check in params: resources are declared for stage kinds that exist."""
    for p, pre in spec.raw["presets"].items():
        for kind in pre["resources"]:
            if kind not in KINDS:
                raise SpecError(f"{spec.source}: presets.{p}.resources.{kind}: expected a stage kind, one of {sorted(KINDS)}")
    return spec


def stages(spec: Spec, skip: tuple[str, ...] = ()) -> list[Stage]:
    """Every stage instance of the spec's preset, kind by kind in registry order (less the kinds in `skip`)."""
    check(spec)
    return [build(spec, kind, name) for kind in KINDS.values() if kind.name not in skip
            for name in kind.instances(spec)]


def stage(spec: Spec, kind: str, name: str) -> Stage:
    """The instance `kind@name` of the spec's preset, or one line saying which names exist."""
    if kind not in KINDS:
        raise SpecError(f"no stage kind {kind!r}; expected one of {sorted(KINDS)}")
    names = list(KINDS[kind].instances(check(spec)))
    if name not in names:
        raise SpecError(f"{spec.source}: preset {spec.preset!r} has no {kind} stage named {name!r}; "
                        f"expected one of {names[:12]}{' ...' if len(names) > 12 else ''}")
    return build(spec, KINDS[kind], name)
