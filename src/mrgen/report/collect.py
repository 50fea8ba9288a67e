"""Gather one experiment's numbers from metrics files, describe tables and the published values.

Every table row is one (panel, variant) of the experiment: our run's size and NLL beside the paper-scale
config's size (the same experiment, panel and variant in the paper preset) and the paper's printed
numbers (`published.<id>.<panel>.<variant>: {params, nll}`), with the differences.
"""
from __future__ import annotations

import csv
import json
import re

import numpy as np

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.registry import REFERENCE_PRESET

_SHOWN = re.compile(r"^(\d+(?:\.(\d+))?)([km])$")


def shown_value(text: str) -> tuple[float, int, float]:
    """'8.7m' -> (8.7e6, 1 decimal, 1e6): a count as the paper prints it."""
    m = _SHOWN.match(text)
    if not m:
        raise ValueError(f"published count {text!r}: expected digits with k or m, like 107k or 8.7m")
    scale = 1e3 if m.group(3) == "k" else 1e6
    return float(m.group(1)) * scale, len(m.group(2) or ""), scale


def matches_shown(count: int, text: str) -> bool:
    """Whether `count` rounds to the paper's printed value, to the digits shown."""
    value, decimals, scale = shown_value(text)
    return round(count / scale, decimals) == round(value / scale, decimals)


def variant_order(v: str):
    """x1..x4 (parameterised blocks) first, then r2..r20 (weight-shared repeats); others as declared."""
    return ("xr".find(v[0]), int(v[1:])) if v[:1] in ("x", "r") and v[1:].isdigit() else (2, 0)


def read_describe(spec: Spec, preset: str) -> dict:
    """Parameter counts of `preset`'s runs, as this DAG's describe stage wrote them."""
    with open(ROOT / spec.paths.describe_csv(preset)) as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def panels(spec: Spec, exp: str):
    """(panel, label, variant, run) in table order."""
    for panel, pdef in spec.p["experiments"][exp]["panels"].items():
        for variant in sorted(pdef["variants"], key=variant_order):
            yield panel, pdef["label"], variant, pdef["variants"][variant]


def rows(spec: Spec, exp: str) -> list[dict]:
    ex = spec.p["experiments"][exp]
    ref = spec.for_preset(REFERENCE_PRESET)
    ref_panels = ref.p["experiments"].get(exp, {}).get("panels", {})
    ours, theirs = read_describe(spec, spec.preset), read_describe(spec, REFERENCE_PRESET)
    published = spec.raw["published"].get(exp, {})
    out = []
    for panel, label, variant, run in panels(spec, exp):
        nll = json.loads((ROOT / spec.paths.metrics_dir(run) / "nll.json").read_text())
        bernoulli = nll["likelihood"] == "bernoulli"
        value = lambda d: d["nats"] if bernoulli else d["bits_per_dim"]
        ref_run = ref_panels.get(panel, {}).get("variants", {}).get(variant)
        ref_params = int(theirs[ref_run]["params"]) if ref_run else None
        paper = published.get(panel, {}).get(variant, {})
        ours_nll = value(nll[ex["metric"]])
        out.append({
            "panel": panel, "panel_label": label, "variant": variant, "run": run, "dataset": nll["dataset"],
            "params": int(ours[run]["params"]), "stochastic_depth": int(ours[run]["stochastic_depth"]),
            "nll": ours_nll, "nll_iw": value(nll["test_iw"]) if "test_iw" in nll and ex["metric"] == "test" else None,
            "nll_unit": "nats" if bernoulli else "bits/dim", "split": ex["metric"],
            "paper_config_params": ref_params, "paper_params": paper.get("params"),
            "delta_params": None if ref_params is None or "params" not in paper
            else ref_params - round(shown_value(paper["params"])[0]),
            "params_match": None if ref_params is None or "params" not in paper
            else matches_shown(ref_params, paper["params"]),
            "paper_nll": paper.get("nll"),
            "delta_nll": None if paper.get("nll") is None else ours_nll - paper["nll"],
        })
    return out


def baselines(spec: Spec, exp: str) -> list[dict]:
    """Published rows of other models printed beside ours (Table 1's NVAE / VDVAE / VDM)."""
    return spec.raw["published"].get(exp, {}).get("baselines", [])


def states(spec: Spec, exp: str) -> list[dict]:
    """Fig 5: each panel's run's state traces (metrics/<run>/states.json)."""
    return [{"panel": p, "label": label, "variant": v, "run": run,
             **json.loads((ROOT / spec.paths.metrics_dir(run) / "states.json").read_text())}
            for p, label, v, run in panels(spec, exp)]


def samples(spec: Spec, exp: str) -> list[dict]:
    """Fig 6: each panel's samples (uint8 temperatures x n x H x W x C) and temperatures."""
    out = []
    for p, label, v, run in panels(spec, exp):
        with np.load(ROOT / spec.paths.samples_file(run)) as z:
            out.append({"panel": p, "label": label, "variant": v, "run": run, "images": z["images"],
                        "temperatures": z["temperatures"].tolist()})
    return out
