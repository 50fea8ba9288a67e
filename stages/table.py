"""table: an experiment's metrics -> results/tables/<id>.{md,csv,tex} (paper value, ours, difference)."""
from mrgen.report.collect import baselines, rows
from mrgen.report.tables import BASELINE_COLUMNS, COLUMNS, csv_text, latex, markdown
from mrgen.report.wavelet import ROWS


def body(ctx):
    e = ctx.stage.name
    ex = ctx.spec.p["experiments"][e]
    collect, columns = ROWS.get(ex["kind"], (rows, COLUMNS))
    table, published = collect(ctx.spec, e), baselines(ctx.spec, e)
    md, tex = markdown(table, ex["caption"], columns), latex(table, ex["caption"], columns)
    if published:
        caption = "Published baselines (the paper's Table 1 rows for other models), printed as reported"
        md += "\n" + markdown(published, caption, BASELINE_COLUMNS)
        tex += latex(published, caption, BASELINE_COLUMNS)
    ctx.out(ctx.spec.paths.table(e, "md")).write_text(md)
    ctx.out(ctx.spec.paths.table(e, "csv")).write_text(csv_text(table))
    ctx.out(ctx.spec.paths.table(e, "tex")).write_text(tex)

