"""dvc.yaml and the Snakefile express one DAG, the registry's: same nodes (commands), inputs, outputs,
params and edges, for every preset; the generated files are fresh."""
import re

import pytest
from conftest import ROOT, sh

from mrgen.config.spec import load
from mrgen.dag import dvc_file
from mrgen.registry import KINDS, stages


def dvc_dag(repo, dvc_yaml):
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    nodes, params = {}, {}
    with Repo(str(repo)) as r:
        mine = [st for st in r.index.stages if st.path_in_repo == dvc_yaml]
        for st in mine:        # a params file is a dependency too: DVC draws an edge from its producer
            nodes[st.cmd] = (frozenset(d.def_path for d in st.deps), frozenset(o.def_path for o in st.outs))
            params[st.cmd] = {d.def_path: sorted(d.params) for d in st.deps if isinstance(d, ParamsDependency)}
        cmds = {st.cmd for st in mine}
        graph_edges = {frozenset((u.cmd, v.cmd)) for u, v in r.index.graph.edges if u.cmd in cmds or v.cmd in cmds}
    return nodes, params, graph_edges


def snakemake_dag(repo, preset):
    out = sh(f"snakemake -n -p --forceall --cores 1 --nolock --config preset={preset}", repo).stdout
    nodes = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", out):
        m = re.search(r"(?:local)?rule (\w+):\n(.*?)\nShell command: (.*)", block, re.S)
        if not m or m.group(1) == "all":
            continue
        fields = dict(re.findall(r"^\s+(input|output): (.*)$", m.group(2), re.M))
        split = lambda k, fields=fields: [x.strip() for x in fields.get(k, "").split(",") if x.strip()]
        kept = frozenset(x.removesuffix(" (update)") for x in split("output") if x.endswith(" (update)"))
        nodes[m.group(3).strip()] = (frozenset(split("input")),
                                     frozenset(x.removesuffix(" (update)") for x in split("output")))
        KEPT[m.group(3).strip()] = kept
    return nodes


KEPT: dict[str, frozenset] = {}
"""Per command, the outputs Snakemake flags `update` (kept through a failed job): the git-tracked ones."""


def path_edges(nodes):
    """(producer, consumer) pairs: a dep equal to an output, or inside an output folder."""
    producer = {o: cmd for cmd, (_, outs) in nodes.items() for o in outs}

    def made_by(path):
        while path and path not in producer:
            path = path.rpartition("/")[0]
        return producer.get(path)
    return {(made_by(d), cmd) for cmd, (deps, _) in nodes.items() for d in deps if made_by(d)}


def test_generated_files_are_fresh():
    sh("mrgen dag --check", ROOT)


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_dvc_and_snakemake_build_the_registrys_dag(repo, preset):
    sh("dvc init -q -f", repo)
    spec = load(repo / "params.yaml", preset=preset)
    dvc_nodes, dvc_params, dvc_graph = dvc_dag(repo, dvc_file(spec))
    smk_nodes = snakemake_dag(repo, preset)
    expected = {s.cmd: s for s in stages(spec)}
    # DVC's consumers read the params stage's files (their params) and the code stage's (their code's sha256);
    # Snakemake's rules track params themselves and list the source files
    mirror = {s.kind: s.cmd for s in expected.values() if s.kind in ("params", "code")}
    assert set(dvc_nodes) == set(smk_nodes) == set(expected) and len(mirror) == 2
    for cmd, (deps, outs) in dvc_nodes.items():
        st = expected[cmd]
        assert deps == set(st.dvc_deps) | ({st.params_file} if st.params else set()) and outs == {o.path for o in st.outs}
        assert deps - set(st.deps) <= {st.code_file, st.params_file}            # DVC: one file per kind's code
        assert dvc_params[cmd] == ({st.params_file: sorted(st.params)} if st.params else {})
        assert smk_nodes[cmd] == (set(st.deps), outs), cmd
    edges = path_edges(dvc_nodes)
    assert {(a, b) for a, b in edges if a not in mirror.values()} == path_edges(smk_nodes)
    assert {b for a, b in edges if a == mirror["params"]} == {c for c, s in expected.items() if s.params}
    assert {b for a, b in edges if a == mirror["code"]} == {c for c, s in expected.items() if s.code_file}
    assert {frozenset(e) for e in edges} == dvc_graph          # DVC's own graph agrees
    # every kind with instances in this preset appears, each instance once, every output under the preset
    kinds = {s.kind for s in expected.values()}
    assert kinds == set(KINDS) - ({"th2"} if preset == "paper" and not any(
        ex["kind"] == "th2" for ex in spec.p["experiments"].values()) else set())
    assert all(o.path.split("/")[1] == preset for s in expected.values() for o in s.outs)


