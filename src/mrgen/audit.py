"""`mrgen audit`: walk every published number back to the raw bytes, verifying each link.

For each table or figure, every stage upstream of it is checked against its provenance record:

- the record exists, is readable and names this stage;
- each output's sha256 equals the record's, in the workspace or, when the workspace lacks a DVC-cached
  output, in DVC's cache (else "not in cache": `dvc pull`); a metrics file's own identity field (`run`,
  `model`, `steps`, `dataset`) names this stage's instance (a swapped or copied file is caught even after
  `dvc commit -f`, because records are git-tracked and DVC never rewrites them);
- each input: the hash the consumer recorded equals the hash its producer's record says it wrote (a broken
  link otherwise), and the file now is still that file (else the result is stale); code files likewise;
- each params key the stage reads has the value it ran with (else stale, with old and new values);
- the code that ran was the commit's (`git.code_changed` empty) and the commit exists here; the
  environment is this one (requirements.lock's sha256);
- dvc.lock agrees with the record (same bytes: its md5 of each output is the md5 of the file whose sha256
  the record holds), and holds one hash per path across all its stages;
- a table re-rendered from its metrics equals its md, csv and tex files; a fetched dataset's raw files
  have the sha256 declared in params.yaml.

`record_status` runs the checks that need records only (no data files): the report page shows it.
"""
from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

import yaml

from mrgen.config.spec import Spec, SpecError
from mrgen.dag import dvc_file, dvc_name
from mrgen.hashcache import cached_digest
from mrgen.io import ENGINE_MARKERS, folder_digest, folder_files, sha256_file
from mrgen.lineage import Graph, graph, leaf_changes, read_record, same, show
from mrgen.paths import ROOT
from mrgen.registry import Stage, wavelet_settings

OK, FAIL, ABSENT = "ok", "fail", "absent"          # absent: in neither the workspace nor DVC's cache
MARK = {OK: "✓", FAIL: "✗", ABSENT: "○"}
DATA_KINDS = ("fetch", "prepare", "train", "wtrain")   # whose outputs are the heavy inputs (DVC-cached)


@dataclass
class Check:
    status: str
    text: str


@dataclass
class StageAudit:
    """One stage instance's links, each checked."""
    id: str
    record: str
    checks: list[Check] = field(default_factory=list)

    def add(self, status: str, text: str) -> None:
        self.checks.append(Check(status, text))

    @property
    def status(self) -> str:
        found = {c.status for c in self.checks}
        return FAIL if FAIL in found else ABSENT if ABSENT in found else OK


def identity(spec: Spec, st: Stage) -> dict[str, dict]:
    """What each metrics file a stage writes must say about itself: output path -> {field: value}."""
    pa, n = spec.paths, st.name
    if st.kind == "evaluate":
        return {f"{pa.metrics_dir(n)}/nll.json": {"run": n}}
    if st.kind == "states":
        return {f"{pa.metrics_dir(n)}/states.json": {"run": n}}
    if st.kind in ("wsample", "fid"):
        model, steps = wavelet_settings(spec)[n]
        f = "timing.json" if st.kind == "wsample" else "fid.json"
        return {f"{pa.metrics_dir(n)}/{f}": {"model": model, "steps": steps}}
    if st.kind == "wstats":
        return {pa.wstats_file(n): {"dataset": n}}
    return {}


