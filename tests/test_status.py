"""`mrgen status`: why each stage would rerun. Unit tests on a copy of the repository whose every output is a
placeholder with a record written by hand (nothing runs), one per reason; then the engines' view, on that
fake build and on the real Snakemake build of the tiny DAG."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT, commit, copy_repo, env, sh

from mrgen.config.spec import load
from mrgen.io import sha256_path
from mrgen.registry import stages
from mrgen.status import Status, downstream, snakemake_view


def fake_build(repo, preset="tiny"):
    """Every output of the preset's DAG as a placeholder (outputs already there, like the params files, are
    kept), each stage's record written as the stage contract would: its inputs', outputs' and params'
    values now. Afterwards nothing would rerun."""
    spec = load(repo / "params.yaml", preset=preset)
    for st in stages(spec):
        for o in st.outs[:-1]:
            p = repo / o.path
            if p.exists():
                continue
            if o.directory:
                p.mkdir(parents=True)
                (p / "placeholder").write_text(st.id)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(st.id)
        record = {"stage": st.kind, "instance": st.name, "preset": preset,
                  "inputs": {d: sha256_path(repo / d) for d in st.deps},
                  "outputs": {o.path: sha256_path(repo / o.path) for o in st.outs[:-1]},
                  "params": {k: spec.lookup(k) for k in st.params}}
        (repo / st.record).parent.mkdir(parents=True, exist_ok=True)
        (repo / st.record).write_text(json.dumps(record, indent=2, sort_keys=True))
    return repo


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A fake-built copy (read only: tests that change it take their own copy of it)."""
    return fake_build(copy_repo(tmp_path_factory.mktemp("status") / "repo"))


@pytest.fixture
def fake(built, tmp_path):
    import shutil
    dst = tmp_path / "repo"
    shutil.copytree(built, dst, symlinks=True)
    return dst


def check(repo, *targets, preset="tiny"):
    return Status(load(repo / "params.yaml", preset=preset), root=repo).run(list(targets))


def texts(res, sid):
    return [r.text for r in res.rerun[sid]]


def record(repo, sid):
    st = next(s for s in stages(load(repo / "params.yaml")) if s.id == sid)
    return repo / st.record


def mrgen(repo, *args):
    return subprocess.run(["mrgen", "status", *args], cwd=repo, env=env(repo), capture_output=True, text=True)


def test_a_fresh_build_has_nothing_to_do(built):
    res = check(built)
    assert res.rerun == {} and len(res.considered) == len(stages(load(built / "params.yaml")))
    assert res.summary().startswith("nothing to do")
    r = mrgen(built)
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("nothing to do: ")
    assert "--engines" in r.stdout.splitlines()[1]           # how agreement with the engines is tested


def test_a_code_edit_names_the_file_and_its_hashes_and_reruns_downstream(fake):
    f = fake / "src/mrgen/models/hvae.py"
    old = sha256_path(f)
    f.write_text(f.read_text() + "\n# a comment that changes the model code\n")
    res = check(fake)
    reasons = res.rerun["train@digits-x1"]
    code = [r for r in reasons if r.kind == "code"]
    assert [r.path for r in code] == ["src/mrgen/models/hvae.py"] and code[0].old == old
    assert code[0].text == f"code src/mrgen/models/hvae.py changed (sha256 {old[:8]} → {sha256_path(f)[:8]})"
    assert "because train@digits-x1 reruns" in texts(res, "evaluate@digits-x1")
    assert "prepare@digits" not in res.rerun and "fetch@digits" not in res.rerun
    assert all(i in res.rerun for i in downstream(Status(load(fake / "params.yaml"), fake).graph, ["train@digits-x1"]))


