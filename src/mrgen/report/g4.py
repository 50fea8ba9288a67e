"""App. G.4: switches on the weight-shared model (latents on the first application only, Fourier
features, no residual cell, synchronous processing), each against the base model (test NLL)."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import nll
from mrgen.report.claims import Pair, pairs
from mrgen.report.render import Document

CLAIM = Pair("switch {subject} against {reference}: NLL worse, better or equal", reference="base",
             keys=(("nll", "direction"),))


def claims(rows: list[dict]) -> list[dict]:
    return pairs(rows, CLAIM)


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return nll.document(spec, exp, claims, root)
