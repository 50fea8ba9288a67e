"""Table 3: a single resolution against multiple resolutions at matched parameters (test NLL)."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import nll
from mrgen.report.claims import Pair, pairs
from mrgen.report.render import Document

CLAIM = Pair("{subject} resolution: NLL worse (higher) than {reference} resolution", reference="multi",
             subject="single", keys=(("nll", ">"),))


def claims(rows: list[dict]) -> list[dict]:
    return pairs(rows, CLAIM)


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return nll.document(spec, exp, claims, root)
