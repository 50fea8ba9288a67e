"""Render experiment rows as figures (PNG and PDF, no timestamps so reruns are byte-stable)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def f4_figure(rows: list[dict], caption: str, fig: dict):
    """Fig 4: NLL against block applications per resolution, xK (K blocks) vs rK (1 block K times)."""
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


def save(figure, png, pdf, dpi: int) -> None:
    figure.savefig(png, dpi=dpi, metadata={"Software": None})
    figure.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)
