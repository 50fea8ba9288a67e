"""`mrgen status [TARGET ...]`: which stages would rerun, and why, in one view.

Each stage instance (of the targets' upstream; default every stage of the preset) is compared with its
provenance record, in DAG order:

- no record (never run), or a record that cannot be read;
- a declared input whose sha256 now differs from the record's `inputs`: a code file (named as code), a file
  another stage makes (named with its producer, and whether that producer reruns), any other file
  (params.yaml); an input declared now but not in the record, or recorded but no longer declared;
- a params key whose value now (`Spec.lookup`, what the stage would read) differs from the record's, each
  changed leaf with its old and new values; a key read now but not recorded, or recorded but no longer read;
- a declared output that is missing or whose sha256 differs from the record's `outputs` (edited since);
- propagation: a stage downstream of one that reruns reruns too ("because P reruns").

Hashes come from mrgen.io.sha256_path, cached by size / mtime / ctime / inode (mrgen.hashcache), so a
status with nothing to do reads records and stats files. Nothing here imports torch.

`--engines` also asks both engines (`dvc status --json <the preset's dvc.yaml>` and `snakemake -n`) and
compares their rerun sets with ours. `dvc status` names only stages whose own deps, params or outs differ
from dvc.lock; `dvc repro` runs those and then, as it reaches them, every stage downstream whose inputs
they rewrote: its rerun set is the named stages and everything downstream of them (params files are
refreshed first, as `dvc repro`'s params stage and Snakemake's planning do). `snakemake -n` lists each
job it would run (triggers: mtime, params, input, code). Snakemake decides by modification times, so
an output edited by hand is newer than its inputs and Snakemake keeps it; DVC and `mrgen status` rerun
its stage (its content is not what the record says the stage made). tests/test_status.py checks the
three agree after a code edit, a params edit and an edited metrics file on a real build of the tiny DAG.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mrgen.config.spec import Spec, SpecError
from mrgen.io import sha256_path
from mrgen.lineage import ABSENT, Graph, graph, leaf_changes, read_record, show
from mrgen.paths import ROOT

ARROW = "→"


@dataclass
class Reason:
    """One reason a stage reruns: `kind` is record | code | input | param | output | upstream."""
    kind: str
    text: str
    path: str | None = None            # the file (code, input, output) or the params key
    old: object = None                 # sha256 or params value in the record
    new: object = None                 # ... now
    producer: str | None = None        # for an input another stage makes: that stage's id
    parents: list[str] | None = None   # upstream: the parents that rerun


@dataclass
class Result:
    spec: Spec
    considered: list[str]                                   # stage ids looked at, DAG order
    rerun: dict[str, list[Reason]] = field(default_factory=dict)   # id -> reasons, DAG order
    targets: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n, m = len(self.rerun), len(self.considered)
        scope = f" (upstream of {', '.join(self.targets)})" if self.targets else ""
        if not n:
            return f"nothing to do: {m} of {m} stages{scope} are up to date"
        return f"{n} of {m} stages{scope} would rerun"


def short(h: str | None) -> str:
    return h[:8] if isinstance(h, str) else "none"


def _join(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} and {ids[-1]}"


class Status:
    """One preset's stages against their records, in a checkout at `root`."""

    def __init__(self, spec: Spec, root: Path = ROOT, dag: Graph | None = None):
        self.spec, self.root = spec, Path(root)
        self.graph = dag or graph(spec)
        self._digests: dict[str, str | None] = {}

    def digest(self, path: str) -> str | None:
        """The sha256 of a path of the checkout now (None when missing), once per run."""
        if path not in self._digests:
            p = self.root / path
            self._digests[path] = sha256_path(p) if p.exists() else None
        return self._digests[path]

    def resolve(self, names: list[str]) -> list[str]:
        """TARGET words -> the stage ids they name; one line naming what exists when one is unknown."""
        out: list[str] = []
        for n in names:
            ids = self.graph.find(n)
            if not ids:
                known = sorted({self.graph.stages[t].name for t in self.graph.targets()})
                kinds = sorted({st.kind for st in self.graph.stages.values()})
                raise SpecError(f"{n}: no such target in preset {self.spec.preset!r}; expected an experiment "
                                f"({', '.join(known)}), a stage id KIND@NAME (kinds: {', '.join(kinds)}; "
                                f"`mrgen stages --preset {self.spec.preset}` lists them), or a file a stage writes")
            out += [i for i in ids if i not in out]
        return out

    def considered(self, ids: list[str]) -> list[str]:
        """The targets and every stage upstream of them, in DAG order (all stages when no targets)."""
        if not ids:
            return list(self.graph.stages)
        seen = {u for i in ids for u in self.graph.upstream(i)}
        return [i for i in self.graph.stages if i in seen]

    def run(self, names: list[str] = ()) -> Result:
        targets = self.resolve(list(names))
        res = Result(self.spec, self.considered(targets), targets=list(names))
        for sid in res.considered:
            reasons = self.check(sid, res.rerun)
            if reasons:
                res.rerun[sid] = reasons
        return res

    # ---------------------------------------------------------------- one stage
    def check(self, sid: str, rerun: dict[str, list[Reason]]) -> list[Reason]:
        """Why `sid` reruns, given the stages before it in DAG order that do (`rerun`); [] if it does not."""
        st = self.graph.stages[sid]
        rec, why = read_record(st.record, self.root)
        if rec is None:
            if why == "missing":
                return [Reason("record", f"never run (no record {st.record})", st.record)]
            return [Reason("record", f"record {st.record} unreadable: {why}", st.record)]
        out: list[Reason] = []
        named: set[str] = set()                         # rerunning producers an input reason already names
        recorded = rec["inputs"]
        for dep in st.deps:
            hit = self.graph.output_of(dep)
            producer = hit[0] if hit and hit[0] != sid else None
            code = producer is None and dep.endswith(".py")
            what = "code" if code else "input"
            now, then = self.digest(dep), recorded.get(dep)
            if dep not in recorded:
                out.append(Reason(what, f"a new {'code file' if code else 'input'} {dep} (not in its record)",
                                  dep, None, now, producer))
                continue
            if now == then:
                continue
            if producer in rerun:
                named.add(producer)
                state = "missing" if now is None else "changed"
                out.append(Reason("input", f"input {dep} {state} (its producer {producer} reruns)", dep, then, now,
                                  producer))
            elif now is None:
                out.append(Reason(what, f"{what} {dep} missing", dep, then, None, producer))
            elif producer:
                out.append(Reason("input", f"input {dep} changed (sha256 {short(then)} {ARROW} {short(now)}; "
                                           f"{producer} rewrote it after this stage ran)", dep, then, now, producer))
            else:
                out.append(Reason(what, f"{what} {dep} changed (sha256 {short(then)} {ARROW} {short(now)})",
                                  dep, then, now))
        for dep in recorded:
            if dep not in st.deps:
                out.append(Reason("input", f"input {dep} removed (in its record, no longer declared)", dep,
                                  recorded[dep], None))
        out += self._params(st.params, rec.get("params") if isinstance(rec.get("params"), dict) else {})
        outs = rec["outputs"]
        declared = [o for o in st.outs[:-1]]
        for o in declared:
            now = self.digest(o.path)
            if now is None:
                hint = " (`dvc checkout` restores it if DVC's cache holds it)" if o.cache else ""
                out.append(Reason("output", f"output {o.path} missing{hint}", o.path, outs.get(o.path), None))
            elif o.path not in outs:
                out.append(Reason("output", f"output {o.path} not in its record", o.path, None, now))
            elif now != outs[o.path]:
                out.append(Reason("output", f"output {o.path} edited since its record (sha256 "
                                            f"{short(outs[o.path])} {ARROW} {short(now)})", o.path, outs[o.path], now))
        for path in outs:
            if path not in {o.path for o in declared}:
                out.append(Reason("output", f"output {path} no longer declared (in its record)", path, outs[path]))
        parents = [p for p in self.graph.parents(sid) if p in rerun and p not in named]
        if parents:
            out.append(Reason("upstream", f"because {_join(parents)} rerun{'s' if len(parents) == 1 else ''}",
                              parents=parents))
        return out

    def _params(self, keys: list[str], recorded: dict) -> list[Reason]:
        out = []
        for key in keys:
            try:
                now = self.spec.lookup(key)
            except (KeyError, TypeError):
                now = ABSENT
            if key not in recorded:
                out.append(Reason("param", f"param {key} added (not in its record)", key, None,
                                  None if now is ABSENT else now))
                continue
            for k, old, new in leaf_changes(key, recorded[key], now):
                out.append(Reason("param", f"param {k} {show(old)} {ARROW} {show(new)}", k,
                                  None if old is ABSENT else old, None if new is ABSENT else new))
        for key in recorded:
            if key not in keys:
                out.append(Reason("param", f"param {key} removed (in its record, no longer read)", key, recorded[key]))
        return out


