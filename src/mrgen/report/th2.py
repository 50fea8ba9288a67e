"""TH2: Theorem 2 checked in the Haar basis: LL_j against 2^j x average pooling, the projection against the
lift of pooling, and our transform against pywt's, per level, in float64 and float32."""
from __future__ import annotations

from pathlib import Path

from mrgen.config.spec import Spec
from mrgen.paths import ROOT
from mrgen.report.collect import read_json
from mrgen.report.figures import axes, finish
from mrgen.report.render import Document

COLUMNS = [("images", "images"), ("dtype", "dtype"), ("level", "level j"),
           ("ll_error", "max|LL_j − 2^j pool_j| / max|2^j pool_j|"), ("proj_error", "‖P_j x − lift(pool_j x)‖ / ‖x‖"),
           ("pywt_error", "max|ours − pywt| (LL_j)"), ("paper", "paper")]


def rows(spec: Spec, exp: str, root: Path = ROOT) -> list[dict]:
    t = read_json(spec.paths.th2_file(exp), root)
    out = []
    for source in ("random", "real"):
        for dtype in ("float64", "float32"):
            for j, e in t[source][dtype].items():
                out.append({"images": f"{source} ({t[source]['n']} x {t[source]['size']}px"
                                      + (f", {t['dataset']})" if source == "real" else ")"),
                            "source": source, "dtype": dtype, "level": int(j), **e, "paper": 0.0})
    return out


def table(spec: Spec, exp: str, root: Path = ROOT) -> Document:
    return Document.single(spec.p["experiments"][exp]["caption"], rows(spec, exp, root), COLUMNS)


def draw(rows: list[dict], caption: str, fig: dict):
    """Errors per level on a log axis; exact zeros (level 1 is a single Haar step) drawn at the floor as open markers."""
    f, ax_ = axes(2, fig)
    for ax, dtype in zip(ax_, ("float64", "float32")):
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
    ax_[0].set_ylabel("relative error")
    return finish(f, caption)
