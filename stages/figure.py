"""figure: an experiment's metrics, state traces or samples -> results/figures/<id>.{png,pdf}."""
from mrgen.report.collect import rows, samples, states
from mrgen.report.figures import f4_figure, f5_figure, f6_figure, save
from mrgen.report.wavelet import FIGURES as WAVELET_FIGURES, ROWS

FIGURES = {"f4": (rows, f4_figure), "f5": (states, f5_figure), "f6": (samples, f6_figure),
           **{k: (ROWS[k][0], draw) for k, draw in WAVELET_FIGURES.items()}}


def body(ctx):
    e = ctx.stage.name
    ex = ctx.spec.p["experiments"][e]
    collect, draw = FIGURES[ex["kind"]]
    save(draw(collect(ctx.spec, e), ex["caption"], ex["figure"]),
         ctx.out(ctx.spec.paths.figure(e, "png")), ctx.out(ctx.spec.paths.figure(e, "pdf")), ex["figure"]["dpi"])