class DvcLock:
    """A dvc.lock: path -> md5 per stage, and DVC's cache, where a cached output's bytes can be found."""

    def __init__(self, path: Path, root: Path):
        self.path, self.root = path, root
        self.stages: dict[str, dict[str, str]] = {}
        self.error = None
        if not path.is_file():
            self.error = f"{path.relative_to(root)}: missing (nothing recorded with DVC yet)"
            return
        try:
            doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
            for name, body in (doc.get("stages") or {}).items():
                self.stages[name] = {e["path"]: e.get("md5") for e in (body.get("deps") or []) + (body.get("outs") or [])}
        except (yaml.YAMLError, AttributeError, KeyError, TypeError) as e:
            self.error = f"{path.relative_to(root)}: not a readable dvc.lock ({type(e).__name__})"

    @cached_property
    def conflicts(self) -> dict[str, set[str]]:
        """Paths the lock holds with two or more different hashes (a lock no single state of the files made)."""
        seen: dict[str, set[str]] = {}
        for entries in self.stages.values():
            for p, md5 in entries.items():
                seen.setdefault(p, set()).add(md5)
        return {p: s for p, s in seen.items() if len(s) > 1}

    def object(self, md5: str) -> Path:
        return self.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]

    def cached_sha256(self, md5: str | None, sub: str = "") -> str | None:
        """The sha256 (mrgen.io.sha256_path's) of the bytes DVC's cache holds for an output with lock hash
        `md5` (or of `sub`, a path inside a folder output); None when the cache lacks them."""
        if not md5:
            return None
        if not md5.endswith(".dir"):
            obj = self.object(md5)
            return cached_digest(obj) if obj.is_file() and not sub else None
        manifest = self.object(md5)
        try:
            entries = json.loads(manifest.read_text())
        except (OSError, ValueError):
            return None
        entries = [e for e in entries if PurePosixPath(e["relpath"]).name not in ENGINE_MARKERS]
        if sub:
            if any(e["relpath"] == sub for e in entries):
                obj = self.object(next(e["md5"] for e in entries if e["relpath"] == sub))
                return cached_digest(obj) if obj.is_file() else None
            entries = [dict(e, relpath=e["relpath"][len(sub) + 1:]) for e in entries if e["relpath"].startswith(sub + "/")]
        lines = []
        for e in sorted(entries, key=lambda e: PurePosixPath(e["relpath"]).parts):
            obj = self.object(e["md5"])
            if not obj.is_file():
                return None
            lines.append(f"{e['relpath']} {cached_digest(obj)}")
        return folder_digest(lines) if lines else None

    def md5_matches(self, path: Path, md5: str) -> bool:
        """Whether the workspace file or folder at `path` has DVC's hash `md5` (a folder: file by file)."""
        if not md5.endswith(".dir"):
            return path.is_file() and cached_digest(path, "md5") == md5
        try:
            entries = json.loads(self.object(md5).read_text())
        except (OSError, ValueError):
            return True                                # the manifest is not here: nothing to compare with
        want = {e["relpath"]: e["md5"] for e in entries if PurePosixPath(e["relpath"]).name not in ENGINE_MARKERS}
        have = {p.relative_to(path).as_posix(): cached_digest(p, "md5") for p in folder_files(path)}
        return want == have


