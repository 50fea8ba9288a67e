"""table: an experiment's metrics -> results/tables/<id>.{md,csv,tex} (paper value, ours, difference)."""
from mrgen import stage
from mrgen.report.collect import f4_rows
from mrgen.report.tables import csv_text, latex, markdown

ROWS = {"f4": f4_rows}


def body(ctx):
    e = ctx.stage.name
    ex = ctx.spec.p["experiments"][e]
    rows = ROWS[ex["kind"]](ctx.spec, e)
    ctx.out(f"results/tables/{e}.md").write_text(markdown(rows, ex["caption"]))
    ctx.out(f"results/tables/{e}.csv").write_text(csv_text(rows))
    ctx.out(f"results/tables/{e}.tex").write_text(latex(rows, ex["caption"]))


if __name__ == "__main__":
    stage.run("table", body)
