"""Fig 4: NLL against block applications per resolution, xK (K parameterised blocks) against rK (one
block applied K times, x1's parameters); the table also states the trend of NLL with weight sharing."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report import nll
from mrgen.report.claims import by_panel, line, unit, value, verdict
from mrgen.report.figures import plt
from mrgen.report.render import Document

CLAIM = "weight sharing: NLL does not rise as x1's blocks are applied K times ({chain}; all with x1's parameters)"


def chain(rows: list[dict]) -> list[dict]:
    """x1, then r2, r3, ... by K: the weight-sharing sequence of one panel."""
    return [r for r in rows if r["variant"] == "x1"] + sorted((r for r in rows if r["variant"][0] == "r"),
                                                              key=lambda r: int(r["variant"][1:]))


def trend(seq: list[dict], paper: bool) -> str | None:
    """yes when NLL never rises along the sequence, with the sequence's numbers; None if one is missing."""
    values = [value(r, "nll", paper) for r in seq]
    if len(seq) < 2 or any(v is None for v, _ in values):
        return None
    name = "paper_variant" if paper else "variant"
    holds = all(b <= a for (a, _), (b, _) in zip(values, values[1:]))
    steps = " → ".join(f"{r[name]} {shown}" for r, (_, shown) in zip(seq, values))
    return f"{verdict(holds)} ({steps} {unit(seq[0], 'nll', paper)})"


rows = nll.rows


def claims(rows: list[dict]) -> list[dict]:
    out = []
    for pr in by_panel(rows).values():
        seq = chain(pr)
        if len(seq) >= 2:
            out.append(line(seq[0]["panel_label"], CLAIM.format(chain=", ".join(r["variant"] for r in seq)),
                            trend(seq, paper=False), trend(seq, paper=True)))
    return out


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return nll.document(spec, exp, claims, root)


def draw(rows: list[dict], caption: str, fig: dict):
    panels = list(dict.fromkeys(r["panel"] for r in rows))
    f, axes = plt.subplots(1, len(panels), figsize=(fig["width"], fig["height"]), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        pr = [r for r in rows if r["panel"] == panel]
        for prefix, style, label in (("x", "o-", "xK: K parameterised blocks / resolution"),
                                     ("r", "s--", "rK: 1 block applied K times (params of x1)")):
            pts = sorted((int(r["variant"][1:]), r["nll"], r["params"]) for r in pr if r["variant"][0] == prefix)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
                for k, y, n in pts:
                    ax.annotate(f"{prefix}{k}\n{n / 1e3:.0f}k" if n < 1e6 else f"{prefix}{k}\n{n / 1e6:.1f}m",
                                (k, y), textcoords="offset points", xytext=(4, 4), fontsize=6)
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 3, 4, 5, 10, 20], labels=["1", "2", "3", "4", "5", "10", "20"])
        ax.set_xlabel("block applications per resolution (K)")
        ax.set_ylabel(f"{pr[0]['split']} NLL ({pr[0]['nll_unit']})")
        ax.set_title(pr[0]["panel_label"], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    f.suptitle(caption, fontsize=9)
    f.tight_layout()
    return f
