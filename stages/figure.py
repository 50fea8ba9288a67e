"""figure: an experiment's metrics -> results/figures/<id>.{png,pdf}."""
from mrgen import stage
from mrgen.report.collect import f4_rows
from mrgen.report.figures import f4_figure, save

FIGURES = {"f4": (f4_rows, f4_figure)}


def body(ctx):
    e = ctx.stage.name
    ex = ctx.spec.p["experiments"][e]
    rows_fn, draw = FIGURES[ex["kind"]]
    save(draw(rows_fn(ctx.spec, e), ex["caption"], ex["figure"]),
         ctx.out(f"results/figures/{e}.png"), ctx.out(f"results/figures/{e}.pdf"), ex["figure"]["dpi"])


if __name__ == "__main__":
    stage.run("figure", body)
