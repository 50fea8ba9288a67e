"""The reproduction report page: results/<preset>/report.html and report.md, made from metrics files and
provenance records only (the `report` stage).

Every target (an experiment: its table and / or figure) of both papers, in params order. A cell is a number
the paper printed, beside ours, Δ and a verdict: *reproduced* when |ours − paper| ≤ abs + rel·|paper|
(`tolerances.paper.<metric kind>`), *not reproduced* otherwise, *not comparable at this scale* when our row
does not measure what the paper's did (another dataset or setting: mrgen.report.collect.likeness). A
parameter count sets our paper-scale config against the paper's printed count (always like with like):
reproduced when it rounds to the printed digits. Then the table's claims (the paper's findings tested on
our numbers), the figure, and the target's provenance over every record upstream of it: commits, data
hashes, device, GPU- and CPU-hours, and the audit of those records (mrgen.audit.record_status).

The HTML is one self-contained file: inline CSS, figures as base64 data URIs, every string escaped, no
script, and a Content-Security-Policy that lets it load nothing else. report.md says the same in Markdown,
its figures linked beside it.
"""
from __future__ import annotations

import base64
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mrgen.config.schema import FIGURE_KINDS, Tolerance
from mrgen.config.spec import Spec
from mrgen.errors import DataError
from mrgen.lineage import Graph, graph, read_record
from mrgen.paths import ROOT
from mrgen.registry import REFERENCE_PRESET
from mrgen.report import f4, g4, t1, t2, t3, th2, w1, w4, w5, w6
from mrgen.report.claims import CAPTION as CLAIMS_CAPTION
from mrgen.report.claims import NOT_PRINTED
from mrgen.report.collect import delta, shown_value
from mrgen.report.render import Block, Document, md_cell

TABLES = {"f4": f4, "t1": t1, "t2": t2, "t3": t3, "g4": g4, "th2": th2, "w1": w1, "w4": w4, "w5": w5, "w6": w6}
PAPERS = {"hvae": "Falck et al. 2022: A Multi-Resolution Framework for U-Nets with Applications to Hierarchical VAEs",
          "wavelet": "Multi-Scale Generative Modeling in Wavelet Domain"}
PAPER_OF = {**dict.fromkeys(("f4", "t1", "t2", "t3", "g4", "f5", "f6"), "hvae"),
            **dict.fromkeys(("th2", "w1", "w4", "w5", "w6"), "wavelet")}

REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE = "reproduced", "not reproduced", "not comparable at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE)
AGREES, DIFFERS, SILENT = "agrees with the paper", "differs from the paper", "the paper printed no numbers"
OUTCOMES = (AGREES, DIFFERS, SILENT)
TONE = {REPRODUCED: "ok", NOT_REPRODUCED: "bad", NOT_COMPARABLE: "na", AGREES: "ok", DIFFERS: "bad", SILENT: "na"}
DATA_KINDS = ("fetch", "prepare")             # whose outputs are the data every number rests on
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Measure:
    """A number the paper may print for a row: ours under `key`, the paper's under `paper_key`."""
    key: str
    paper_key: str
    metric: str                                 # the tolerance's metric kind
    label: str                                  # formatted with the row's fields


NLL = Measure("nll", "paper_nll", "nll", "{split} NLL ({nll_unit})")
PARAMS = Measure("paper_config_params", "paper_params", "params", "#params (paper-scale config)")
FID = Measure("fid", "paper_fid", "fid", "FID")
MS = Measure("ms_per_image", "paper_ms_per_image", "ms_per_image", "ms/image")
MEASURES = {**dict.fromkeys(("f4", "t1", "t2", "t3", "g4"), (NLL, PARAMS)), **dict.fromkeys(("w1", "w4"), (FID, MS, PARAMS)),
            "th2": (Measure("ll_error", "paper", "theorem2", "max|LL_j − 2^j pool_j| / max|2^j pool_j|"),
                    Measure("proj_error", "paper", "theorem2", "‖P_j x − lift(pool_j x)‖ / ‖x‖"))}

CELL_COLUMNS = [("panel", "panel"), ("row", "row"), ("quantity", "quantity"), ("paper", "paper"), ("ours", "ours"),
                ("delta", "Δ ours − paper"), ("verdict", "verdict"), ("basis", "decided by")]
CLAIM_COLUMNS = [("panel_label", "panel"), ("claim", "claim"), ("ours", "ours"), ("paper", "paper"),
                 ("outcome", "outcome")]