def test_a_params_edit_shows_the_key_with_old_and_new_values(fake):
    p = fake / "params.yaml"
    text = p.read_text()
    assert text.count("iw_samples: 64 ") == 1
    p.write_text(text.replace("iw_samples: 64 ", "iw_samples: 32 "))
    res = check(fake)
    line = "param presets.tiny.evaluation.iw_samples 64 → 32"
    readers = {i for i, rs in res.rerun.items() if line in [r.text for r in rs]}
    assert readers == {st.id for st in stages(load(p)) if st.kind == "evaluate"}
    r = next(r for r in res.rerun["evaluate@digits-x1"] if r.kind == "param")
    assert (r.path, r.old, r.new) == ("presets.tiny.evaluation.iw_samples", 64, 32)
    assert texts(res, "params@tiny")[0].startswith("input params.yaml changed (sha256 ")
    assert "train@digits-x1" not in res.rerun
    assert any(t.startswith("because evaluate@") for t in texts(res, "table@t1"))


def test_a_params_leaf_inside_a_tracked_mapping_is_named(fake):
    """A run's entry is tracked as one key; the changed field inside it is what is shown."""
    p = fake / "params.yaml"
    text = p.read_text()
    old = "digits-x1: {dataset: digits, model: digits_x1, training: tiny, seed: 0}"
    assert text.count(old) == 1
    p.write_text(text.replace(old, old.replace("seed: 0", "seed: 3")))
    assert "param presets.tiny.runs.digits-x1.seed 0 → 3" in texts(check(fake), "train@digits-x1")


def test_params_keys_added_or_removed_since_the_record(fake):
    f = record(fake, "evaluate@digits-x1")
    rec = json.loads(f.read_text())
    del rec["params"]["presets.tiny.evaluation.seed"]
    rec["params"]["presets.tiny.evaluation.old_knob"] = 1
    f.write_text(json.dumps(rec))
    assert texts(check(fake), "evaluate@digits-x1") == [
        "param presets.tiny.evaluation.seed added (not in its record)",
        "param presets.tiny.evaluation.old_knob removed (in its record, no longer read)"]


def test_an_edited_output_and_its_consumers(fake):
    nll = "results/tiny/metrics/digits-x4/nll.json"
    (fake / nll).write_text('{"edited": "by hand"}')
    res = check(fake)
    assert texts(res, "evaluate@digits-x4")[0].startswith(f"output {nll} edited since its record (sha256 ")
    assert f"input {nll} changed (its producer evaluate@digits-x4 reruns)" in texts(res, "table@t1")
    assert not any(t.startswith("because evaluate@digits-x4") for t in texts(res, "table@t1"))   # named once


def test_an_input_a_producer_rewrote_after_its_consumer_ran(fake):
    """The producer reran (its record matches the new file); the consumer has not seen it yet."""
    nll = "results/tiny/metrics/digits-x4/nll.json"
    (fake / nll).write_text('{"rerun": true}')
    f = record(fake, "evaluate@digits-x4")
    rec = json.loads(f.read_text())
    rec["outputs"][nll] = sha256_path(fake / nll)
    f.write_text(json.dumps(rec))
    res = check(fake)
    assert "evaluate@digits-x4" not in res.rerun
    [line] = [t for t in texts(res, "table@t1") if nll in t]
    assert line.startswith(f"input {nll} changed (sha256 ")
    assert line.endswith("evaluate@digits-x4 rewrote it after this stage ran)")


def test_inputs_added_or_removed_since_the_record(fake):
    f = record(fake, "table@t1")
    rec = json.loads(f.read_text())
    dropped = "results/tiny/describe/tiny.csv"
    del rec["inputs"][dropped]
    rec["inputs"]["results/tiny/metrics/gone/nll.json"] = "0" * 64
    f.write_text(json.dumps(rec))
    assert texts(check(fake), "table@t1") == [
        f"a new input {dropped} (not in its record)",
        "input results/tiny/metrics/gone/nll.json removed (in its record, no longer declared)"]


def test_missing_or_unreadable_record_and_missing_output(fake):
    record(fake, "evaluate@digits-x1").unlink()
    record(fake, "evaluate@digits-x2").write_text("{not json")
    (fake / "results/tiny/tables/t1.tex").unlink()
    res = check(fake)
    assert texts(res, "evaluate@digits-x1") == ["never run (no record results/tiny/metrics/digits-x1/provenance.json)"]
    assert texts(res, "evaluate@digits-x2")[0].startswith(
        "record results/tiny/metrics/digits-x2/provenance.json unreadable: not readable JSON")
    assert "output results/tiny/tables/t1.tex missing" in texts(res, "table@t1")
    assert any(t.startswith("because evaluate@digits-x1 and evaluate@digits-x2 rerun") for t in texts(res, "figure@f4"))
    assert "train@digits-x1" not in res.rerun


