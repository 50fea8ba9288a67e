"""Render experiment rows as Markdown, CSV and LaTeX tables."""
from __future__ import annotations

import csv
import io


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.2e}" if v != 0 and abs(v) < 1e-2 else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


COLUMNS = [("panel_label", "panel"), ("variant", "variant"), ("run", "run"), ("params", "#params (ours)"),
           ("stochastic_depth", "stoch. depth"), ("nll", "NLL (ours)"), ("nll_iw", "IW NLL (ours)"),
           ("nll_unit", "unit"), ("paper_nll", "NLL (paper)"), ("delta_nll", "Δ NLL ours − paper"),
           ("paper_config_params", "#params paper-scale config"), ("paper_params", "#params (paper)"),
           ("delta_params", "Δ config − paper"), ("params_match", "matches paper's digits")]
BASELINE_COLUMNS = [("panel", "dataset"), ("model", "model"), ("params", "#params"), ("nll", "NLL"),
                    ("source", "source")]


def markdown(rows: list[dict], caption: str, columns=COLUMNS) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return f"{caption}\n\n" + "\n".join([head, sep, *body]) + "\n"


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def latex(rows: list[dict], caption: str, columns=COLUMNS) -> str:
    esc = lambda s: str(s).replace("_", r"\_").replace("%", r"\%").replace("#", r"\#").replace("Δ", r"$\Delta$").replace("−", "-")
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{esc(caption)}}}",
             r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
             " & ".join(esc(h) for _, h in columns) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(_fmt(r.get(k))) for k, _ in columns) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
