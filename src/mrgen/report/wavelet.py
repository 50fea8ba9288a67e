"""The wavelet paper's tables and figures (TH2, W1, W4, W5, W6), from metrics and analysis files only.

Rows carry the paper's printed values beside ours where the public record has them (W1: the authors'
parameter counts and ms/image; the FIDs of Table 1 and the curves of Figs 4-6 are not public).
"""
from __future__ import annotations

import json
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mrgen.report.collect import REFERENCE_PRESET, panels, read_describe, shown_value  # noqa: E402
from mrgen.config.spec import Spec  # noqa: E402
from mrgen.paths import ROOT  # noqa: E402


def _json(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def model_params(describe: dict, model: str) -> int | None:
    """A wavelet model's parameters: the sum of its parts' rows (<model>-<part>) in a describe table."""
    counts = [int(r["params"]) for name, r in describe.items() if r.get("kind") == "wavelet" and r["model_name"] == model]
    return sum(counts) if counts else None


def w_rows(spec: Spec, exp: str) -> list[dict]:
    """W1 / W4: one row per (panel, model, steps) with FID, ms/image and parameters."""
    kind = spec.p["experiments"][exp]["kind"]
    w = spec.p["wavelet"]
    steps = [w["w1_steps"]] if kind == "w1" else w["steps"]
    ours, theirs = read_describe(spec, spec.preset), read_describe(spec, REFERENCE_PRESET)
    ref = spec.for_preset(REFERENCE_PRESET).p["experiments"].get(exp, {}).get("panels", {})
    published = spec.raw["published"].get("w1", {})
    out = []
    for panel, label, variant, model in panels(spec, exp):
        ref_model = ref.get(panel, {}).get("variants", {}).get(variant)
        paper = published.get(panel, {}).get(variant, {})
        ref_params = model_params(theirs, ref_model) if ref_model else None
        for n in steps:
            mt = spec.paths.metrics_dir(f"{model}-n{n}")
            fid, timing = _json(f"{mt}/fid.json"), _json(f"{mt}/timing.json")
            out.append({
                "panel": panel, "panel_label": label, "variant": variant, "model": model, "steps": n,
                "network_evaluations": timing["network_evaluations"], "fid": fid["fid"],
                "n_samples": fid["n_samples"], "n_reference": fid["n_reference"],
                "ms_per_image": timing["ms_per_image"], "device": timing["device"],
                "params": model_params(ours, model), "paper_config_params": ref_params,
                "paper_params": paper.get("params"),
                "delta_params": None if ref_params is None or "params" not in paper
                else ref_params - round(shown_value(paper["params"])[0]),
                "paper_ms_per_image": paper.get("ms_per_image"), "paper_fid": None, "weights": fid["weights"]})
    return out


W_COLUMNS = [("panel_label", "dataset"), ("variant", "method"), ("steps", "steps / diffusion model"),
             ("network_evaluations", "network evaluations"), ("fid", "FID (ours)"), ("paper_fid", "FID (paper)"),
             ("params", "#params (ours)"), ("paper_config_params", "#params paper-scale config"),
             ("paper_params", "#params (paper)"), ("delta_params", "Δ config − paper"),
             ("ms_per_image", "ms/image (ours)"), ("paper_ms_per_image", "ms/image (paper)"), ("device", "device")]


def w5_rows(spec: Spec, exp: str) -> list[dict]:
    out = []
    for panel, label, _, d in panels(spec, exp):
        st = _json(spec.paths.wstats_file(d))
        for j, k in st["kl"].items():
            out.append({"panel": panel, "panel_label": label, "dataset": d, "scale": int(j), "size": k["size"],
                        "crop": k["crop"], "dim": k["dim"], "kl": k["kl"], "kl_per_dim": k["kl_per_dim"],
                        "direction": st["kl_direction"], "paper": "decreasing with scale"})
    return out


W5_COLUMNS = [("panel_label", "dataset"), ("scale", "scale j"), ("size", "LL size"), ("crop", "crop"),
              ("dim", "d"), ("kl", "KL (nats)"), ("kl_per_dim", "KL / d"), ("direction", "direction"),
              ("paper", "paper (Fig 5)")]


def w6_rows(spec: Spec, exp: str) -> list[dict]:
    out = []
    for panel, label, _, d in panels(spec, exp):
        st = _json(spec.paths.wstats_file(d))
        for j, bands in st["sparsity"].items():
            for band, b in bands.items():
                out.append({"panel": panel, "panel_label": label, "dataset": d, "scale": int(j), "band": band,
                            "std": b["std"], "kurtosis": b["kurtosis"], "hoyer": b["hoyer"],
                            "frac_small": b["frac_small"], "edges": b["hist_edges"], "density": b["hist_density"],
                            "paper": "heavy-tailed, sparse"})
    return out


W6_COLUMNS = [("panel_label", "dataset"), ("scale", "scale j"), ("band", "band"), ("std", "std"),
              ("kurtosis", "kurtosis (Gaussian 3)"), ("hoyer", "Hoyer sparsity"),
              ("frac_small", "frac |c| < 0.1 std (Gaussian 0.080)"), ("paper", "paper (Fig 6)")]


def th2_rows(spec: Spec, exp: str) -> list[dict]:
    t = _json(spec.paths.th2_file(exp))
    out = []
    for source in ("random", "real"):
        for dtype in ("float64", "float32"):
            for j, e in t[source][dtype].items():
                out.append({"images": f"{source} ({t[source]['n']} x {t[source]['size']}px"
                                      + (f", {t['dataset']})" if source == "real" else ")"),
                            "source": source, "dtype": dtype, "level": int(j), **e, "paper": 0.0})
    return out


TH2_COLUMNS = [("images", "images"), ("dtype", "dtype"), ("level", "level j"),
               ("ll_error", "max|LL_j − 2^j pool_j| / max|2^j pool_j|"), ("proj_error", "‖P_j x − lift(pool_j x)‖ / ‖x‖"),
               ("pywt_error", "max|ours − pywt| (LL_j)"), ("paper", "paper")]

ROWS = {"w1": (w_rows, W_COLUMNS), "w4": (w_rows, W_COLUMNS), "w5": (w5_rows, W5_COLUMNS),
        "w6": (w6_rows, W6_COLUMNS), "th2": (th2_rows, TH2_COLUMNS)}


def _axes(n: int, fig: dict):
    f, axes = plt.subplots(1, n, figsize=(fig["width"], fig["height"]), squeeze=False)
    return f, axes[0]


def _finish(f, caption: str):
    """Wrapped caption above the panels; layout so that no label is clipped."""
    f.suptitle("\n".join(textwrap.wrap(caption, int(f.get_figwidth() * 15))), fontsize=7)
    f.tight_layout()
    return f


def w4_figure(rows: list[dict], caption: str, fig: dict):
    """FID against reverse-diffusion steps per diffusion model, one line per method."""
    panel_ids = list(dict.fromkeys(r["panel"] for r in rows))
    f, axes = _axes(len(panel_ids), fig)
    for ax, p in zip(axes, panel_ids):
        pr = [r for r in rows if r["panel"] == p]
        for v in dict.fromkeys(r["variant"] for r in pr):
            pts = sorted((r["steps"], r["fid"]) for r in pr if r["variant"] == v)
            ax.plot([a for a, _ in pts], [b for _, b in pts], "o-", label=v.upper())
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["steps"] for r in pr}), labels=[str(n) for n in sorted({r["steps"] for r in pr})])
        ax.set_xlabel("reverse-diffusion steps per diffusion model\n(WMGM adds 1 generator pass per level)", fontsize=7)
        ax.set_ylabel("FID (clean-fid)")
        ax.set_title(pr[0]["panel_label"], fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _finish(f, caption)


def w5_figure(rows: list[dict], caption: str, fig: dict):
    f, axes = _axes(2, fig)
    for p in dict.fromkeys(r["panel"] for r in rows):
        pr = sorted((r for r in rows if r["panel"] == p), key=lambda r: r["scale"])
        for ax, key in zip(axes, ("kl", "kl_per_dim")):
            ax.plot([r["scale"] for r in pr], [r[key] for r in pr], "o-", label=pr[0]["panel_label"])
    scales = sorted({r["scale"] for r in rows})
    for ax, label in zip(axes, ("KL (nats)", "KL per dimension")):
        ax.set_xlabel("scale j (LL band of level j)")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.set_xticks(scales)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return _finish(f, caption)


def w6_figure(rows: list[dict], caption: str, fig: dict):
    """Log densities of c / std per scale (one panel per detail band), against the standard Gaussian."""
    bands = list(dict.fromkeys(r["band"] for r in rows))
    f, axes = _axes(len(bands), fig)
    for ax, band in zip(axes, bands):
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
    axes[0].set_ylabel("density")
    return _finish(f, caption)


def th2_figure(rows: list[dict], caption: str, fig: dict):
    """Errors per level on a log axis; exact zeros (level 1 is a single Haar step) drawn at the floor as open markers."""
    f, axes = _axes(2, fig)
    for ax, dtype in zip(axes, ("float64", "float32")):
        nonzero = [r[k] for r in rows if r["dtype"] == dtype for k in ("ll_error", "proj_error") if r[k] > 0]
        floor = min(nonzero) / 10 if nonzero else 1e-18
        for src in ("random", "real"):
            pr = sorted((r for r in rows if r["source"] == src and r["dtype"] == dtype), key=lambda r: r["level"])
            for key, style, name in (("ll_error", "o-", "LL_j vs 2^j pool"), ("proj_error", "s--", "P_j vs lift(pool)")):
                line, = ax.plot([r["level"] for r in pr], [max(r[key], floor) for r in pr], style, label=f"{src}: {name}")
                zeros = [r["level"] for r in pr if r[key] == 0]
                ax.plot(zeros, [floor] * len(zeros), style[0], mfc="white", color=line.get_color())
        ax.axhline(floor, color="grey", lw=0.5, ls=":", label="open marker on this line: exactly 0")
        ax.set_yscale("log")
        ax.set_xlabel("level j")
        ax.set_xticks(sorted({r["level"] for r in rows}))
        ax.set_title(dtype, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=5)
    axes[0].set_ylabel("relative error")
    return _finish(f, caption)


FIGURES = {"w4": w4_figure, "w5": w5_figure, "w6": w6_figure, "th2": th2_figure}
