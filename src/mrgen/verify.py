"""`mrgen verify [TARGET ...]`: rerun what computes a target's numbers in a scratch workspace, from the same
inputs, and compare every number with the committed one within the tolerance params.yaml declares for its
metric kind (`tolerances.rerun`).

What is rerun: every stage upstream of the target except those making its heavy inputs (fetch, prepare,
train, wtrain: the raw bytes, prepared arrays and checkpoints, linked into the scratch workspace from this
one or DVC's cache), and except the tables and figures (they only arrange numbers). `--from-raw` reruns
training too: everything but fetching the raw bytes, and compares the numbers computed from the retrained
weights (their training curves are not compared). The scratch workspace holds the git-tracked files and
the linked inputs; the stages run there exactly as the engines run them (`mrgen KIND --preset P NAME`,
MRGEN_ROOT pointing at it), and this checkout is never written.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mrgen.audit import leaves
from mrgen.config.schema import Tolerance
from mrgen.config.spec import Spec, SpecError
from mrgen.errors import DataError
from mrgen.lineage import Graph, graph
from mrgen.paths import ROOT

INPUT_KINDS = ("fetch", "prepare", "train", "wtrain")   # their outputs are linked in, not recomputed
NOT_NUMBERS = ("table", "figure", "params", "code", "sample")   # arrange numbers / images, or write no numbers
METRIC_KIND = {"evaluate": "nll", "fid": "fid", "wsample": "ms_per_image", "describe": "params",
               "states": "states", "wstats": "wavelet_stats", "th2": "theorem2"}


@dataclass
class Number:
    path: str
    key: str
    kind: str
    committed: float
    rerun: float | None            # None: the rerun's file lacks this number

    def off(self, tol: Tolerance) -> float:
        """|Δ| over what the tolerance allows (≤ 1 within; inf when missing)."""
        if self.rerun is None:
            return float("inf")
        allowed = tol.abs + tol.rel * abs(self.committed)
        d = abs(self.rerun - self.committed)
        return d / allowed if allowed else (0.0 if d == 0 else float("inf"))


def plan(g: Graph, targets: list[str], from_raw: bool) -> list[str]:
    """The stage ids to rerun, in DAG order."""
    skip = ("fetch",) if from_raw else INPUT_KINDS
    wanted = {i for t in targets for i in g.upstream(t)}
    return [i for i in g.stages if i in wanted and g.stages[i].kind not in skip + NOT_NUMBERS]


def _link(src: Path, dst: Path) -> None:
    """Hard links (copies across file systems) of a file or folder: inputs are only read."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_file, dirs_exist_ok=True)
    else:
        _link_file(src, dst)


def _link_file(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def scratch(spec: Spec, g: Graph, rerun: list[str], root: Path, into: Path) -> None:
    """A workspace with the git-tracked files and every input the rerun stages read but do not make."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = root / os.fsdecode(f)
        if src.is_file():
            (into / os.fsdecode(f)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / os.fsdecode(f))
    made = {o.path for i in rerun for o in g.stages[i].outs}
    for i in rerun:
        for dep in g.stages[i].deps:
            if dep in made or g.output_of(dep) is None or (into / dep).exists():
                continue
            if not (root / dep).exists():
                raise DataError(f"{dep}: not in the workspace; expected the input of {i} "
                                "(run `dvc pull`, or build it first)")
            _link(root / dep, into / dep)


def run(spec: Spec, ids: list[str], where: Path, g: Graph, log) -> None:
    env = dict(os.environ, MRGEN_ROOT=str(where))
    for i in ids:
        st = g.stages[i]
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "mrgen", st.kind, "--preset", spec.preset, st.name], cwd=where,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log(f"  reran {i} ({time.time() - t0:.1f} s)")
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DataError(f"rerunning {i} in {where} failed (exit {r.returncode}): {last}")


def numbers(path: Path) -> dict[str, float]:
    """Every number of a metrics file: JSON leaves by their key path, CSV cells by row and column."""
    if path.suffix == ".json":
        return {"".join(f"[{k}]" for k in keys): float(v) for keys, v in leaves(json.loads(path.read_text()))
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out = {}
    with open(path) as f:
        for n, row in enumerate(csv.DictReader(f), 1):
            for col, v in row.items():
                try:
                    out[f"[{row.get('run') or n}][{col}]"] = float(v)
                except (TypeError, ValueError):
                    pass
    return out


def compare(spec: Spec, g: Graph, ids: list[str], root: Path, where: Path) -> list[Number]:
    out = []
    for i in ids:
        st = g.stages[i]
        if st.kind not in METRIC_KIND:            # retrained weights (--from-raw): judged by what they compute
            continue
        for o in st.outs[:-1]:
            if o.cache or not o.path.endswith((".json", ".csv")):
                continue
            mine = root / o.path
            if not mine.is_file():
                raise DataError(f"{o.path}: no committed file to compare the rerun with (build it first)")
            theirs = numbers(where / o.path)
            for key, value in numbers(mine).items():
                out.append(Number(o.path, key, METRIC_KIND[st.kind], value, theirs.get(key)))
    return out


def verify(spec: Spec, targets: list[str], from_raw: bool = False, keep: bool = False, root: Path = ROOT,
           log=print) -> tuple[str, bool]:
    """Rerun and compare; returns (the report, all within tolerance)."""
    from mrgen.audit import Auditor, resolve
    g = graph(spec)
    ids_t = resolve(Auditor(spec, root), targets)
    ids = plan(g, ids_t, from_raw)
    if not ids:
        raise SpecError(f"{', '.join(targets)}: nothing computes numbers upstream of it to rerun")
    where = Path(tempfile.mkdtemp(prefix="mrgen-verify-"))
    try:
        log(f"rerunning {len(ids)} stages of {', '.join(ids_t)} in {where}")
        scratch(spec, g, ids, root, where)
        run(spec, ids, where, g, log)
        found = compare(spec, g, ids, root, where)
    finally:
        if not keep:
            shutil.rmtree(where, ignore_errors=True)
    tols = spec.params.tolerances.rerun
    within = [n for n in found if n.off(tols[n.kind]) <= 1]
    worst = [n for n in sorted(found, key=lambda n: -n.off(tols[n.kind])) if n.off(tols[n.kind]) > 0][:5]
    same = sum(n.rerun == n.committed for n in found)
    lines = [f"reproduced: {len(within)}/{len(found)} numbers within tolerance (params.yaml tolerances.rerun); "
             f"{same} bit-identical" + (", the worst of the others:" if worst else "")]
    for n in worst:
        t = tols[n.kind]
        ok = "✓" if n.off(t) <= 1 else "✗"
        got = "missing" if n.rerun is None else f"{n.rerun:.6g} (|Δ| {abs(n.rerun - n.committed):.3g})"
        lines.append(f"  {ok} {n.path} {n.key}: committed {n.committed:.6g}, rerun {got}; "
                     f"allowed {t.abs:g} + {t.rel:g}×|committed| ({n.kind})")
    if keep:
        lines.append(f"scratch workspace kept: {where}")
    return "\n".join(lines), len(within) == len(found)