class Auditor:
    """The checks of one preset's records against the workspace, DVC's cache, dvc.lock and params.yaml."""

    def __init__(self, spec: Spec, root: Path = ROOT, deep: bool = True):
        """deep=False: records only (what the report stage may read): each record against the records it
        links to, never the files, code, params.yaml or git they name."""
        self.spec, self.root, self.deep = spec, Path(root), deep
        self.graph: Graph = graph(spec)
        lock_file = self.root / "requirements.lock"
        self.env_lock = sha256_file(lock_file) if lock_file.is_file() and deep else None
        self._records_lock = False                      # records only: env_lock taken from the first record
        self._records: dict[str, tuple[dict | None, str | None]] = {}
        self._audits: dict[str, StageAudit] = {}
        self._hashes: dict[str, tuple[str, str | None]] = {}

    @cached_property
    def lock(self) -> DvcLock:
        return DvcLock((self.root / dvc_file(self.spec)).with_suffix(".lock"), self.root)

    # ------------------------------------------------------------ reading
    def record(self, sid: str) -> tuple[dict | None, str | None]:
        if sid not in self._records:
            self._records[sid] = read_record(self.graph.stages[sid].record, self.root)
        return self._records[sid]

    def current(self, path: str) -> tuple[str, str | None]:
        """(where, sha256) of a path now: ("workspace", h), ("cache", h) for a DVC-cached output the
        workspace lacks, or ("absent", None)."""
        if path not in self._hashes:
            from mrgen.io import sha256_path
            p = self.root / path
            if p.exists():
                self._hashes[path] = ("workspace", sha256_path(p))
            else:
                hit = self.graph.output_of(path)
                md5 = None
                if hit:
                    md5 = self.lock.stages.get(dvc_name(self.graph.stages[hit[0]]), {}).get(hit[1])
                sub = path[len(hit[1]) + 1:] if hit and path != hit[1] else ""
                h = self.lock.cached_sha256(md5, sub)
                self._hashes[path] = ("cache", h) if h else ("absent", None)
        return self._hashes[path]

    def recorded_output(self, path: str) -> tuple[str, str | None] | None:
        """(producer id, the sha256 its record says it wrote at `path`) for a path some stage makes."""
        hit = self.graph.output_of(path)
        if hit is None:
            return None
        rec, _ = self.record(hit[0])
        return hit[0], (rec or {}).get("outputs", {}).get(path) if hit[1] == path else None

    # ------------------------------------------------------------ one stage
    def stage(self, sid: str) -> StageAudit:
        if sid not in self._audits:
            self._audits[sid] = self._audit(sid)
        return self._audits[sid]

    def _audit(self, sid: str) -> StageAudit:
        st = self.graph.stages[sid]
        a = StageAudit(sid, st.record)
        rec, why = self.record(sid)
        if rec is None:
            a.add(FAIL, f"record {st.record}: {why} (a broken link: run the stage)")
            return a
        if (rec.get("stage"), rec.get("instance"), rec.get("preset")) != (st.kind, st.name, self.spec.preset):
            a.add(FAIL, f"record {st.record} is of {rec.get('stage')}@{rec.get('instance')} "
                        f"({rec.get('preset')}), not of {sid}")
            return a
        a.add(OK, f"record {st.record}")
        self._outputs(st, rec, a)
        self._inputs(st, rec, a)
        if self.deep:
            self._params(st, rec, a)
        self._code_and_env(rec, a)
        if self.deep:
            self._dvc_lock(st, rec, a)
        if st.kind == "table" and self.deep:
            self._rerender(st, a)
        if st.kind == "fetch":
            self._declared_raw(st, rec, a)
        return a

    def _outputs(self, st: Stage, rec: dict, a: StageAudit) -> None:
        expect = identity(self.spec, st)
        for o in st.outs[:-1]:
            want = rec["outputs"].get(o.path)
            if want is None:
                a.add(FAIL, f"{o.path}: not in its record's outputs")
                continue
            if not self.deep:
                continue
            where, now = self.current(o.path)
            if where == "absent":
                a.add(ABSENT if o.cache else FAIL, f"{o.path}: not in the workspace"
                      + (" nor DVC's cache (run `dvc pull`)" if o.cache else " (a git-tracked output: restore it with git)"))
            elif now != want:
                a.add(FAIL, f"{o.path}: edited or replaced since its record (sha256 {now[:12]}, record {want[:12]})")
            else:
                a.add(OK, f"{o.path}: sha256 {now[:12]} = record" + (" (in DVC's cache)" if where == "cache" else ""))
            fields = expect.get(o.path)
            if fields and where == "workspace":
                try:
                    data = json.loads((self.root / o.path).read_text())
                except (OSError, ValueError):
                    data = None
                found = {k: data.get(k) if isinstance(data, dict) else None for k in fields}
                if found != fields:
                    a.add(FAIL, f"{o.path}: says {found}, expected {fields} (swapped or copied from another run)")

    def _inputs(self, st: Stage, rec: dict, a: StageAudit) -> None:
        for dep in st.deps:
            seen = rec["inputs"].get(dep)
            if seen is None:
                a.add(FAIL, f"{dep}: an input not in its record (the stage's declaration changed since: stale)")
                continue
            made = self.recorded_output(dep)
            if made is not None and made[1] is not None and made[1] != seen:
                a.add(FAIL, f"{dep}: read sha256 {seen[:12]}, but {made[0]}'s record says it wrote {made[1][:12]} "
                            "(a broken link: the producer reran since, or the file was swapped)")
                continue
            if self.deep:
                where, now = self.current(dep)
                what = "code" if made is None else "input"
                if where == "absent":
                    a.add(ABSENT if made else FAIL, f"{dep}: {what} not in the workspace"
                          + (" nor DVC's cache (run `dvc pull`)" if made else ""))
                elif now != seen:
                    a.add(FAIL, f"{dep}: {what} changed since the stage ran (sha256 {seen[:12]} → {now[:12]}): stale")
                    continue
            a.add(OK, f"{dep}: sha256 {seen[:12]}" + (f" = {made[0]}'s output" if made else ""))

    def _params(self, st: Stage, rec: dict, a: StageAudit) -> None:
        ran = rec.get("params") or {}
        for key in st.params:
            try:
                now = self.spec.lookup(key)
            except (KeyError, TypeError, SpecError):
                now = "(absent)"
            if key not in ran:
                a.add(FAIL, f"param {key}: not in its record (stale)")
            elif not same(ran[key], now):
                for k, old, new in leaf_changes(key, ran[key], now):
                    a.add(FAIL, f"param {k}: ran with {show(old)}, params.yaml now {show(new)}: stale")
        if all(k in ran and same(ran[k], self.spec.lookup(k)) for k in st.params):
            a.add(OK, f"params: {len(st.params)} keys as they ran")

    def _code_and_env(self, rec: dict, a: StageAudit) -> None:
        git = rec.get("git") or {}
        commit, changed = git.get("commit"), git.get("code_changed")
        if not commit:
            a.add(FAIL, "made outside a git checkout (no commit recorded)")
        elif changed:
            a.add(FAIL, f"made by code that differed from commit {commit[:10]}: {', '.join(changed)}")
        elif self.deep and not _commit_exists(self.root, commit):
            a.add(FAIL, f"commit {commit[:10]} is not in this repository (made from unpublished code)")
        else:
            a.add(OK, f"code as committed at {commit[:10]}")
        env = rec.get("environment") or {}
        lock = env.get("lock_sha256")
        if not self.deep:                               # records only: one environment along the chain
            self.env_lock = self.env_lock if self._records_lock else lock
            self._records_lock = True
        if lock != self.env_lock:
            a.add(FAIL, f"made in another environment (requirements.lock sha256 {str(lock)[:12]}, "
                        f"{'here' if self.deep else 'the rest of the chain'} {str(self.env_lock)[:12]})")
        else:
            a.add(OK, f"environment: requirements.lock {lock[:12]}; {describe_device(rec)}")

    def _dvc_lock(self, st: Stage, rec: dict, a: StageAudit) -> None:
        if self.lock.error:                            # said once, above the targets (lock_problems)
            return
        entries = self.lock.stages.get(dvc_name(st))
        if entries is None:
            a.add(FAIL, f"dvc.lock has no entry for {dvc_name(st)} (made by Snakemake and not recorded with "
                        "`dvc commit`, or never run)")
            return
        bad = []
        for o in st.outs:
            md5, p = entries.get(o.path), self.root / o.path
            recorded = o is st.outs[-1] or self.current(o.path)[1] == rec["outputs"].get(o.path)
            if md5 is None:
                bad.append(f"{o.path} missing")
            elif o.path in self.lock.conflicts:
                bad.append(f"{o.path} held with {len(self.lock.conflicts[o.path])} different hashes")
            elif p.exists() and recorded and not self.lock.md5_matches(p, md5):
                bad.append(f"{o.path}: its md5 there ({md5[:12]}) is not the recorded file's")
        for d in st.deps:
            if d in self.lock.conflicts:
                bad.append(f"{d} held with {len(self.lock.conflicts[d])} different hashes")
        if bad:
            a.add(FAIL, "dvc.lock disagrees with the record: " + "; ".join(bad))
        else:
            a.add(OK, f"dvc.lock agrees ({dvc_name(st)})")

    def _rerender(self, st: Stage, a: StageAudit) -> None:
        """A table equals what its metrics render to now (only when nothing it reads changed: else stale)."""
        if any(c.status != OK and c.text.startswith(("param ", *self.graph.stages[a.id].deps)) for c in a.checks):
            return
        from stages.table import TABLES
        try:
            doc = TABLES[self.spec.p["experiments"][st.name]["kind"]].table(self.spec, st.name, self.root)
        except (OSError, ValueError, KeyError) as e:
            a.add(FAIL, f"cannot re-render {st.name} from its metrics ({type(e).__name__}: {e})")
            return
        differ = [x for x in ("md", "csv", "tex") if (self.root / self.spec.paths.table(st.name, x)).is_file()
                  and (self.root / self.spec.paths.table(st.name, x)).read_text() != doc.render(x)]
        if differ:
            a.add(FAIL, f"{', '.join(differ)} differ from the table re-rendered from its metrics (hand-edited)")
        else:
            a.add(OK, "md, csv and tex equal the table re-rendered from its metrics")

    def _declared_raw(self, st: Stage, rec: dict, a: StageAudit) -> None:
        """The raw files have the sha256 params.yaml declares (the root of every chain); records only: the
        sha256 the fetch stage found equals the one it was told to expect."""
        section = "datasets" if st.name in self.spec.p["datasets"] else "assets"
        key = self.spec.key(section, st.name, "raw")
        raw = self.spec.paths.raw_dir(st.name)
        if self.deep:
            pairs = {n: (d.get("sha256"), self.current(f"{raw}/{n}")[1])
                     for n, d in self.spec.p[section][st.name]["raw"]["files"].items()}
        else:
            pairs = {n: (f.get("declared_sha256"), f.get("sha256")) for n, f in (rec.get("files") or {}).items()}
        for name, (declared, now) in pairs.items():
            where = f"{key}.files.{name}.sha256"
            if not declared:
                a.add(FAIL, f"{raw}/{name}: params.yaml declares no sha256 ({where}): the chain ends unverified")
            elif now is None:
                a.add(ABSENT, f"{raw}/{name}: not in the workspace nor DVC's cache (run `dvc pull`)")
            elif now != declared:
                a.add(FAIL, f"{raw}/{name}: sha256 {now[:12]}, params.yaml declares {declared[:12]} ({where})")
            else:
                a.add(OK, f"{raw}/{name}: sha256 {now[:12]} = {where}")

    # ------------------------------------------------------------ targets
    def target(self, tid: str) -> list[StageAudit]:
        """Every stage upstream of a table or figure (itself included), each audited, in DAG order."""
        return [self.stage(i) for i in self.graph.upstream(tid)]

    def lock_problems(self) -> list[str]:
        if self.lock.error:
            return [self.lock.error]
        return [f"dvc.lock holds {len(h)} hashes for {p} ({', '.join(sorted(x[:8] for x in h))})"
                for p, h in sorted(self.lock.conflicts.items())]


