"""dvc.yaml generated from the spec: `foreach` over the preset's datasets and runs, explicit stages for
Fig 5 state traces, Fig 6 samples, the wavelet paper's stages (assets, statistics, Theorem 2, training of
each part, sampling, FID), the describe tables and each experiment's table and figure.

Templates come from the same builders as the concrete instances (spec.*_stage called with DVC's
`${key}` / `${item.x}` placeholders), so both engines get one command and one set of paths.
"""
from __future__ import annotations

import yaml

from mrgen.spec import Spec, Stage

HEADER = ("# GENERATED from params.yaml by `python -m stages.preset {preset}`; do not edit by hand.\n"
          "# tests/test_dag.py checks that it is fresh and that DVC and Snakemake see the same DAG.\n")


def _body(st: Stage) -> dict:
    d: dict = {"cmd": st.cmd, "deps": list(st.deps)}
    if st.params:
        d["params"] = list(st.params)
    for kind, key in (("out", "outs"), ("metric", "metrics"), ("plot", "plots")):
        entries = [o.path if o.cache else {o.path: {"cache": False}} for o in st.outs if o.kind == kind]
        if entries:
            d[key] = entries
    return d


def dvc_yaml(spec: Spec) -> dict:
    pre = f"presets.{spec.preset}"
    stages = {
        "fetch": {"foreach": f"${{{pre}.datasets}}", "do": _body(spec.fetch_stage("${key}"))},
        "prepare": {"foreach": f"${{{pre}.datasets}}", "do": _body(spec.prepare_stage("${key}"))},
        "train": {"foreach": f"${{{pre}.runs}}", "do": _body(spec.train_stage(
            "${key}", "${item.dataset}", "${item.model}", "${item.training}"))},
        "evaluate": {"foreach": f"${{{pre}.runs}}", "do": _body(spec.evaluate_stage("${key}", "${item.dataset}"))},
    }
    for r in spec.runs_of_kind("f5"):
        stages[f"states-{r}"] = _body(spec.states_stage(r, spec.run(r)["dataset"]))
    for r in spec.runs_of_kind("f6"):
        stages[f"sample-{r}"] = _body(spec.sample_stage(r))
    for st in spec.wavelet_stages():
        stages[f"{st.kind}-{st.name}"] = _body(st)
    for p in spec.raw["presets"]:
        stages[f"describe-{p}"] = _body(spec.describe_stage(p))
    for e in spec.p["experiments"]:
        for kind in spec.report_kinds(e):
            stages[f"{kind}-{e}"] = _body(spec.report_stage(kind, e))
    return {"stages": stages}


def render(spec: Spec) -> str:
    return HEADER.format(preset=spec.preset) + yaml.safe_dump(dvc_yaml(spec), sort_keys=False, width=120)