# ---------------------------------------------------------------- the engines' view
def _tool(name: str) -> str:
    """An engine's executable: beside this Python's (the project's venv), else on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.is_file() else name


def _call(cmd: list[str], root: Path) -> str:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    try:
        r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    except OSError as e:
        raise SpecError(f"{cmd[0]}: cannot run it ({e.strerror}); --engines needs the project's environment") from None
    if r.returncode != 0:
        last = next((line.strip() for line in reversed((r.stderr or r.stdout).splitlines()) if line.strip()), "")
        raise SpecError(f"`{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}` failed "
                        f"(exit {r.returncode}): {last}")
    return r.stdout + "\n" + r.stderr


def dvc_view(st: Status) -> tuple[dict[str, str], list[str]]:
    """Stages `dvc status` names (id -> what it says changed), the preset's dvc.yaml as target; and the params
    files refreshed first (DVC reads each stage's params from them; `dvc repro` refreshes them first)."""
    from mrgen.dag import dvc_file, dvc_name, refresh_params_files
    refreshed = refresh_params_files(st.spec, root=st.root)
    ids = {dvc_name(s): s.id for s in st.graph.stages.values()}
    text = _call([_tool("dvc"), "status", "--json", dvc_file(st.spec)], st.root)
    try:
        doc = json.loads(text[text.index("{"):text.rindex("}") + 1]) if "{" in text else {}
    except ValueError:
        raise SpecError(f"dvc status --json: not JSON: {text.strip()[:120]}") from None
    out = {}
    for name, changes in doc.items():
        sid = ids.get(name.rpartition(":")[2])
        if sid is None:
            continue
        parts = []
        for c in changes if isinstance(changes, list) else [changes]:
            if isinstance(c, dict):
                for what, files in c.items():
                    items = ", ".join(f"{p}: {s}" for p, s in files.items()) if isinstance(files, dict) else str(files)
                    parts.append(f"{what}: {items}" if items else what)
            else:
                parts.append(str(c))
        out[sid] = "; ".join(parts) or "changed"
    return out, refreshed


JOB = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")


def snakemake_view(st: Status) -> dict[str, str]:
    """Jobs `snakemake -n` would run (id -> its reason line)."""
    text = _call([_tool("snakemake"), "-n", "--nolock", "--profile", "workflow/profiles/local",
                  "--config", f"preset={st.spec.preset}"], st.root)
    out, rule, reason = {}, None, ""
    for line in text.splitlines():
        m = JOB.match(line)
        if m:
            rule, reason = m.group(1), ""
            continue
        s = line.strip()
        if rule and s.startswith("reason:"):
            reason = s.removeprefix("reason:").strip()
        elif rule and s.startswith("wildcards:"):
            name = dict(w.split("=", 1) for w in s.removeprefix("wildcards:").strip().split(", ") if "=" in w).get("name")
            if name and f"{rule}@{name}" in st.graph.stages:
                out[f"{rule}@{name}"] = reason or "(no reason given)"
            rule = None
    return out


def downstream(g: Graph, ids) -> set[str]:
    """These stages and every stage that reads from them, transitively."""
    found = set(ids)
    for sid in g.stages:                                # DAG order: parents come first
        if sid not in found and any(p in found for p in g.parents(sid)):
            found.add(sid)
    return found


def engines(st: Status, res: Result) -> dict:
    """Each engine's rerun set over the considered stages, and where it differs from ours."""
    scope = set(res.considered)
    ours = set(res.rerun)
    dvc, refreshed = dvc_view(st)
    smk = snakemake_view(st)
    views = {
        "dvc": (downstream(st.graph, dvc) & scope, {**{i: "downstream of a stage dvc status names" for i in
                                                        downstream(st.graph, dvc)}, **dvc}),
        "snakemake": (set(smk) & scope, smk),
    }
    out = {}
    for name, (theirs, why) in views.items():
        missing = [i for i in res.considered if i in ours and i not in theirs]
        extra = [i for i in res.considered if i in theirs and i not in ours]
        out[name] = {"agrees": not missing and not extra, "count": len(theirs),
                     "named": sorted(i for i in (dvc if name == "dvc" else smk) if i in scope),
                     "not_theirs": {i: res.rerun[i][0].text for i in missing},
                     "only_theirs": {i: why.get(i, "") for i in extra}}
    out["dvc"]["refreshed"] = refreshed
    return out


def _engine_lines(doc: dict) -> list[str]:
    lines = []
    label = {"dvc": "DVC", "snakemake": "Snakemake"}
    how = {"dvc": "dvc status names {n}, dvc repro also runs what is downstream of them",
           "snakemake": "the jobs snakemake -n lists"}
    for name, d in doc.items():
        said = f"{d['count']} stage{'' if d['count'] == 1 else 's'} ({how[name].format(n=len(d['named']))})"
        if d.get("refreshed"):
            said += f"; {len(d['refreshed'])} params files refreshed from params.yaml first, as dvc repro would"
        if d["agrees"]:
            lines.append(f"{label[name]} agrees: {said}")
            continue
        lines.append(f"{label[name]} differs: {said}")
        for i, why in d["not_theirs"].items():
            note = ("; Snakemake goes by modification times, and an output edited by hand is newer than its inputs"
                    if name == "snakemake" and "edited since its record" in why else "")
            lines.append(f"  {i}: we rerun it, {label[name]} would not: {why}{note}")
        for i, why in d["only_theirs"].items():
            lines.append(f"  {i}: {label[name]} would run it, we would not: {why}")
    return lines


NOT_ASKED = ("engines not asked: `mrgen status --engines` runs `dvc status` and `snakemake -n` and names any stage "
             "where their rerun set differs (tests/test_status.py checks they agree after code, params and output edits)")


def render(res: Result, engine_doc: dict | None = None) -> str:
    lines = []
    for sid, reasons in res.rerun.items():
        pad = " " * (len(sid) + 2)
        lines += [f"{sid}: {reasons[0].text}"] + [pad + r.text for r in reasons[1:]]
    lines.append(res.summary())
    lines += _engine_lines(engine_doc) if engine_doc is not None else [NOT_ASKED]
    return "\n".join(lines)


def as_json(res: Result, engine_doc: dict | None = None) -> dict:
    def reason(r: Reason) -> dict:
        return {k: v for k, v in asdict(r).items() if v is not None}
    return {"preset": res.spec.preset, "targets": res.targets, "considered": len(res.considered),
            "rerun": {sid: [reason(r) for r in rs] for sid, rs in res.rerun.items()},
            "summary": res.summary(), "engines": engine_doc}


def status(spec: Spec, targets: list[str] = (), root: Path = ROOT) -> Result:
    return Status(spec, root).run(list(targets))


def cli(preset: str | None, targets: list[str], to_json: bool, ask_engines: bool) -> None:
    """`mrgen status`: print the stages that would rerun with their reasons and a summary; exit 1 only when
    --engines finds an engine whose rerun set differs."""
    from mrgen.config.spec import load
    st = Status(load(preset=preset))
    res = st.run(targets)
    doc = engines(st, res) if ask_engines else None
    print(json.dumps(as_json(res, doc), indent=1, ensure_ascii=False) if to_json else render(res, doc))
    if doc is not None and not all(d["agrees"] for d in doc.values()):
        sys.exit(1)