def _commit_exists(root: Path, commit: str) -> bool:
    r = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root, capture_output=True)
    return r.returncode == 0


def describe_device(rec: dict) -> str:
    """'cpu, 1 thread' or 'NVIDIA H100 80GB HBM3 x2', from a record's environment."""
    dev = (rec.get("environment") or {}).get("device")
    if not isinstance(dev, dict):
        return "device not recorded"
    if dev.get("gpus") and str(rec.get("device", "")).startswith("cuda"):
        names = dev["gpus"]
        return f"{names[0]} x{len(names)}" if len(set(names)) == 1 else ", ".join(names)
    threads = dev.get("cpu_threads")
    return f"cpu, {threads} thread{'s' if threads != 1 else ''}" if threads else "cpu (no torch)"


def record_status(spec: Spec, g: Graph, target_id: str, root: Path = ROOT) -> dict:
    """The audit of a target's records alone (the report stage's inputs; no data, code, params.yaml or git
    read): every upstream record present and naming its stage, each consumer's input hash equal to its
    producer's recorded output, code as committed, one environment along the chain, raw files as
    declared when fetched. What the report page shows per target; `mrgen audit` checks the rest."""
    auditor = Auditor(spec, root, deep=False)
    auditor.graph = g
    audits = auditor.target(target_id)
    problems = [f"{a.id}: {c.text}" for a in audits for c in a.checks if c.status != OK]
    return {"ok": not problems, "checked": sum(len(a.checks) for a in audits), "problems": problems}