@dataclass
class Target:
    """One experiment as the page shows it."""
    exp: str
    paper: str
    caption: str
    cells: list[dict]
    claims: list[dict]
    table: Document | None
    figure: tuple[str, bytes] | None            # (path, PNG bytes)
    provenance: dict


@dataclass
class Report:
    preset: str
    tolerances: dict[str, Tolerance]
    targets: list[Target]


# ---------------------------------------------------------------- cells and claims
def paper_number(printed, metric: str):
    """The paper's value as a number ('8.7m' -> 8700000 for a count)."""
    value = shown_value(printed)[0] if isinstance(printed, str) else printed
    return round(value) if metric == "params" else value


def shown(printed) -> str:
    """The paper's value as the paper prints it."""
    if isinstance(printed, str):
        return printed
    return f"{printed:,}" if isinstance(printed, int) else f"{printed:g}"


def tolerance_text(t: Tolerance) -> str:
    parts = ([f"{t.abs:g}"] if t.abs else []) + ([f"{t.rel:g}·|paper|"] if t.rel else [])
    return f"|Δ| ≤ {' + '.join(parts) or '0'}"


def where(row: dict, m: Measure) -> tuple[str, str]:
    """(panel, row) naming a cell: the panel and variant (with the step count, except for a parameter count);
    for Theorem 2 the images and the level."""
    if "level" in row:
        return row["images"], f"{row['dtype']}, level {row['level']}"
    steps = f", {row['steps']} steps" if "steps" in row and m is not PARAMS else ""
    return row["panel_label"], f"{row['variant']}{steps}"


def judge(row: dict, m: Measure, ours, paper, tol: Tolerance) -> tuple[str, str]:
    """(verdict, what decided it) of one cell."""
    if m is PARAMS:
        match = row.get("params_match")
        if match is None:
            return NOT_COMPARABLE, "no paper-scale config of ours in this row's place"
        return (REPRODUCED if match else NOT_REPRODUCED), "rounds to the paper's printed digits"
    if not row.get("comparable", True):
        return NOT_COMPARABLE, row.get("mismatch") or "no paper row in this row's place"
    return (REPRODUCED if tol.holds(ours, paper) else NOT_REPRODUCED), tolerance_text(tol)


def cell(row: dict, m: Measure, tolerances: dict[str, Tolerance]) -> dict | None:
    """The cell of measure `m` in a table row, or None where the paper printed no number."""
    printed = row.get(m.paper_key)
    if printed is None:
        return None
    ours, paper = row[m.key], paper_number(printed, m.metric)
    verdict, basis = judge(row, m, ours, paper, tolerances[m.metric])
    panel, name = where(row, m)
    return {"panel": panel, "row": name, "quantity": m.label.format(**row), "paper": shown(printed), "ours": ours,
            "delta": delta(ours, paper, verdict != NOT_COMPARABLE), "verdict": verdict, "basis": basis}


def cells(kind: str, rows: list[dict], tolerances: dict[str, Tolerance]) -> list[dict]:
    """Every cell of a table's rows, each (panel, row, quantity) once."""
    out: dict[tuple, dict] = {}
    for row in rows:
        for m in MEASURES.get(kind, ()):
            c = cell(row, m, tolerances)
            if c is not None:
                out.setdefault((c["panel"], c["row"], c["quantity"]), c)
    return list(out.values())


def outcome(line: dict) -> str:
    """Whether our verdict on a claim is the paper's (the first word: yes / no / worse / better / equal)."""
    if line["paper"] == NOT_PRINTED:
        return SILENT
    return AGREES if line["ours"].split(" ", 1)[0] == line["paper"].split(" ", 1)[0] else DIFFERS


def claims(doc: Document | None) -> list[dict]:
    """The claims block of a table, each line with its outcome."""
    block = next((b for b in doc.blocks if b.caption == CLAIMS_CAPTION), None) if doc else None
    return [{**line, "outcome": outcome(line)} for line in (block.rows if block else [])]


# ---------------------------------------------------------------- provenance
def gpus_used(rec: dict) -> int:
    """GPUs a stage computed on: its world size (1 if unset) when its `device` field names a GPU, else 0."""
    return int(rec.get("world_size") or 1) if str(rec.get("device", "")).startswith("cuda") else 0


def cpu_threads(rec: dict) -> int:
    """CPU threads torch used (1 where the stage never imported torch or the record predates the field)."""
    dev = (rec.get("environment") or {}).get("device")
    return (dev.get("cpu_threads") if isinstance(dev, dict) else None) or 1


