"""The NLL tables' shared rows (Fig 4, Tables 1-3, App. G.4): one row per (panel, variant) from the run's
nll.json and the describe tables, beside its paper peer (see mrgen.report.collect)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import claims as claims_
from mrgen.report.collect import (
    delta,
    likeness,
    panels,
    param_cells,
    peer,
    published,
    read_describe,
    read_json,
    reference,
    reference_describe,
)
from mrgen.report.render import Block, Document

COLUMNS = [("panel_label", "panel"), ("variant", "variant"), ("run", "run"), ("dataset", "dataset"),
           ("params", "#params (ours)"), ("stochastic_depth", "stoch. depth"), ("nll", "NLL (ours)"),
           ("nll_iw", "IW NLL (ours)"), ("nll_unit", "unit"), ("paper_variant", "paper variant"),
           ("paper_dataset", "paper dataset"), ("paper_nll", "NLL (paper)"), ("delta_nll", "Δ NLL ours − paper"),
           ("paper_config_params", "#params paper-scale config"), ("paper_params", "#params (paper)"),
           ("delta_params", "Δ config − paper"), ("params_match", "matches paper's digits")]


def unit(likelihood: str) -> str:
    return "nats" if likelihood == "bernoulli" else "bits/dim"


def rows(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    ex = spec.p["experiments"][exp]
    ref = reference(spec)
    ours, theirs = read_describe(spec, spec.preset, root), reference_describe(spec, root)
    out = []
    for e in panels(spec, exp):
        nll = read_json(f"{spec.paths.metrics_dir(e.name)}/nll.json", root, run=e.name)
        key = "nats" if nll["likelihood"] == "bernoulli" else "bits_per_dim"
        ref_run = peer(ref, exp, e)
        paper_dataset = ref.p["runs"][ref_run]["dataset"] if ref_run else None
        like = likeness({"dataset": nll["dataset"]}, {"dataset": paper_dataset} if ref_run else None)
        paper = published(spec, exp, e)
        ours_nll = nll[ex["metric"]][key]
        out.append({
            "panel": e.panel, "panel_label": e.label, "variant": e.variant, "paper_variant": e.paper_variant,
            "run": e.name, "dataset": nll["dataset"], "paper_dataset": paper_dataset, **like,
            "params": int(ours[e.name]["params"]), "stochastic_depth": int(ours[e.name]["stochastic_depth"]),
            "nll": ours_nll, "nll_iw": nll["test_iw"][key] if "test_iw" in nll and ex["metric"] == "test" else None,
            "nll_unit": unit(nll["likelihood"]), "split": ex["metric"],
            "paper_nll_unit": unit(ref.p["datasets"][paper_dataset]["likelihood"]) if ref_run else None,
            **param_cells(int(theirs[ref_run]["params"]) if ref_run else None, paper.get("params")),
            "paper_nll": paper.get("nll"), "delta_nll": delta(ours_nll, paper.get("nll"), like["comparable"]),
        })
    return out


def document(spec: Spec, exp: str, claims: Callable[[list[dict]], list[dict]], root: Path = ROOT,
             extra: tuple[Block, ...] = ()) -> Document:
    """The table of an NLL experiment: its rows, its claims, then `extra`."""
    table = rows(spec, exp, root)
    return claims_.document(spec.p["experiments"][exp]["caption"], table, COLUMNS, claims(table), extra)