# ---------------------------------------------------------------- printing
def render(auditor: Auditor, targets: list[str], verbose: bool = False) -> tuple[str, bool]:
    """A tree per target: each upstream stage with its mark, and beneath it every link that is not ✓
    (every link with verbose). Returns (text, all ✓)."""
    lines, clean = [], True
    for p in auditor.lock_problems():
        lines.append(f"{MARK[FAIL]} {p}")
        clean = False
    for tid in targets:
        audits = auditor.target(tid)
        worst = FAIL if any(a.status == FAIL for a in audits) else ABSENT if any(a.status == ABSENT for a in audits) else OK
        clean &= worst == OK
        n = sum(len(a.checks) for a in audits)
        lines.append(f"{MARK[worst]} {tid}: {len(audits)} stages, {n} links"
                     + {OK: "", FAIL: f", {sum(c.status == FAIL for a in audits for c in a.checks)} broken",
                        ABSENT: ", some not in cache (run `dvc pull`)"}[worst])
        lines += _tree(auditor, tid, "", True, set(), verbose)
    return "\n".join(lines), clean


def _tree(auditor: Auditor, sid: str, indent: str, last: bool, shown: set, verbose: bool) -> list[str]:
    """One stage's line, its links that are not ✓ (all with verbose), then the stages it reads from; a stage
    met again (a dataset many runs share) is one line pointing above."""
    a = auditor.stage(sid)
    lines = [f"{indent}{'└─' if last else '├─'} {MARK[a.status]} {sid}" + (" (above)" if sid in shown else "")]
    if sid in shown:
        return lines
    shown.add(sid)
    inner = indent + ("   " if last else "│  ")
    parents = auditor.graph.parents(sid)
    for c in a.checks if verbose else [c for c in a.checks if c.status != OK]:
        lines.append(f"{inner}{'│  ' if parents else '   '}{MARK[c.status]} {c.text}")
    for i, p in enumerate(parents):
        lines += _tree(auditor, p, inner, i == len(parents) - 1, shown, verbose)
    return lines