def device_text(rec: dict) -> str:
    """The device a record names ('unknown' for a record older than the device block)."""
    from mrgen import audit
    return audit.describe_device(rec) if isinstance((rec.get("environment") or {}).get("device"), dict) else "unknown"


def audit_status(spec: Spec, g: Graph, ids: list[str], root: Path) -> dict:
    """mrgen.audit.record_status over a target's stages, merged: ok, checks run, problems (each once)."""
    from mrgen import audit
    found = [audit.record_status(spec, g, i, root) for i in ids]
    return {"ok": all(f["ok"] for f in found), "checked": sum(f["checked"] for f in found),
            "problems": list(dict.fromkeys(p for f in found for p in f["problems"]))}


def provenance(spec: Spec, g: Graph, ids: list[str], root: Path) -> dict:
    """Commits, data hashes, devices, compute and audit over every record upstream of a target's stages."""
    up = set().union(*(g.upstream(i) for i in ids))
    read = {i: read_record(g.stages[i].record, root) for i in g.stages if i in up}
    recs = [rec for rec, _ in read.values() if rec]
    data = sorted({(p, h) for i, (rec, _) in read.items() if rec and g.stages[i].kind in DATA_KINDS
                   for p, h in rec["outputs"].items()})
    wall = [float(rec.get("wall_time_s") or 0.0) for rec in recs]
    return {
        "stages": len(read), "missing": [f"{g.stages[i].record}: {why}" for i, (rec, why) in read.items() if rec is None],
        "commits": Counter(str((rec.get("git") or {}).get("commit") or "none")[:10] for rec in recs),
        "code_changed": sum(bool((rec.get("git") or {}).get("code_changed")) for rec in recs),
        "data": data, "devices": Counter(device_text(rec) for rec in recs),
        "gpu_hours": sum(w * gpus_used(r) for w, r in zip(wall, recs)) / 3600,
        "cpu_hours": sum(w * cpu_threads(r) for w, r in zip(wall, recs) if not gpus_used(r)) / 3600,
        "wall_hours": sum(wall) / 3600, "audit": audit_status(spec, g, ids, root)}


# ---------------------------------------------------------------- collecting
def figure(spec: Spec, exp: str, root: Path) -> tuple[str, bytes]:
    path = spec.paths.figure(exp, "png")
    try:
        data = (Path(root) / path).read_bytes()
    except OSError:
        raise DataError(f"{path}: figure missing; run `mrgen figure --preset {spec.preset} {exp}` first") from None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DataError(f"{path}: not a PNG file; rerun `mrgen figure --preset {spec.preset} {exp}`")
    return path, data


def target(spec: Spec, g: Graph, exp: str, root: Path) -> Target:
    kind = spec.p["experiments"][exp]["kind"]
    doc = TABLES[kind].table(spec, exp, root) if kind in TABLES else None
    ids = [i for i in (f"table@{exp}", f"figure@{exp}") if i in g.stages]
    return Target(exp, PAPER_OF[kind], spec.p["experiments"][exp]["caption"],
                  cells(kind, doc.data if doc else [], spec.params.tolerances.paper), claims(doc), doc,
                  figure(spec, exp, root) if kind in FIGURE_KINDS else None, provenance(spec, g, ids, root))


def collect(spec: Spec, root: Path = ROOT) -> Report:
    """Everything the page shows, read from metrics files, figures and records below `root`."""
    g = graph(spec)
    return Report(spec.preset, dict(spec.params.tolerances.paper),
                  [target(spec, g, e, Path(root)) for e in spec.p["experiments"]])


# ---------------------------------------------------------------- summaries shared by both renderings
def tally(targets: list[Target]) -> dict:
    """Cells by verdict, claims by outcome, and targets whose audit is clean."""
    return {"targets": len(targets), "cells": Counter(c["verdict"] for t in targets for c in t.cells),
            "claims": Counter(c["outcome"] for t in targets for c in t.claims),
            "clean": sum(t.provenance["audit"]["ok"] for t in targets)}


def by_paper(report: Report) -> dict[str, list[Target]]:
    return {p: [t for t in report.targets if t.paper == p] for p in PAPERS if any(t.paper == p for t in report.targets)}


