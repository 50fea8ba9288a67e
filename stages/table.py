"""table: an experiment's metrics -> results/<preset>/tables/<id>.{md,csv,tex}: ours beside the paper's
peer, Δ only for like with like, and the paper's findings tested on both sides (mrgen.report)."""
from mrgen.report import f4, g4, t1, t2, t3, th2, w1, w4, w5, w6

TABLES = {"f4": f4, "t1": t1, "t2": t2, "t3": t3, "g4": g4, "th2": th2, "w1": w1, "w4": w4, "w5": w5, "w6": w6}


def body(ctx):
    e = ctx.stage.name
    doc = TABLES[ctx.spec.p["experiments"][e]["kind"]].table(ctx.spec, e)
    for ext in ("md", "csv", "tex"):
        ctx.out(ctx.spec.paths.table(e, ext)).write_text(doc.render(ext))
