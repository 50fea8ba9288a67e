"""figure: an experiment's metrics, state traces or samples -> results/<preset>/figures/<id>.{png,pdf}."""
from mrgen.report import f4, f5, f6, th2, w4, w5, w6
from mrgen.report.figures import figure, save

FIGURES = {"f4": f4, "f5": f5, "f6": f6, "th2": th2, "w4": w4, "w5": w5, "w6": w6}


def body(ctx):
    e = ctx.stage.name
    fig = ctx.spec.p["experiments"][e]["figure"]
    save(figure(FIGURES[ctx.spec.p["experiments"][e]["kind"]], ctx.spec, e),
         ctx.out(ctx.spec.paths.figure(e, "png")), ctx.out(ctx.spec.paths.figure(e, "pdf")), fig["dpi"])