def scale_note(report: Report) -> str:
    if report.preset == REFERENCE_PRESET:
        return (f"Preset {report.preset}: the papers' datasets and settings. A cell is not comparable only where "
                "a row measures something the paper did not.")
    return (f"Preset {report.preset}: small stand-in data on a CPU. Its rows measure other data and settings than "
            "the papers' (a cell says which), so most measured cells are not comparable at this scale; the parameter "
            "counts of our paper-scale configs and the papers' findings tested as claims on our numbers are what "
            "this preset reproduces.")


def counts_text(c: Counter, names: tuple[str, ...]) -> str:
    return ", ".join(f"{c[n]} {n}" for n in names)


def provenance_lines(p: dict) -> list[tuple[str, list[str]]]:
    """(label, its lines) of a target's provenance."""
    commits = ", ".join(f"{c} ({n} record{'s' * (n != 1)})" for c, n in p["commits"].most_common())
    changed = f"; {p['code_changed']} ran code that differed from its commit" if p["code_changed"] else ""
    missing = f"; {len(p['missing'])} record(s) missing" if p["missing"] else ""
    a = p["audit"]
    audit = (f"clean ({a['checked']} checks)" if a["ok"]
             else f"{len(a['problems'])} problem(s) in {a['checked']} checks")
    return [("commits", [f"{commits or 'none'}{changed}{missing}"]),
            ("data", [f"{path} sha256 {h}" for path, h in p["data"]] or ["none recorded"]),
            ("device", ["; ".join(f"{d} ({n} stage{'s' * (n != 1)})" for d, n in p["devices"].most_common())]),
            ("compute", [f"{p['gpu_hours']:.3f} GPU-hours, {p['cpu_hours']:.3f} CPU-hours "
                         f"({p['wall_hours']:.3f} h wall-clock over {p['stages']} upstream stages)"]),
            ("audit", [audit])]


def tolerance_rows(report: Report) -> list[dict]:
    return [{"metric": k, "rule": tolerance_text(t)} for k, t in report.tolerances.items()]


# ---------------------------------------------------------------- HTML
def esc(value) -> str:
    return html.escape(str(value), quote=True)


