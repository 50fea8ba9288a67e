"""DVC's views across commits: each dvc.yaml's top-level `metrics:` (the metrics files of kind "metric") and
`plots:` (every training curve, x step, y its loss columns, grouped per experiment panel or wavelet model)
resolve to the registry's files, so `dvc metrics diff` and `dvc plots diff` compare any two commits."""
import json
import posixpath

import pytest
from conftest import ROOT, copy_repo, sh

from mrgen.config.spec import load
from mrgen.dag import LOSSES, dvc_file, dvc_yaml
from mrgen.registry import stages, wavelet_parts

PRESETS = ("tiny", "paper")


def family_fields(spec, st) -> tuple[str, ...]:
    """The curve columns of the family a train / wtrain stage trains (importing torch: tests only)."""
    from mrgen.train.hvae import HVAE
    from mrgen.train.wavelet import GAN, Score
    if st.kind == "train":
        return HVAE.fields
    return GAN.fields if wavelet_parts(spec)[st.name][1] == "gan" else Score.fields


@pytest.mark.parametrize("preset", PRESETS)
def test_top_level_views_resolve_to_the_registrys_metrics_and_curves(preset):
    """Through DVC's own schema and path resolution (relative to the dvc.yaml's folder): the metrics are
    exactly the metric outputs, each once; every curve is in a plot, drawn with columns its family writes;
    no stage declares metrics or plots itself, so nothing is collected twice."""
    from dvc.fs import LocalFileSystem
    from dvc.repo.plots import _resolve_definitions
    from dvc.schema import COMPILED_MULTI_STAGE_SCHEMA

    spec = load(preset=preset)
    d = COMPILED_MULTI_STAGE_SCHEMA(dvc_yaml(spec))
    where = posixpath.dirname(dvc_file(spec))
    all_stages = stages(spec)
    metrics = [o.path for st in all_stages for o in st.outs if o.kind == "metric"]
    curves = {o.path: st for st in all_stages for o in st.outs if o.kind == "plot"}
    assert {o.path.rsplit("/", 1)[-1] for st in all_stages for o in st.outs if o.kind == "metric"} <= {
        "nll.json", "fid.json", "timing.json"}
    assert [posixpath.normpath(posixpath.join(where, m)) for m in d["metrics"]] == metrics
    assert len(set(metrics)) == len(metrics) and curves
    assert not any(k in body for body in d["stages"].values() for k in ("metrics", "plots"))

    definitions = {pid: props for entry in d["plots"] for pid, props in entry.items()}
    assert len(definitions) == len(d["plots"])                       # ids unique
    resolved = _resolve_definitions(LocalFileSystem(), [], {}, dvc_file(spec), definitions)["data"]
    drawn = set()
    for pid, props in resolved.items():
        assert pid.startswith(f"{preset}/") and props["x"] == "step" and props["title"] and props["y_label"]
        for path, cols in props["y"].items():
            st = curves[path]                                        # a curve of this preset
            cols = [cols] if isinstance(cols, str) else cols
            assert set(cols) <= set(family_fields(spec, st)), (pid, path)
            drawn.add(path)
    assert drawn == set(curves)
    if preset == "tiny":                                            # an experiment panel compares its runs
        assert set(resolved["tiny/train/t2-mnist"]["y"]) == {
            "models/tiny/digits-x4-normalised/curve.csv", "models/tiny/digits-x4/curve.csv"}


def test_loss_columns_are_the_families_and_the_committed_curves_headers():
    """dag.LOSSES (the DAG imports no torch) names columns the families write; the committed tiny curves have
    their family's header."""
    from mrgen.train.hvae import HVAE
    from mrgen.train.wavelet import GAN, Score
    assert set(LOSSES["train"]) <= set(HVAE.fields) and set(LOSSES["wtrain"]) <= set(Score.fields)
    assert set(LOSSES["wtrain:gan"]) <= set(GAN.fields)
    spec = load(preset="tiny")
    for st in stages(spec):
        for o in st.outs:
            if o.kind == "plot" and (ROOT / o.path).is_file():
                assert (ROOT / o.path).read_text().splitlines()[0] == ",".join(family_fields(spec, st)), o.path


def git_commit(repo, msg):
    sh(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", msg], repo)


@pytest.mark.slow
def test_metrics_and_plots_diff_compare_two_commits(tmp_path):
    """A copy of the project with its committed results; one metrics value and one curve value change in a
    second commit: `dvc metrics diff` reports exactly that change, `dvc plots diff` draws both revisions of
    the curve in its panel's plot."""
    repo = copy_repo(tmp_path / "repo", with_results=True)
    sh("dvc init -q -f", repo)
    git_commit(repo, "dvc init")
    nll = "results/tiny/metrics/digits-x1/nll.json"
    curve = "models/tiny/digits-x1/curve.csv"
    m = json.loads((repo / nll).read_text())
    old_nats, new_nats = m["test"]["nats"], m["test"]["nats"] + 1.5
    m["test"]["nats"] = new_nats
    (repo / nll).write_text(json.dumps(m, indent=2) + "\n")
    lines = (repo / curve).read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[3].rstrip("\n").split(",")
    step, old_elbo = row[header.index("step")], row[header.index("elbo")]
    row[header.index("elbo")] = new_elbo = "0.125"
    lines[3] = ",".join(row) + "\n"
    (repo / curve).write_text("".join(lines))
    git_commit(repo, "change one metric and one curve value")

    diff = json.loads(sh("dvc metrics diff HEAD~1 HEAD --json", repo).stdout)
    assert diff == {nll: {"test.nats": {"old": old_nats, "new": new_nats, "diff": pytest.approx(new_nats - old_nats)}}}

    out = json.loads(sh("dvc plots diff HEAD~1 HEAD --json --targets tiny/train/f4-mnist", repo).stdout)["data"]
    assert list(out) == ["tiny/train/f4-mnist"]
    (plot,) = out["tiny/train/f4-mnist"]
    assert plot["revisions"] == ["HEAD~1", "HEAD"]
    values = plot["content"]["data"]["values"]
    x1 = {(v["rev"], v["step"]): v["elbo"] for v in values if v["filename"].startswith("digits-x1/")}
    assert x1[("HEAD~1", step)] == old_elbo and x1[("HEAD", step)] == new_elbo
    assert {k: v for k, v in x1.items() if k[0] == "HEAD~1" and k[1] != step} == {
        ("HEAD~1", k[1]): v for k, v in x1.items() if k[0] == "HEAD" and k[1] != step}
    assert {v["filename"].split("/")[0] for v in values} == {
        r for r in load(preset="tiny").p["experiments"]["f4"]["panels"]["mnist"]["variants"].values()}
