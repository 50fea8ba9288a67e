"""Fig 6: one grid of unconditional samples per (panel, temperature)."""
from __future__ import annotations

import numpy as np

from mrgen.report.collect import samples
from mrgen.report.figures import plt

rows = samples


def grid(imgs: np.ndarray) -> np.ndarray:
    """n images (n x H x W x C) tiled in a near-square grid with 1-pixel gaps."""
    n, h, w, c = imgs.shape
    cols = int(n ** 0.5)
    rows_ = -(-n // cols)
    canvas = np.zeros((rows_ * (h + 1), cols * (w + 1), c), dtype=imgs.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        canvas[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = imgs[k]
    return canvas


def draw(panels: list[dict], caption: str, fig: dict):
    temps = panels[0]["temperatures"]
    f, axes = plt.subplots(len(panels), len(temps), figsize=(fig["width"], fig["height"] * len(panels)), squeeze=False)
    for ax_row, p in zip(axes, panels):
        for ax, t, imgs in zip(ax_row, p["temperatures"], p["images"]):
            canvas, c = grid(imgs), imgs.shape[-1]
            ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_title(f"{p['label']}, t = {t:g}", fontsize=7)
            ax.axis("off")
    f.suptitle(caption, fontsize=8)
    f.tight_layout()
    return f
