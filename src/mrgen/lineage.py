"""The DAG of one preset as a graph of stage instances, and their provenance records: who produced a path,
which stages a stage reads from, everything upstream of a table or figure. `mrgen audit`, `mrgen status`,
`mrgen times` and the report page walk it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.registry import Stage, stages


@dataclass
class Graph:
    """Stage instances in DAG order (registry order: parents before children) and the paths they make."""
    stages: dict[str, Stage]                        # id (kind@name) -> stage

    @cached_property
    def producer(self) -> dict[str, str]:
        """Declared output path (the record included) -> the id of the stage that writes it."""
        return {o.path: st.id for st in self.stages.values() for o in st.outs}

    def output_of(self, path: str) -> tuple[str, str] | None:
        """(producer id, the declared output) for a path equal to, or inside, some stage's output."""
        p = path
        while p and p not in self.producer:
            p = p.rpartition("/")[0]
        return (self.producer[p], p) if p else None

    def parents(self, sid: str) -> list[str]:
        """The stages `sid` reads from, each once, in DAG order."""
        found = {hit[0] for d in self.stages[sid].deps if (hit := self.output_of(d)) and hit[0] != sid}
        return [i for i in self.stages if i in found]

    def upstream(self, sid: str) -> list[str]:
        """`sid` and every stage it depends on, transitively, in DAG order."""
        seen, todo = {sid}, [sid]
        while todo:
            for p in self.parents(todo.pop()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return [i for i in self.stages if i in seen]

    def targets(self) -> list[str]:
        """The published results: every table and figure instance."""
        return [i for i, st in self.stages.items() if st.kind in ("table", "figure")]

    def find(self, name: str) -> list[str]:
        """Stage ids a user's TARGET names: an id (`table@t1`), an experiment (`t1`: its table and figure),
        or a file any stage writes."""
        if name in self.stages:
            return [name]
        ids = [i for i in self.targets() if self.stages[i].name == name]
        if ids:
            return ids
        hit = self.output_of(name.rstrip("/"))
        return [hit[0]] if hit else []


def graph(spec: Spec) -> Graph:
    return Graph({st.id: st for st in stages(spec)})


def read_record(path: str, root: Path = ROOT) -> tuple[dict | None, str | None]:
    """A provenance record, or (None, why not): 'missing', or what is wrong with the file."""
    f = Path(root) / path
    if not f.is_file():
        return None, "missing"
    try:
        rec = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"not readable JSON ({type(e).__name__})"
    if not isinstance(rec, dict) or not all(
            isinstance(rec.get(k), dict) and all(isinstance(h, str) for h in rec[k].values()) for k in ("inputs", "outputs")):
        return None, "not a provenance record (expected a JSON object whose inputs and outputs map paths to sha256)"
    return rec, None


# ---------------------------------------------------------------- a record's params against now
ABSENT = object()                      # a params leaf one side lacks


def show(value, limit: int = 60) -> str:
    """A params value as one short line (JSON, so strings are quoted and lists look like lists)."""
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same(a, b) -> bool:
    """Equal as JSON (how the record holds them): tuples are lists, NaN equals NaN."""
    if a is ABSENT or b is ABSENT:
        return a is b
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def leaf_changes(key: str, old, new) -> list[tuple[str, object, object]]:
    """(dotted key, old, new) for each leaf that differs, descending into mappings on both sides."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            out += leaf_changes(f"{key}.{k}", old.get(k, ABSENT), new.get(k, ABSENT))
        return out
    return [] if same(old, new) else [(key, old, new)]