def html_table(block: Block, tone_key: str | None = None) -> str:
    """A Block as an HTML table, every cell formatted by `fmt` and escaped; `tone_key`'s cells as pills."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h in block.columns)
    body = []
    for cells_ in block.cells():
        tds = []
        for (key, _), text in zip(block.columns, cells_):
            inner = f'<span class="pill {TONE.get(text, "na")}">{esc(text)}</span>' if key == tone_key else esc(text)
            tds.append(f"<td>{inner}</td>")
        body.append(f"<tr>{''.join(tds)}</tr>")
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in block.notes)
    caption = f"<caption>{esc(block.caption)}</caption>" if block.caption else ""
    return (f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{notes}")


def stat(n: int, label: str, tone: str) -> str:
    return f'<div class="stat {tone}"><b>{n}</b><span>{esc(label)}</span></div>'


def audit_badge(clean: int, total: int) -> str:
    if clean == total:
        return f'<p class="audit ok">✓ audit clean: every record upstream of all {total} targets checks out</p>'
    bad = total - clean
    return f'<p class="audit bad">✗ audit: {bad} of {total} target{"s have" if bad > 1 else " has"} problems (see each)</p>'


def paper_card(paper: str, targets: list[Target]) -> str:
    t = tally(targets)
    cells_ = "".join(stat(t["cells"][v], v, TONE[v]) for v in VERDICTS)
    claims_ = "".join(stat(t["claims"][o], o, TONE[o]) for o in OUTCOMES)
    links = " ".join(f'<a href="#{esc(x.exp)}">{esc(x.exp)}</a>' for x in targets)
    return (f'<section class="card paper"><h2>{esc(PAPERS[paper])}</h2>'
            f'<p class="muted">{t["targets"]} targets: {links}</p>'
            f'<h3>Printed numbers (cells)</h3><div class="stats">{cells_}</div>'
            f'<h3>The paper\'s findings on our numbers (claims)</h3><div class="stats">{claims_}</div>'
            f'{audit_badge(t["clean"], t["targets"])}</section>')


def index_row(t: Target) -> str:
    c, k, a = Counter(x["verdict"] for x in t.cells), Counter(x["outcome"] for x in t.claims), t.provenance["audit"]
    nums = "".join(f'<td class="num {TONE[v] if c[v] else ""}">{c[v]}</td>' for v in VERDICTS)
    nums += "".join(f'<td class="num {TONE[o] if k[o] else ""}">{k[o]}</td>' for o in (AGREES, DIFFERS))
    audit = '<td class="ok nowrap">✓ clean</td>' if a["ok"] else f'<td class="bad nowrap">✗ {len(a["problems"])}</td>'
    return (f'<tr><td><a href="#{esc(t.exp)}">{esc(t.exp)}</a></td><td>{esc(t.caption)}</td>{nums}{audit}'
            f'<td class="num">{t.provenance["gpu_hours"]:.3f}</td></tr>')


def index_table(report: Report) -> str:
    head = ("<tr><th rowspan=2>target</th><th rowspan=2>caption</th><th colspan=3>cells</th><th colspan=2>claims</th>"
            "<th rowspan=2>audit</th><th rowspan=2>GPU-h</th></tr><tr><th>reproduced</th><th>not</th>"
            "<th>not comparable</th><th>agree</th><th>differ</th></tr>")
    return (f'<section class="card"><h2>Targets</h2><div class="scroll"><table class="index"><thead>{head}</thead>'
            f"<tbody>{''.join(index_row(t) for t in report.targets)}</tbody></table></div></section>")


def html_target(t: Target) -> str:
    prov = "".join(f"<dt>{esc(k)}</dt><dd>{'<br>'.join(esc(x) for x in v)}</dd>" for k, v in provenance_lines(t.provenance))
    problems = t.provenance["audit"]["problems"] + t.provenance["missing"]
    parts = [f'<section class="card target" id="{esc(t.exp)}"><p class="tag">{esc(PAPERS[t.paper])}</p>',
             f'<h2><span class="tid">{esc(t.exp)}</span> {esc(t.caption)}</h2><dl class="prov">{prov}</dl>']
    if problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in problems)
        parts.append(f"<details open><summary>Audit problems ({len(problems)})</summary><ul>{items}</ul></details>")
    if t.cells:
        parts.append(html_table(Block("The paper's printed numbers beside ours", t.cells, CELL_COLUMNS), "verdict"))
    else:
        parts.append('<p class="note">The paper printed no numbers for this target: there is no cell to compare'
                     + ("; its findings are tested below." if t.claims else "; compare the figure with the paper's.")
                     + "</p>")
    if t.claims:
        parts.append(html_table(Block(CLAIMS_CAPTION, t.claims, CLAIM_COLUMNS), "outcome"))
    if t.figure:
        uri = "data:image/png;base64," + base64.b64encode(t.figure[1]).decode("ascii")
        parts.append(f'<figure><img src="{esc(uri)}" alt="{esc(f"Figure {t.exp}: {t.caption}")}">'
                     f"<figcaption>{esc(t.figure[0])}</figcaption></figure>")
    if t.table:
        tables = "".join(html_table(b) for b in t.table.shown())
        parts.append(f"<details><summary>Full table (every column)</summary>{tables}</details>")
    return "".join(parts) + "</section>"


STYLE = """
:root{--ok:#116329;--ok-bg:#dafbe1;--bad:#a40e26;--bad-bg:#ffebe9;--na:#424a53;--na-bg:#eaeef2;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{background:#24292f;color:#fff;padding:26px 0 22px}
.wrap{max-width:1240px;margin:0 auto;padding:0 28px}
h1{margin:0 0 6px;font-size:26px;font-weight:600}
h1 .preset{display:inline-block;margin-left:10px;padding:1px 10px;border-radius:12px;background:#57606a;
  font-size:15px;vertical-align:4px}
header p{margin:4px 0;opacity:.88;max-width:1000px}
h2{font-size:17px;margin:0 0 8px;font-weight:600}
h3{font-size:12px;margin:12px 0 6px;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
.cards{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin:20px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:18px 0;
  box-shadow:0 1px 2px rgba(31,35,40,.06)}
.cards .card{margin:0}
.stats{display:flex;gap:8px}
.stat{flex:1;border-radius:8px;padding:8px 10px;line-height:1.25}
.stat b{display:block;font-size:26px;font-weight:650}
.stat span{font-size:12px}
.ok{color:var(--ok)} .bad{color:var(--bad)} .na{color:var(--na)}
.stat.ok,.pill.ok{background:var(--ok-bg)} .stat.bad,.pill.bad{background:var(--bad-bg)}
.stat.na,.pill.na{background:var(--na-bg)}
.audit{margin:12px 0 0;font-weight:600}
.muted{color:#57606a;margin:0}
a{color:#0969da;text-decoration:none} a:hover{text-decoration:underline}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:10px 0;font-size:12.5px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0;color:#1f2328}
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums} .nowrap{white-space:nowrap}
table.index td.num.ok,table.index td.num.bad,table.index td.num.na{font-weight:700}
.pill{display:inline-block;padding:0 8px;border-radius:10px;white-space:nowrap;font-size:12px}
.tag{margin:0;color:#57606a;font-size:12px}
.tid{display:inline-block;background:#24292f;color:#fff;border-radius:6px;padding:0 8px;margin-right:6px;
  font-family:ui-monospace,monospace}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0;font-size:12.5px}
dl.prov dt{color:#57606a;font-weight:600} dl.prov dd{margin:0;word-break:break-all}
.note{color:#57606a;font-size:12.5px}
figure{margin:12px 0;text-align:center} figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:12px}
details{margin:10px 0} summary{cursor:pointer;font-weight:600;color:#0969da}
footer{color:#57606a;font-size:12.5px;padding:8px 0 40px}
"""


def html_page(report: Report) -> str:
    """The self-contained HTML page."""
    cards = "".join(paper_card(p, ts) for p, ts in by_paper(report).items())
    tol = html_table(Block("Tolerances (tolerances.paper in params.yaml): a comparable cell is reproduced when",
                           tolerance_rows(report), [("metric", "metric kind"), ("rule", "rule")]))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Reproduction report: preset {esc(report.preset)}</title><style>{STYLE}</style></head><body>"
            f'<header><div class="wrap"><h1>Reproduction report<span class="preset">{esc(report.preset)}</span></h1>'
            f"<p>Every table and figure of two papers, regenerated from raw data by one DAG; this page is made from "
            f"metrics files and provenance records only. A cell is a number the paper printed: {esc(REPRODUCED)} "
            f"within tolerance, {esc(NOT_REPRODUCED)}, or {esc(NOT_COMPARABLE)}.</p><p>{esc(scale_note(report))}</p>"
            f'</div></header><main class="wrap"><div class="cards">{cards}</div>{index_table(report)}'
            f"{''.join(html_target(t) for t in report.targets)}</main>"
            f'<footer class="wrap">{tol}</footer></body></html>\n')


# ---------------------------------------------------------------- Markdown
def markdown_page(report: Report) -> str:
    """The same page in Markdown, figures linked (figures/<id>.png beside it)."""
    out = [f"# Reproduction report: preset {report.preset}\n",
           "Every table and figure of two papers, regenerated from raw data by one DAG; made from metrics files and "
           f"provenance records only. A cell is a number the paper printed: {REPRODUCED} within tolerance, "
           f"{NOT_REPRODUCED}, or {NOT_COMPARABLE}.\n", scale_note(report) + "\n", "## At a glance\n"]
    rows = []
    for p, ts in by_paper(report).items():
        t = tally(ts)
        rows.append({"paper": PAPERS[p], "targets": t["targets"], **{v: t["cells"][v] for v in VERDICTS},
                     **{o: t["claims"][o] for o in OUTCOMES}, "audit": f"{t['clean']} of {t['targets']} clean"})
    cols = [("paper", "paper"), ("targets", "targets"), *[(v, f"cells {v}") for v in VERDICTS],
            *[(o, f"claims: {o}") for o in OUTCOMES], ("audit", "audit")]
    out.append(Block("", rows, cols).markdown().lstrip())
    for t in report.targets:
        out.append(f"## {md_cell(t.exp)}: {md_cell(t.caption)}\n\n*{PAPERS[t.paper]}*\n")
        out.append("\n".join(f"- **{k}**: {md_cell('; '.join(v))}" for k, v in provenance_lines(t.provenance)) + "\n")
        out += [f"- audit problem: {md_cell(p)}" for p in t.provenance["audit"]["problems"] + t.provenance["missing"]]
        out.append(Block("The paper's printed numbers beside ours", t.cells, CELL_COLUMNS).markdown() if t.cells
                   else "The paper printed no numbers for this target: there is no cell to compare.\n")
        if t.claims:
            out.append(Block(CLAIMS_CAPTION, t.claims, CLAIM_COLUMNS).markdown())
        if t.figure:
            out.append(f"![Figure {md_cell(t.exp)}](figures/{t.exp}.png)\n")
        if t.table:
            out.append(f"Full table: [tables/{t.exp}.md](tables/{t.exp}.md)\n")
    out.append(Block("Tolerances (tolerances.paper in params.yaml): a comparable cell is reproduced when",
                     tolerance_rows(report), [("metric", "metric kind"), ("rule", "rule")]).markdown())
    return "\n".join(out)
