"""W4 (the wavelet paper's Fig 4): FID against reverse-diffusion steps per diffusion model, one line per method."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import fid
from mrgen.report.figures import axes, finish
from mrgen.report.render import Document

rows = fid.rows


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return fid.document(spec, exp, lambda _: [], root)


def draw(rows: list[dict], caption: str, fig: dict):
    panel_ids = list(dict.fromkeys(r["panel"] for r in rows))
    f, ax_ = axes(len(panel_ids), fig)
    for ax, p in zip(ax_, panel_ids):
        pr = [r for r in rows if r["panel"] == p]
        for v in dict.fromkeys(r["variant"] for r in pr):
            pts = sorted((r["steps"], r["fid"]) for r in pr if r["variant"] == v)
            ax.plot([a for a, _ in pts], [b for _, b in pts], "o-", label=v.upper())
        steps = sorted({r["steps"] for r in pr})
        ax.set_xscale("log", base=2)
        ax.set_xticks(steps, labels=[str(n) for n in steps])
        ax.set_xlabel("reverse-diffusion steps per diffusion model\n(WMGM adds 1 generator pass per level)", fontsize=7)
        ax.set_ylabel("FID (clean-fid)")
        ax.set_title(pr[0]["panel_label"], fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return finish(f, caption)