def test_targets_consider_their_upstream_only(fake):
    (fake / "results/tiny/metrics/digits-x4/nll.json").write_text("{}")
    (fake / "src/mrgen/report/figures.py").write_text((fake / "src/mrgen/report/figures.py").read_text() + "\n#\n")
    res = check(fake, "t1")
    assert set(res.rerun) == {"evaluate@digits-x4", "table@t1"}
    assert "train@digits-x4" in res.considered and "figure@f4" not in res.considered
    assert set(check(fake, "results/tiny/tables/t1.md").rerun) == set(res.rerun)
    assert set(check(fake, "evaluate@digits-x4").rerun) == {"evaluate@digits-x4"}
    assert check(fake, "t1").summary().endswith("stages (upstream of t1) would rerun")


def test_the_cli_unknown_target_is_one_line_and_json(fake):
    r = mrgen(fake, "nope")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: nope: no such target in preset 'tiny'; expected an experiment (f4, ")
    assert "train@digits-x1" not in r.stderr and "KIND@NAME" in r.stderr
    r = mrgen(fake, "--preset", "huge")
    assert r.returncode == 2 and r.stderr.strip() == "error: params.yaml: preset: expected one of ['paper', 'tiny'], found 'huge'"
    (fake / "results/tiny/metrics/digits-x4/nll.json").write_text("{}")
    r = mrgen(fake, "--json", "t1")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["engines"] is None and set(doc["rerun"]) == {"evaluate@digits-x4", "table@t1"}
    assert doc["rerun"]["evaluate@digits-x4"][0]["kind"] == "output"
    assert doc["summary"].startswith("2 of ")


def test_status_imports_no_torch(built):
    code = ("import sys; from mrgen.config.spec import load; from mrgen.status import Status, render;"
            "print(render(Status(load()).run([])));"
            "bad = [m for m in sys.modules if m == 'torch' or"
            "       m.startswith(('mrgen.models.hvae', 'mrgen.models.wavelet.m', 'mrgen.train'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=built, env=env(built), capture_output=True, text=True)
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stdout + r.stderr


def test_paper_preset_with_nothing_built(built):
    """Every stage but the params and code stages (their records and outputs are git-tracked) has never run."""
    res = check(built, preset="paper")
    never = {i for i, rs in res.rerun.items() if [r.kind for r in rs] == ["record"]}
    assert len(res.considered) > 200 and never == set(res.considered) - {"params@paper", "code@paper"}


def test_snakemake_jobs_are_read_from_its_dry_run(monkeypatch):
    """The parser against Snakemake's dry-run block format (a job, a local job, the `all` rule)."""
    text = """
[Mon Nov 23 10:00:00 2026]
rule train:
    input: data/tiny/prepared/digits
    output: models/tiny/digits-x1/model.pt
    jobid: 7
    reason: Updated input files: src/mrgen/models/hvae.py
    wildcards: name=digits-x1
    resources: tmpdir=<TBD>

[Mon Nov 23 10:00:00 2026]
localrule table:
    output: results/tiny/tables/t1.md
    jobid: 3
    reason: Input files updated by another job: results/tiny/metrics/digits-x1/nll.json
    wildcards: name=t1

[Mon Nov 23 10:00:00 2026]
localrule all:
    jobid: 0
    reason: Input files updated by another job: results/tiny/tables/t1.md
"""
    st = Status(load(ROOT / "params.yaml", preset="tiny"), ROOT)
    monkeypatch.setattr("mrgen.status._call", lambda cmd, root: text)
    assert snakemake_view(st) == {"train@digits-x1": "Updated input files: src/mrgen/models/hvae.py",
                                  "table@t1": "Input files updated by another job: results/tiny/metrics/digits-x1/nll.json"}


# ---------------------------------------------------------------- the engines' view
def engines(repo):
    r = mrgen(repo, "--engines", "--json")
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_engines_agree_on_a_fake_build(fake):
    """Both engines record the fake build (`dvc commit`, `snakemake --touch`): all three have nothing to do;
    then after a code edit and a params edit they rerun the same stages as `mrgen status`."""
    sh("dvc init -q -f", fake)
    commit(fake)
    doc = engines(fake)
    assert doc["rerun"] == {} and doc["engines"]["dvc"]["agrees"] and doc["engines"]["snakemake"]["agrees"]
    f = fake / "src/mrgen/report/figures.py"
    f.write_text(f.read_text() + "\n# a comment that changes the figure code\n")
    p = fake / "params.yaml"
    p.write_text(p.read_text().replace("iw_samples: 64 ", "iw_samples: 32 "))
    doc = engines(fake)
    assert {"params@tiny", "evaluate@digits-x1", "figure@f4", "table@t1"} <= set(doc["rerun"])
    assert "train@digits-x1" not in doc["rerun"]
    for name in ("dvc", "snakemake"):
        assert doc["engines"][name]["agrees"], (name, doc["engines"][name])


def _code_edit(repo):
    f = repo / "src/mrgen/models/hvae.py"
    f.write_text(f.read_text() + "\n# a comment that changes the model code\n")


def _params_edit(repo):
    p = repo / "params.yaml"
    p.write_text(p.read_text().replace("figure: {width: 6.4, height: 3.8, dpi: 150}",
                                       "figure: {width: 6.4, height: 3.8, dpi: 120}"))


def _metrics_edit(repo):
    m = repo / "results/tiny/metrics/digits-x4/nll.json"
    m.write_text(m.read_text() + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("edit", [None, _code_edit, _params_edit, _metrics_edit],
                         ids=["fresh", "code", "params", "metrics"])
def test_mrgen_status_names_what_both_engines_would_run(smk_copy, edit):
    """On the real Snakemake build of the tiny DAG (recorded by `dvc commit`): nothing to do; after (a) a code
    edit, (b) a params edit, (c) an edited metrics file, `mrgen status` names the stages `dvc repro` would
    run (those dvc status names, and their downstream) and those `snakemake -n` would, with one known
    difference: Snakemake keeps a hand-edited output (newer than its inputs), where DVC and we rerun it."""
    repo = smk_copy
    if edit is not None:
        edit(repo)
    doc = engines(repo)
    dvc, smk = doc["engines"]["dvc"], doc["engines"]["snakemake"]
    assert dvc["agrees"], dvc
    if edit is None:
        assert doc["rerun"] == {} and doc["summary"].startswith("nothing to do") and smk["agrees"], (doc["rerun"], smk)
    elif edit is _code_edit:
        assert "code src/mrgen/models/hvae.py changed" in doc["rerun"]["train@digits-x1"][0]["text"]
        assert "prepare@digits" not in doc["rerun"] and smk["agrees"], smk
    elif edit is _params_edit:
        key = "presets.tiny.experiments.f4.figure.dpi"
        st = Status(load(repo / "params.yaml"), repo)
        readers = {i for i, s in st.graph.stages.items() if any(key.startswith(k + ".") for k in s.params)}
        assert "figure@f4" in readers and "table@f4" not in readers
        assert set(doc["rerun"]) == downstream(st.graph, readers | {"params@tiny"}) and smk["agrees"], smk
        assert "param presets.tiny.experiments.f4.figure.dpi 150 → 120" in [r["text"] for r in doc["rerun"]["figure@f4"]]
    else:
        assert doc["rerun"]["evaluate@digits-x4"][0]["text"].startswith(
            "output results/tiny/metrics/digits-x4/nll.json edited since its record")
        assert "table@t1" in doc["rerun"] and "train@digits-x4" not in doc["rerun"]
        assert smk["only_theirs"] == {} and set(smk["not_theirs"]) == {"evaluate@digits-x4"}, smk
