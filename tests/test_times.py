"""mrgen times: the critical path, the greedy schedule and the stages running at once, on small made-up
DAGs and records (README, "Where the time goes")."""
from __future__ import annotations

from types import SimpleNamespace

from mrgen.times import critical_path, occupancy, schedule


def node(i: str, wall: float, cores: int = 1):
    return SimpleNamespace(stage=SimpleNamespace(id=i), wall=wall, cores=cores)


# a -> b -> d, a -> c -> d: the chain through b is the long one
NODES = [node("a", 1.0), node("b", 10.0), node("c", 4.0), node("d", 2.0)]
PARENTS = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_the_critical_path_is_the_longest_chain_of_recorded_times():
    assert critical_path(NODES, PARENTS) == (13.0, ["a", "b", "d"])


def test_the_schedule_runs_independent_stages_side_by_side_and_serialises_on_one_core():
    assert schedule(NODES, PARENTS, cores=2) == 13.0           # b and c at once: the critical path
    assert schedule(NODES, PARENTS, cores=1) == 17.0           # all of the work, one after another
    wide = [node("a", 1.0), node("b", 10.0, cores=2), node("c", 4.0, cores=2), node("d", 2.0)]
    assert schedule(wide, PARENTS, cores=2) == 17.0            # jobs that hold both cores cannot overlap


def test_occupancy_counts_seconds_with_k_stages_running_over_the_build():
    spans = [(0.0, 10.0), (2.0, 6.0), (6.0, 12.0), (14.0, 20.0)]   # a 2 s pause at 12-14
    n, length, busy = occupancy(spans)
    assert (n, length) == (4, 20.0)
    assert busy == {0: 2.0, 1: 10.0, 2: 8.0}
    assert sum(busy.values()) == length


def test_occupancy_leaves_out_stages_rerun_alone_later_and_handles_no_records():
    build = [(0.0, 100.0), (0.0, 50.0), (50.0, 100.0)]
    rerun = [(5000.0, 5001.0), (5002.0, 5003.0)]                # e.g. the code and params stages after an edit
    n, length, busy = occupancy(build + rerun)
    assert (n, length, busy) == (3, 100.0, {2: 100.0})
    assert occupancy([]) == (0, 0.0, {})
