"""Where a preset's DAG spends its time: every stage instance's wall time from its provenance record,
grouped by kind, with the DAG's critical path, a schedule of the recorded times on N cores, and how many
stages the engine ran at once over the last build (from the records' start and end).

`mrgen times --preset P [--cores N]` prints it as markdown (README, "Where the time goes"). The wall
times are the records' `wall_time_s`: the stage body, from lock to committed record. What an engine adds
per job (starting Python, importing torch, planning) is not in them; `benchmarks/planning.py` and the
README's end-to-end figures measure that.
"""
from __future__ import annotations

import datetime as dt
import heapq
import json
import math
from collections import defaultdict
from dataclasses import dataclass

from mrgen.config.spec import Spec
from mrgen.lineage import Graph
from mrgen.paths import ROOT
from mrgen.registry import Stage, stages


@dataclass
class Timed:
    stage: Stage
    wall: float | None              # None: no record (never run, or the record is unreadable)
    cores: int                      # the cores a scheduler gives it (its `threads`)
    span: tuple[float, float] | None = None     # the record's start and end (POSIX seconds)


def _span(record: dict) -> tuple[float, float] | None:
    try:
        start, end = (dt.datetime.fromisoformat(record[k]).timestamp() for k in ("start", "end"))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):     # absent, not ISO, out of range
        return None
    return (start, end) if start <= end else None


def timed(spec: Spec) -> list[Timed]:
    out = []
    for st in stages(spec):
        try:
            record = json.loads((ROOT / st.record).read_text())
            wall = float(record["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            record, wall = {}, None
        if wall is not None and not (math.isfinite(wall) and wall >= 0):
            record, wall = {}, None                     # a record no stage wrote: not a time
        out.append(Timed(st, wall, st.resources.cpus, _span(record)))
    return out


def occupancy(spans: list[tuple[float, float]], gap: float = 60.0) -> tuple[int, float, dict[int, float]]:
    """How many stages ran at once during the last build: (its stage count, its length in seconds,
    {k: seconds during which k stages ran}). The build is the largest group of records whose intervals
    follow each other with no pause over `gap` seconds, so stages rerun alone later (after a code or
    params edit) do not stretch it; a shorter pause inside it counts as k = 0."""
    builds: list[list[tuple[float, float]]] = []
    end = -math.inf                                     # the latest end in the current group
    for s, e in sorted(spans):
        if s > end + gap:
            builds.append([])
        builds[-1].append((s, e))
        end = max(end, e)
    if not builds:
        return 0, 0.0, {}
    build = max(builds, key=len)                        # the whole build, not a later rerun of two stages
    events = sorted([(s, 1) for s, _ in build] + [(e, -1) for _, e in build])
    running, last, busy = 0, events[0][0], defaultdict(float)
    for t, step in events:
        busy[running] += t - last
        running, last = running + step, t
    return len(build), events[-1][0] - events[0][0], {k: v for k, v in sorted(busy.items()) if v > 0}


def edges(nodes: list[Timed]) -> dict[str, list[str]]:
    """id -> ids of the stages it reads from (mrgen.lineage)."""
    g = Graph({t.stage.id: t.stage for t in nodes})
    return {i: g.parents(i) for i in g.stages}


def critical_path(nodes: list[Timed], parents: dict[str, list[str]]) -> tuple[float, list[str]]:
    """The longest chain of recorded wall times (stages are listed in DAG order, so parents come first)."""
    best: dict[str, tuple[float, list[str]]] = {}
    for t in nodes:
        base = max((best[p] for p in parents[t.stage.id]), default=(0.0, []), key=lambda b: b[0])
        best[t.stage.id] = (base[0] + (t.wall or 0.0), base[1] + [t.stage.id])
    return max(best.values(), key=lambda b: b[0], default=(0.0, []))


def schedule(nodes: list[Timed], parents: dict[str, list[str]], cores: int) -> float:
    """Makespan of a greedy list schedule on `cores`: a ready job whose remaining chain is longest
    starts first when its cores are free (each job holds min(threads, cores) cores)."""
    by_id = {t.stage.id: t for t in nodes}
    children = defaultdict(list)
    for c, ps in parents.items():
        for p in ps:
            children[p].append(c)
    tail: dict[str, float] = {}
    for t in reversed(nodes):
        tail[t.stage.id] = (t.wall or 0.0) + max((tail[c] for c in children[t.stage.id]), default=0.0)
    waiting = {i: len(ps) for i, ps in parents.items()}
    ready = [i for i, n in waiting.items() if n == 0]
    running: list[tuple[float, str]] = []
    now, free = 0.0, cores
    while ready or running:
        for i in sorted(ready, key=lambda i: -tail[i]):
            need = min(by_id[i].cores, cores)
            if need <= free:
                ready.remove(i)
                free -= need
                heapq.heappush(running, (now + (by_id[i].wall or 0.0), i))
        now, done = heapq.heappop(running)
        free += min(by_id[done].cores, cores)
        for c in children[done]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    return now


def _m(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def report(spec: Spec, cores: int = 2, top: int = 10) -> str:
    nodes = timed(spec)
    parents = edges(nodes)
    have = [t for t in nodes if t.wall is not None]
    total = sum(t.wall for t in have)
    kinds: dict[str, list[Timed]] = defaultdict(list)
    for t in have:
        kinds[t.stage.kind].append(t)
    lines = [f"Preset `{spec.preset}`: {len(nodes)} stage instances, {len(have)} with a record; "
             f"recorded wall time {_m(total)} in all.", "",
             "| kind | instances | total (s) | share | mean (s) | longest |", "|---|---:|---:|---:|---:|---|"]
    for kind, ts in sorted(kinds.items(), key=lambda kv: -sum(t.wall for t in kv[1])):
        s = sum(t.wall for t in ts)
        longest = max(ts, key=lambda t: t.wall)
        lines.append(f"| {kind} | {len(ts)} | {s:.1f} | {s / total if total else 0:.0%} | {s / len(ts):.1f} | "
                     f"{longest.stage.name} ({longest.wall:.1f} s) |")
    missing = [t.stage.id for t in nodes if t.wall is None]
    if missing:
        lines += ["", f"No record yet: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}"]
    length, chain = critical_path(nodes, parents)
    walls = {t.stage.id: t.wall or 0.0 for t in nodes}
    lines += ["", f"Critical path ({_m(length)}): " + " → ".join(f"{i} ({walls[i]:.1f} s)" for i in chain), "",
              f"Schedule of these times on {cores} cores (greedy, longest chain first, each job holding its "
              f"`threads`): {_m(schedule(nodes, parents, cores))}; bounds: critical path {_m(length)}, "
              f"work / cores {_m(total / cores)}.", "",
              f"Longest {top} instances: " + ", ".join(f"{t.stage.id} {t.wall:.1f} s"
                                                       for t in sorted(have, key=lambda t: -t.wall)[:top]) + "."]
    n, length, busy = occupancy([t.span for t in nodes if t.span is not None])
    if n:
        lines += ["", f"Stages running at once over the build the records come from ({n} records, "
                  f"{_m(length)} from the first start to the last end): "
                  + ", ".join(f"{k} for {sec:.0f} s ({sec / length if length else 0:.0%})" for k, sec in busy.items())
                  + ". Time with fewer running than cores is the engine's per-job start (Python, torch) or a "
                  "chain that waits, not stage work."]
    return "\n".join(lines)
