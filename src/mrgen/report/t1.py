"""Table 1: parameter efficiency, VDVAE* vs weight-shared WS-VDVAE (test NLL), with the published
baselines of other models printed as reported."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import nll
from mrgen.report.claims import Pair, pairs
from mrgen.report.collect import baselines
from mrgen.report.render import Block, Document

CLAIM = Pair("{subject} (weight-shared) NLL ≤ {reference} NLL with no more parameters", reference="vdvae",
             keys=(("nll", "<="), ("params", "<=")))
BASELINE_CAPTION = "Published baselines (the paper's Table 1 rows for other models), printed as reported"
BASELINE_COLUMNS = [("panel", "dataset"), ("model", "model"), ("params", "#params"), ("nll", "NLL"),
                    ("source", "source")]


def claims(rows: list[dict]) -> list[dict]:
    return pairs(rows, CLAIM)


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return nll.document(spec, exp, claims, root, (Block(BASELINE_CAPTION, baselines(spec, exp), BASELINE_COLUMNS),))
