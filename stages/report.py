"""report: the reproduction report page. Every target's metrics, figure and upstream provenance records ->
results/<preset>/report.html (one self-contained file) and report.md (mrgen.report.page)."""
from mrgen.report import page


def body(ctx):
    report = page.collect(ctx.spec)
    ctx.out(ctx.spec.paths.report("html")).write_text(page.html_page(report))
    ctx.out(ctx.spec.paths.report("md")).write_text(page.markdown_page(report))
