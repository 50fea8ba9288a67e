"""The FID tables' shared rows (W1, W4): one row per (panel, method, steps) from the sampling setting's
fid.json and timing.json and the describe tables, beside its paper peer. The paper's printed numbers
(`published.w1`: the authors' parameter counts and ms/image; the FIDs are not public) belong to its
Table 1 setting, so they sit beside our W1 setting's rows (steps = wavelet.w1_steps) only."""
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
from mrgen.report.render import Document

PUBLISHED = "w1"            # the experiment whose published numbers every FID table prints
COLUMNS = [("panel_label", "panel"), ("variant", "method"), ("dataset", "dataset"), ("steps", "steps / diffusion model"),
           ("network_evaluations", "network evaluations"), ("paper_dataset", "paper dataset"),
           ("paper_steps", "paper steps"), ("fid", "FID (ours)"), ("paper_fid", "FID (paper)"),
           ("delta_fid", "Δ FID ours − paper"), ("params", "#params (ours)"),
           ("paper_config_params", "#params paper-scale config"), ("paper_params", "#params (paper)"),
           ("delta_params", "Δ config − paper"), ("params_match", "matches paper's digits"),
           ("ms_per_image", "ms/image (ours)"), ("paper_ms_per_image", "ms/image (paper)"),
           ("delta_ms_per_image", "Δ ms/image ours − paper"), ("device", "device")]


def model_params(describe: dict, model: str) -> int | None:
    """A wavelet model's parameters: the sum of its parts' rows (<model>-<part>) in a describe table."""
    counts = [int(r["params"]) for r in describe.values() if r.get("kind") == "wavelet" and r["model_name"] == model]
    return sum(counts) if counts else None


def rows(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    w = spec.p["wavelet"]
    steps = [w["w1_steps"]] if spec.p["experiments"][exp]["kind"] == "w1" else w["steps"]
    ref = reference(spec)
    ours, theirs = read_describe(spec, spec.preset, root), reference_describe(spec, root)
    out = []
    for e in panels(spec, exp):
        ref_model = peer(ref, exp, e)
        theirs_at = {"dataset": ref.p["wavelet_models"][ref_model]["dataset"],
                     "steps": ref.p["wavelet"]["w1_steps"]} if ref_model else None
        paper = published(spec, PUBLISHED, e)
        for n in steps:
            mt = spec.paths.metrics_dir(f"{e.name}-n{n}")
            fid, timing = (read_json(f"{mt}/{f}.json", root, model=e.name, steps=n) for f in ("fid", "timing"))
            like = likeness({"dataset": fid["dataset"], "steps": n}, theirs_at)
            printed = paper if n == w["w1_steps"] else {}
            out.append({
                "panel": e.panel, "panel_label": e.label, "variant": e.variant, "paper_variant": e.paper_variant,
                "model": e.name, "dataset": fid["dataset"], "steps": n,
                "paper_dataset": theirs_at and theirs_at["dataset"], "paper_steps": theirs_at and theirs_at["steps"],
                **like, "network_evaluations": timing["network_evaluations"], "fid": fid["fid"],
                "n_samples": fid["n_samples"], "n_reference": fid["n_reference"],
                "ms_per_image": timing["ms_per_image"], "device": timing["device"],
                "params": model_params(ours, e.name),
                **param_cells(model_params(theirs, ref_model) if ref_model else None, paper.get("params")),
                "paper_fid": printed.get("fid"), "delta_fid": delta(fid["fid"], printed.get("fid"), like["comparable"]),
                "paper_ms_per_image": printed.get("ms_per_image"),
                "delta_ms_per_image": delta(timing["ms_per_image"], printed.get("ms_per_image"), like["comparable"]),
                "weights": fid["weights"]})
    return out


def document(spec: Spec, exp: str, claims: Callable[[list[dict]], list[dict]], root: Path = ROOT) -> Document:
    table = rows(spec, exp, root)
    return claims_.document(spec.p["experiments"][exp]["caption"], table, COLUMNS, claims(table))
