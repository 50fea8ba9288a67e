"""What every figure shares: the headless backend, panel axes, the wrapped caption, byte-stable saving
(no timestamps, so reruns give the same files), and drawing one experiment with its kind's module."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mrgen.config.spec import Spec  # noqa: E402
from mrgen.paths import ROOT  # noqa: E402

__all__ = ["axes", "figure", "finish", "plt", "save"]


def figure(kind, spec: Spec, exp: str, root: Path = ROOT):
    """Experiment `exp` drawn by its kind's module (`rows(spec, exp, root)` then `draw(rows, caption, figure)`)."""
    ex = spec.p["experiments"][exp]
    return kind.draw(kind.rows(spec, exp, root), ex["caption"], ex["figure"])


def axes(n: int, fig: dict):
    """One row of n panels."""
    f, ax = plt.subplots(1, n, figsize=(fig["width"], fig["height"]), squeeze=False)
    return f, ax[0]


def finish(f, caption: str):
    """Wrapped caption above the panels; layout so that no label is clipped."""
    f.suptitle("\n".join(textwrap.wrap(caption, int(f.get_figwidth() * 15))), fontsize=7)
    f.tight_layout()
    return f


def save(figure, png, pdf, dpi: int) -> None:
    figure.savefig(png, dpi=dpi, metadata={"Software": None})
    figure.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)
