"""W6 (the wavelet paper's Fig 6): high-frequency coefficient histograms and sparsity by scale."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report.collect import panels, read_json
from mrgen.report.figures import axes, finish
from mrgen.report.render import Document

COLUMNS = [("panel_label", "dataset"), ("scale", "scale j"), ("band", "band"), ("std", "std"),
           ("kurtosis", "kurtosis (Gaussian 3)"), ("hoyer", "Hoyer sparsity"),
           ("frac_small", "frac |c| < 0.1 std (Gaussian 0.080)"), ("paper", "paper (Fig 6)")]


def rows(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    out = []
    for e in panels(spec, exp):
        st = read_json(spec.paths.wstats_file(e.name), root, dataset=e.name)
        for j, bands in st["sparsity"].items():
            for band, b in bands.items():
                out.append({"panel": e.panel, "panel_label": e.label, "dataset": e.name, "scale": int(j), "band": band,
                            "std": b["std"], "kurtosis": b["kurtosis"], "hoyer": b["hoyer"],
                            "frac_small": b["frac_small"], "edges": b["hist_edges"], "density": b["hist_density"],
                            "paper": "heavy-tailed, sparse"})
    return out


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return Document.single(spec.p["experiments"][exp]["caption"], rows(spec, exp, root), COLUMNS)


def draw(rows: list[dict], caption: str, fig: dict):
    """Log densities of c / std per scale (one panel per detail band), against the standard Gaussian."""
    bands = list(dict.fromkeys(r["band"] for r in rows))
    f, ax_ = axes(len(bands), fig)
    for ax, band in zip(ax_, bands):
        for r in (r for r in rows if r["band"] == band):
            e = np.asarray(r["edges"])
            centers, dens = (e[1:] + e[:-1]) / 2, np.asarray(r["density"])
            keep = dens > 0
            ax.plot(centers[keep], dens[keep], label=f"{r['panel_label']}, j={r['scale']} (kurtosis {r['kurtosis']:.1f})", lw=1)
        x = np.linspace(r["edges"][0], r["edges"][-1], 200)
        ax.plot(x, np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi), "k--", lw=1, label="N(0, 1)")
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-5)
        ax.set_xlabel(f"{band} coefficient / std")
        ax.set_title(f"band {band}", fontsize=8)
        ax.legend(fontsize=5)
    ax_[0].set_ylabel("density")
    return finish(f, caption)
