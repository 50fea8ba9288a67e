"""dvc.yaml and the Snakefile express one DAG: same nodes (commands), inputs, outputs and edges."""
import re

import pytest

from conftest import ROOT, sh
from mrgen.spec import load


def dvc_dag(repo):
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    nodes, params, graph_edges = {}, {}, set()
    with Repo(str(repo)) as r:
        for st in r.index.stages:
            deps = frozenset(d.def_path for d in st.deps if not isinstance(d, ParamsDependency))
            nodes[st.cmd] = (deps, frozenset(o.def_path for o in st.outs))
            params[st.cmd] = sorted(k for d in st.deps if isinstance(d, ParamsDependency) for k in d.params)
        graph_edges = {frozenset((u.cmd, v.cmd)) for u, v in r.index.graph.edges}
    return nodes, params, graph_edges


def snakemake_dag(repo):
    out = sh("snakemake -n -p --forceall --cores 1 --nolock", repo).stdout
    nodes = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", out):
        m = re.search(r"(?:local)?rule (\w+):\n(.*?)\nShell command: (.*)", block, re.S)
        if not m or m.group(1) == "all":
            continue
        fields = dict(re.findall(r"^\s+(input|output): (.*)$", m.group(2), re.M))
        split = lambda k: frozenset(x.strip() for x in fields.get(k, "").split(",") if x.strip())
        nodes[m.group(3).strip()] = (split("input"), split("output"))
    return nodes


def path_edges(nodes):
    producer = {o: cmd for cmd, (_, outs) in nodes.items() for o in outs}
    return {(producer[d], cmd) for cmd, (deps, _) in nodes.items() for d in deps if d in producer}


def test_dvc_yaml_is_fresh():
    sh("python -m stages.preset --check", ROOT)


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_dvc_and_snakemake_build_the_same_dag(repo, preset):
    if preset != "tiny":
        sh(f"python -m stages.preset {preset}", repo)
    sh("dvc init -q -f", repo)
    dvc_nodes, dvc_params, dvc_graph = dvc_dag(repo)
    smk_nodes = snakemake_dag(repo)
    spec = load(repo / "params.yaml")
    assert spec.preset == preset
    expected = {s.cmd: s for s in spec.stages()}
    assert set(dvc_nodes) == set(smk_nodes) == set(expected)
    for cmd, (deps, outs) in dvc_nodes.items():
        assert smk_nodes[cmd] == (deps, outs), cmd
        assert deps == set(expected[cmd].deps) and outs == {o.path for o in expected[cmd].outs}
        assert dvc_params[cmd] == sorted(expected[cmd].params)
    edges = path_edges(dvc_nodes)
    assert edges == path_edges(smk_nodes)
    assert {frozenset(e) for e in edges} == dvc_graph          # DVC's own graph agrees
    n_runs = len(spec.p["runs"])
    reports = sum(len(spec.report_kinds(e)) for e in spec.p["experiments"])
    settings = len(spec.wavelet_settings())
    wavelet = (len(spec.p["assets"]) + len(spec.wstats_datasets()) + len(spec.wavelet_parts()) + 2 * settings
               + len({m["dataset"] for m in spec.p["wavelet_models"].values()}) + 1)      # + th2
    assert settings and len(spec.wavelet_parts()) >= 6
    assert len(expected) == (2 * len(spec.p["datasets"]) + 2 * n_runs + len(spec.runs_of_kind("f5"))
                             + len(spec.runs_of_kind("f6")) + 2 + reports + wavelet)
