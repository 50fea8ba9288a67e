"""W5 (the wavelet paper's Fig 5): KL(N(0,I) || Gaussian fit) of the normalised LL band by scale."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report.collect import panels, read_json
from mrgen.report.figures import axes, finish
from mrgen.report.render import Document

COLUMNS = [("panel_label", "dataset"), ("scale", "scale j"), ("size", "LL size"), ("crop", "crop"),
           ("dim", "d"), ("kl", "KL (nats)"), ("kl_per_dim", "KL / d"), ("direction", "direction"),
           ("paper", "paper (Fig 5)")]


def rows(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    out = []
    for e in panels(spec, exp):
        st = read_json(spec.paths.wstats_file(e.name), root, dataset=e.name)
        for j, k in st["kl"].items():
            out.append({"panel": e.panel, "panel_label": e.label, "dataset": e.name, "scale": int(j), "size": k["size"],
                        "crop": k["crop"], "dim": k["dim"], "kl": k["kl"], "kl_per_dim": k["kl_per_dim"],
                        "direction": st["kl_direction"], "paper": "decreasing with scale"})
    return out


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return Document.single(spec.p["experiments"][exp]["caption"], rows(spec, exp, root), COLUMNS)


def draw(rows: list[dict], caption: str, fig: dict):
    f, ax_ = axes(2, fig)
    for p in dict.fromkeys(r["panel"] for r in rows):
        pr = sorted((r for r in rows if r["panel"] == p), key=lambda r: r["scale"])
        for ax, key in zip(ax_, ("kl", "kl_per_dim")):
            ax.plot([r["scale"] for r in pr], [r[key] for r in pr], "o-", label=pr[0]["panel_label"])
    scales = sorted({r["scale"] for r in rows})
    for ax, label in zip(ax_, ("KL (nats)", "KL per dimension")):
        ax.set_xlabel("scale j (LL band of level j)")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.set_xticks(scales)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return finish(f, caption)
