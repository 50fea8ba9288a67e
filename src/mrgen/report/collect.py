"""Gather one experiment's numbers from metrics files, describe tables and the published values."""
from __future__ import annotations

import csv
import json
import re

from mrgen.spec import ROOT, Spec

REFERENCE_PRESET = "paper"
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
    """x1..x4 (parameterised blocks) first, then r2..r20 (weight-shared repeats)."""
    return ("xr".find(v[0]), int(v[1:])) if v[1:].isdigit() else (2, 0)


def read_describe(preset: str) -> dict:
    with open(ROOT / Spec.describe_csv(preset)) as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def f4_rows(spec: Spec, exp: str) -> list[dict]:
    """One row per panel x variant: our run's NLL and size, the paper-scale config's size, the paper's."""
    ex = spec.p["experiments"][exp]
    ref = Spec(spec.raw, REFERENCE_PRESET, spec.source)
    ref_panels = ref.p["experiments"].get(exp, {}).get("panels", {})
    ours, theirs = read_describe(spec.preset), read_describe(REFERENCE_PRESET)
    published = spec.raw["published"].get(exp, {}).get("params", {})
    rows = []
    for panel, pdef in ex["panels"].items():
        for variant in sorted(pdef["variants"], key=variant_order):
            run = pdef["variants"][variant]
            nll = json.loads((ROOT / spec.metrics_dir(run) / "nll.json").read_text())
            split = nll[ex["metric"]]
            bernoulli = nll["likelihood"] == "bernoulli"
            ref_run = ref_panels.get(panel, {}).get("variants", {}).get(variant)
            ref_params = int(theirs[ref_run]["params"]) if ref_run else None
            paper = published.get(panel, {}).get(variant)
            rows.append({
                "panel": panel, "panel_label": pdef["label"], "variant": variant, "run": run,
                "dataset": nll["dataset"], "params": int(ours[run]["params"]),
                "stochastic_depth": int(ours[run]["stochastic_depth"]),
                "nll": split["nats"] if bernoulli else split["bits_per_dim"],
                "nll_unit": "nats" if bernoulli else "bits/dim", "split": ex["metric"],
                "paper_config_params": ref_params, "paper_params": paper,
                "delta_params": None if ref_params is None or paper is None else ref_params - round(shown_value(paper)[0]),
                "params_match": None if ref_params is None or paper is None else matches_shown(ref_params, paper),
            })
    return rows