def as_json(auditor: Auditor, targets: list[str]) -> dict:
    return {"preset": auditor.spec.preset, "lock_problems": auditor.lock_problems(),
            "targets": {tid: [{"stage": a.id, "record": a.record, "status": a.status,
                               "checks": [{"status": c.status, "text": c.text} for c in a.checks]}
                              for a in auditor.target(tid)] for tid in targets}}


def resolve(auditor: Auditor, names: list[str]) -> list[str]:
    """TARGET words -> stage ids (an experiment's table and figure, a stage id, a file); one line if unknown."""
    if not names:                                   # every table and figure, then the report page
        return auditor.graph.targets() + [i for i, st in auditor.graph.stages.items() if st.kind == "report"]
    out = []
    for n in names:
        ids = auditor.graph.find(n)
        if not ids:
            known = sorted({auditor.graph.stages[t].name for t in auditor.graph.targets()})
            raise SpecError(f"{n}: no such target in preset {auditor.spec.preset!r}; expected an experiment "
                            f"({', '.join(known)}), a stage id like table@t1, or a file a stage writes")
        out += [i for i in ids if i not in out]
    return out


# ---------------------------------------------------------------- one number
def leaves(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*prefix, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*prefix, str(i)))
    else:
        yield prefix, node


def _cell(auditor: Auditor, path: str, cell: str) -> tuple[str, dict, str, str]:
    """(table stage id, the CSV row, column, value) of CELL = 'ROW:COLUMN' in a table file (ROW: a 1-based
    row number or the row's run / model / dataset; COLUMN: a CSV column or the md header)."""
    import csv
    hit = auditor.graph.output_of(path)
    if hit is None or auditor.graph.stages[hit[0]].kind != "table":
        raise SpecError(f"{path}: not a table of preset {auditor.spec.preset!r}; expected "
                        f"{auditor.spec.paths.table('<id>', 'md')} (or .csv / .tex)")
    st = auditor.graph.stages[hit[0]]
    row_key, sep, column = cell.rpartition(":")
    if not sep or not row_key or not column:
        raise SpecError(f"{cell}: expected ROW:COLUMN, e.g. photos-ws:nll (ROW a row number or its run / model)")
    csv_path = auditor.root / auditor.spec.paths.table(st.name, "csv")
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    from mrgen.report import nll
    labels = {label: key for key, label in nll.COLUMNS}
    column = column if rows and column in rows[0] else labels.get(column, column)
    if rows and column not in rows[0]:
        raise SpecError(f"{cell}: no column {column!r} in {csv_path.relative_to(auditor.root)}; expected one of "
                        f"{list(rows[0])}")
    if row_key.isdigit() and 1 <= int(row_key) <= len(rows):
        picked = [rows[int(row_key) - 1]]
    else:
        picked = [r for r in rows if row_key in (r.get("run"), r.get("model"), r.get("dataset"))]
    if len(picked) != 1:
        raise SpecError(f"{cell}: row {row_key!r} matches {len(picked)} rows of {csv_path.relative_to(auditor.root)}; "
                        f"use a row number 1..{len(rows)}")
    return st.id, picked[0], column, picked[0][column]


