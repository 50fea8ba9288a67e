"""Read one experiment's inputs: metrics files, describe tables, the paper preset's peers, the published values.

Every table row is one (panel, variant) of the experiment. Its peer is the same panel's variant
`paper_variants.get(variant, variant)` in the paper preset (whose config's parameter count is printed
beside ours) and in `published.<id>.<panel>` (the paper's printed numbers). A difference between our
measurement and the paper's (Δ NLL, Δ FID, Δ ms/image) is only filled in when the row is like with like:
our run's dataset is the one the paper reported on (`comparable`); otherwise the table's claims compare
the direction of the paper's findings instead (mrgen.report.claims).

Files are read below `root` (the repository root by default), so tests can point it at a scratch folder.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mrgen.config.spec import Spec
from mrgen.errors import DataError
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


def read_json(path: str, root: Path = ROOT, **identity) -> dict:
    """A metrics file, checked to be the one asked for: its own identity fields (`run`, `model`, `steps`,
    `dataset`) must equal `identity`, so a file copied or swapped from another run is refused, not shown."""
    try:
        data = json.loads((Path(root) / path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable metrics file ({type(e).__name__}); rerun the stage that writes it") from None
    for key, want in identity.items():
        found = data.get(key) if isinstance(data, dict) else None
        if found != want:
            raise DataError(f"{path}: its {key} field is {found!r}, expected {want!r} (a metrics file copied or "
                            f"swapped from elsewhere); rerun the stage that writes it")
    return data


def read_describe(spec: Spec, preset: str, root: Path = ROOT) -> dict:
    """Parameter counts of `preset`'s runs, as this DAG's describe stage wrote them."""
    with open(Path(root) / spec.paths.describe_csv(preset)) as f:
        return {row["run"]: row for row in csv.DictReader(f)}


class Entry(NamedTuple):
    """One (panel, variant) of an experiment: `name` is a run, wavelet model or dataset by kind."""
    panel: str
    label: str
    variant: str
    name: str
    paper_variant: str          # the variant key of the same panel in the paper preset and in `published`


def panels(spec: Spec, exp: str) -> Iterator[Entry]:
    """The experiment's entries in table order."""
    for panel, pdef in spec.p["experiments"][exp]["panels"].items():
        for variant in sorted(pdef["variants"], key=variant_order):
            yield Entry(panel, pdef["label"], variant, pdef["variants"][variant],
                        pdef.get("paper_variants", {}).get(variant, variant))


def reference(spec: Spec) -> Spec | None:
    """The paper preset (whose configs and datasets our rows are set against), if params.yaml has one."""
    return spec.for_preset(REFERENCE_PRESET) if REFERENCE_PRESET in spec.raw["presets"] else None


def reference_describe(spec: Spec, root: Path = ROOT) -> dict:
    return read_describe(spec, REFERENCE_PRESET, root) if reference(spec) else {}


def peer(ref: Spec | None, exp: str, e: Entry) -> str | None:
    """The paper preset's run / model / dataset in our entry's place, if it has one."""
    if ref is None:
        return None
    panel = ref.p["experiments"].get(exp, {}).get("panels", {}).get(e.panel, {})
    return panel.get("variants", {}).get(e.paper_variant)


def published(spec: Spec, exp: str, e: Entry) -> dict:
    """The paper's printed numbers for our entry's peer: `published.<exp>.<panel>.<paper variant>`."""
    return spec.raw["published"].get(exp, {}).get(e.panel, {}).get(e.paper_variant, {}) or {}


def param_cells(config_params: int | None, printed: str | None) -> dict:
    """Our paper-scale config's count beside the paper's printed one (always like with like)."""
    both = config_params is not None and printed is not None
    return {"paper_config_params": config_params, "paper_params": printed,
            "delta_params": config_params - round(shown_value(printed)[0]) if both else None,
            "params_match": matches_shown(config_params, printed) if both else None}


def likeness(ours: dict, theirs: dict | None) -> dict:
    """`comparable`: whether our row measures what the paper's peer does (same dataset, same setting);
    `mismatch`: what differs, in words ('' when comparable or when there is no peer)."""
    if theirs is None:
        return {"comparable": False, "mismatch": ""}
    diff = [f"{k} ours {ours[k]}, paper {theirs[k]}" for k in ours if ours[k] != theirs[k]]
    return {"comparable": not diff, "mismatch": "; ".join(diff)}


def delta(ours, paper, comparable: bool):
    """ours − paper, only for like with like."""
    return ours - paper if comparable and ours is not None and paper is not None else None


def delta_note(rows: list[dict], claims: bool) -> list[str]:
    """The note under a table whose Δ cells were left empty because the rows measure something else."""
    differ = list(dict.fromkeys(r["mismatch"] for r in rows if r.get("mismatch")))
    if not differ:
        return []
    return ["Δ cells are left empty where our row does not measure what the paper's did (" + "; ".join(differ)
            + "): the difference of two numbers measured on different data or at different settings is no comparison. "
            + ("The claims table compares the direction of each of the paper's findings instead. " if claims else "")
            + "The parameter-count columns set our paper-scale config against the paper's printed count: like with like."]


def baselines(spec: Spec, exp: str) -> list[dict]:
    """Published rows of other models printed beside ours (Table 1's NVAE / VDVAE / VDM)."""
    return spec.raw["published"].get(exp, {}).get("baselines", [])


def states(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    """Fig 5: each panel's run's state traces (metrics/<run>/states.json)."""
    return [{"panel": e.panel, "label": e.label, "variant": e.variant, "run": e.name,
             **read_json(f"{spec.paths.metrics_dir(e.name)}/states.json", root, run=e.name)} for e in panels(spec, exp)]


def samples(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    """Fig 6: each panel's samples (uint8 temperatures x n x H x W x C) and temperatures."""
    out = []
    for e in panels(spec, exp):
        with np.load(Path(root) / spec.paths.samples_file(e.name)) as z:
            out.append({"panel": e.panel, "label": e.label, "variant": e.variant, "run": e.name,
                        "images": z["images"], "temperatures": z["temperatures"].tolist()})
    return out