def test_output_patterns_are_the_instances_outputs():
    """Snakemake's rule outputs are the registry's outs of '{name}': the same paths as each instance's."""
    for preset in ("tiny", "paper"):
        spec = load(preset=preset)
        for st in stages(spec):
            pattern = [o.path for o in KINDS[st.kind].outs(spec.paths, "{name}")]
            assert [p.replace("{name}", st.name) for p in pattern] == [o.path for o in st.outs]


def test_every_params_key_is_written_in_params_yaml():
    """DVC refuses to commit a stage whose params key params.yaml does not write (a default left out)."""
    import yaml
    written = yaml.safe_load((ROOT / "params.yaml").read_text())
    for preset in ("tiny", "paper"):
        for st in stages(load(preset=preset)):
            for key in st.params:
                node = written
                for part in key.split("."):
                    assert isinstance(node, dict) and part in node, f"{st.id}: {key}"
                    node = node[part]


def test_commands_are_quoted_words_of_validated_names():
    for preset in ("tiny", "paper"):
        for st in stages(load(preset=preset)):
            assert re.fullmatch(r"mrgen [a-z0-9]+ --preset [a-z0-9_-]+ [a-z0-9][a-z0-9_-]*", st.cmd), st.cmd


def test_code_dependencies_are_what_each_stage_imports():
    """A stage's code deps are the import closure of stages/<kind>.py (imports inside functions too), less
    the infrastructure modules, plus or minus its declared patterns."""
    from mrgen.registry import INFRASTRUCTURE
    from mrgen.registry import code as imports

    def code(kind):
        return imports(kind, *KINDS[kind].code)
    fid = code("fid")
    assert "src/mrgen/data/prepared.py" in fid and "src/mrgen/metrics/fid.py" in fid      # a function-level import
    both = set(code("train")) & set(code("wtrain"))               # one training loop, two families' steps
    assert {"src/mrgen/train/loop.py", "src/mrgen/train/recipe.py"} <= both
    assert "src/mrgen/models/hvae.py" not in code("wtrain") and "src/mrgen/models/wavelet/gan.py" not in code("train")
    assert "src/mrgen/data/fetch.py" not in code("train")        # training never reads raw files
    assert "src/mrgen/report/figures.py" not in code("table") and "src/mrgen/report/figures.py" in code("figure")
    assert set(code("params")) >= {"stages/params.py", "src/mrgen/config/spec.py"}
    assert code("code") == ["stages/code.py"]                   # it hashes the others' code: mrgen.dag.code_files
    infra = {m.replace(".", "/") for m in INFRASTRUCTURE}
    for kind in KINDS:
        assert not any(f.removeprefix("src/").removesuffix(".py").removesuffix("/__init__") in infra
                       for f in code(kind) if kind not in ("params", "code")), kind


def test_dvc_reads_each_kinds_code_from_one_file_that_follows_the_source_files(tmp_path):
    """Each DVC stage depends on its kind's code file, which holds the sha256 of exactly the files the
    stage's numbers depend on; editing one of them changes the files of the kinds that import it, and
    only those (so `dvc repro` reruns what it reran when it tracked the files themselves)."""
    import json

    from mrgen.dag import code_files, refresh_params_files
    from mrgen.io import sha256_path
    from mrgen.registry import kind_code
    spec = load(preset="tiny")
    files = code_files(spec)
    for kind in KINDS.values():
        if kind.fingerprinted:
            held = json.loads(files[spec.paths.code_file(kind.name)])
            assert held == {f: sha256_path(ROOT / f) for f in kind_code(kind)} and held, kind.name
    assert set(files) == {spec.paths.code_file(k) for k, kind in KINDS.items() if kind.fingerprinted}
    repo = tmp_path / "repo"                              # in a copy: the figure code edited
    for f in {f for kind in KINDS.values() for f in kind_code(kind)} | {"params.yaml"}:
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_bytes((ROOT / f).read_bytes())
    assert len(refresh_params_files(spec, root=repo)) > len(files)
    assert refresh_params_files(spec, root=repo) == []
    with open(repo / "src/mrgen/report/figures.py", "a") as f:
        f.write("\n# an edit\n")
    changed = refresh_params_files(spec, root=repo)
    assert sorted(changed) == sorted(spec.paths.code_file(k) for k, kind in KINDS.items()
                                     if "src/mrgen/report/figures.py" in kind_code(kind) and kind.fingerprinted)
    assert changed and spec.paths.code_file("train") not in changed
