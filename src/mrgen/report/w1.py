"""W1 (the wavelet paper's Table 1): FID, parameters and ms/image of SGM, WSGM and WMGM at one step count;
the claims test WMGM against WSGM on speed and size, the two things the paper's public numbers show."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import fid
from mrgen.report.claims import Pair, pairs
from mrgen.report.render import Document

CLAIMS = (Pair("{subject} faster per image than {reference}", reference="wsgm", subject="wmgm",
               keys=(("ms_per_image", "<"),)),
          Pair("{subject} fewer parameters than {reference}", reference="wsgm", subject="wmgm",
               keys=(("params", "<"),)))


def claims(rows: list[dict]) -> list[dict]:
    return pairs(rows, *CLAIMS)


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return fid.document(spec, exp, claims, root)
