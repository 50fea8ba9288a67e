"""The committed results of the default preset (./dvc.yaml) are not stale: no stage's code, params or inputs
changed since dvc.lock.

Runs on the repository itself. A fresh clone has no DVC cache, so outputs that live only in the cache
(checkpoints, prepared arrays) show as deleted; that is expected and ignored. Everything else DVC
reports (changed deps, params, commands, modified committed outputs, stages missing from dvc.lock)
means someone changed the pipeline without regenerating its results.
"""
import json

from conftest import ROOT, sh


def stale_entries(status: dict) -> list:
    bad = []
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, str):                       # "changed command", "always changed"
                bad.append((stage, change))
                continue
            for kind, entries in change.items():             # changed deps / changed outs
                for path, what in entries.items():
                    if what not in ("deleted", "not in cache"):
                        bad.append((stage, kind, path, what))
    return bad


def test_stale_entries_classifier():
    assert stale_entries({"train@a": [{"changed outs": {"models/a/model.pt": "deleted"}}]}) == []
    assert stale_entries({"train@a": [{"changed outs": {"models/a/model.pt": "not in cache"}}]}) == []
    assert stale_entries({"train@a": [{"changed deps": {"src/x.py": "modified"}}]}) != []
    assert stale_entries({"train@a": ["changed command"]}) != []


def test_committed_results_match_dvc_lock():
    assert (ROOT / "dvc.lock").exists(), "dvc.lock is missing: run the pipeline and commit its lock"
    status = json.loads(sh("dvc status --json dvc.yaml", ROOT).stdout or "{}")
    assert stale_entries(status) == [], "results are stale; rerun the DAG (README) and commit"


def test_committed_results_audit_with_no_broken_link():
    """`mrgen audit` on the committed results: every link ✓, or ○ "not in cache" for the checkpoints and
    prepared data a clone without DVC's cache lacks; never ✗ (an edited, swapped or stale result, code that
    differed from its commit, another environment, a missing record, a lock with two hashes for a path)."""
    doc = json.loads(sh("mrgen audit --json", ROOT, check=False).stdout)
    assert doc["lock_problems"] == []
    broken = [f"{a['stage']}: {c['text']}" for stages in doc["targets"].values() for a in stages
              for c in a["checks"] if c["status"] == "fail"]
    assert broken == [], "\n".join(broken[:20])