def explain(auditor: Auditor, path: str, cell: str) -> str:
    """The chain of one number: the table cell → the metrics file and JSON key holding it → the record that
    wrote it → every upstream stage's record (params, seed, commit, code, device, environment) → the raw
    files' sha256 and the checksums params.yaml declares. Each link marked ✓ / ✗ / ○."""
    tid, row, column, value = _cell(auditor, path, cell)
    lines = [f"{path} [{cell}] = {value}"]
    try:
        number = float(value)
    except ValueError:
        number = None
    sources = []
    st = auditor.graph.stages[tid]
    for dep in st.deps:
        if not dep.endswith(".json") or not (auditor.root / dep).is_file():
            continue
        data = json.loads((auditor.root / dep).read_text())
        for keys, leaf in leaves(data):
            if number is not None and isinstance(leaf, (int, float)) and not isinstance(leaf, bool) \
                    and math.isclose(float(leaf), number, rel_tol=1e-12, abs_tol=0.0):
                sources.append((dep, keys))
    if not sources:
        key = row.get("run") or row.get("model") or row.get("dataset") or ""
        used = [d for d in st.deps if key and key in d]
        lines.append(f"  computed by {tid} (mrgen.report) from {', '.join(used) or 'its inputs'}: no metrics file "
                     "holds this value itself")
        chain = sorted({hit[0] for d in used if (hit := auditor.graph.output_of(d))})
    else:
        for dep, keys in sources:
            lines.append(f"  ← {dep} " + "".join(f"[{k!r}]" for k in keys))
        chain = sorted({auditor.graph.output_of(dep)[0] for dep, _ in sources})
    table = auditor.stage(tid)
    lines.append(f"  {MARK[table.status]} {tid} wrote the table ({st.record})")
    for c in table.checks:
        if c.status != OK:
            lines.append(f"      {MARK[c.status]} {c.text}")
    seen = {tid}
    for top in chain:
        for sid in reversed(auditor.graph.upstream(top)):
            if sid in seen:
                continue
            seen.add(sid)
            a = auditor.stage(sid)
            rec, _ = auditor.record(sid)
            lines.append(f"  ← {MARK[a.status]} {sid} ({a.record})" + (f": {_facts(rec)}" if rec else ""))
            lines += _params_lines(rec or {}, "      ")
            for c in a.checks:
                if c.status != OK or c.text.startswith(("data/", "models/", "results/")) and "=" in c.text:
                    lines.append(f"      {MARK[c.status]} {c.text}")
    return "\n".join(lines)


def _facts(rec: dict) -> str:
    git = rec.get("git") or {}
    code = [k for k in rec.get("inputs", {}) if k.endswith(".py")]
    differed = f"differed: {', '.join(git['code_changed'])}" if git.get("code_changed") else "as committed"
    seed = f"seed {rec['seed']}, " if "seed" in rec else ""
    return (f"{seed}commit {str(git.get('commit'))[:10]} ({len(code)} code files hashed, {differed}), "
            f"{describe_device(rec)}, requirements.lock {str((rec.get('environment') or {}).get('lock_sha256'))[:12]}, "
            f"{rec.get('wall_time_s', '?')} s")


def _params_lines(rec: dict, indent: str, limit: int = 110) -> list[str]:
    """The params values a stage ran with, one key a line, shortened."""
    return [f"{indent}param {k} = {show(v, limit)}" for k, v in sorted((rec.get("params") or {}).items())]
