"""Fig 5: per top-down block ||Z_i||_2 (mean +- 2 std) and the backward error eps_{i+1}; per bottom-up
block ||Z_i||_2. One row per panel; block index on the x axis, resolution changes marked."""
from __future__ import annotations

from mrgen.report.collect import states
from mrgen.report.figures import plt

rows = states


def draw(traces: list[dict], caption: str, fig: dict):
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
