"""Render experiment rows as figures (PNG and PDF, no timestamps so reruns are byte-stable)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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


def f5_figure(traces: list[dict], caption: str, fig: dict):
    """Fig 5: per top-down block ||Z_i||_2 (mean +- 2 std) and the backward error eps_{i+1}; per bottom-up
    block ||Z_i||_2. One row per panel; block index on the x axis, resolution changes marked."""
    f, axes = plt.subplots(len(traces), 3, figsize=(fig["width"], fig["height"] * len(traces)), squeeze=False)
    for ax_row, tr in zip(axes, traces):
        panels = ((tr["decoder"]["norm"], tr["decoder"]["res"], "top-down ||Z_i||₂"),
                  (tr["decoder"]["backward_error"], tr["decoder"]["res"], "backward error ε_{i+1}"),
                  (tr["encoder"]["norm"], tr["encoder"]["res"], "bottom-up ||Z_i||₂"))
        for ax, (stats, res, title) in zip(ax_row, panels):
            i = list(range(1, len(stats) + 1))
            mean = [s["mean"] for s in stats]
            band = [2 * s["std"] for s in stats]
            ax.plot(i, mean, "-", lw=1)
            ax.fill_between(i, [m - b for m, b in zip(mean, band)], [m + b for m, b in zip(mean, band)], alpha=0.3)
            for k in range(1, len(res)):
                if res[k] != res[k - 1]:
                    ax.axvline(k + 0.5, color="grey", lw=0.5, ls=":")
            ax.set_yscale("log" if min(mean) > 0 else "linear")
            ax.set_xlabel("block i")
            ax.set_title(f"{tr['label']}: {title}", fontsize=7)
            ax.grid(alpha=0.3)
    f.suptitle(f"{caption} (mean ± 2 std over {traces[0]['images']} test images)", fontsize=8)
    f.tight_layout()
    return f


def f6_figure(panels: list[dict], caption: str, fig: dict):
    """Fig 6: one grid of unconditional samples per (panel, temperature)."""
    temps = panels[0]["temperatures"]
    f, axes = plt.subplots(len(panels), len(temps), figsize=(fig["width"], fig["height"] * len(panels)), squeeze=False)
    for ax_row, p in zip(axes, panels):
        for ax, t, imgs in zip(ax_row, p["temperatures"], p["images"]):
            n, h, w, c = imgs.shape
            cols = int(n ** 0.5)
            rows_ = -(-n // cols)
            canvas = np.zeros((rows_ * (h + 1), cols * (w + 1), c), dtype=imgs.dtype)
            for k in range(n):
                r, q = divmod(k, cols)
                canvas[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = imgs[k]
            ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_title(f"{p['label']}, t = {t:g}", fontsize=7)
            ax.axis("off")
    f.suptitle(caption, fontsize=8)
    f.tight_layout()
    return f


def save(figure, png, pdf, dpi: int) -> None:
    figure.savefig(png, dpi=dpi, metadata={"Software": None})
    figure.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)
