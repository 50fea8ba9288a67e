"""fetch: a dataset's declared raw files -> data/raw/<dataset>/ (checksummed; DVC-tracked).

Files come from data/downloads/<dataset>/ (downloaded there, copied there from a pinned package, or
placed there by the user); see mrgen.data.fetch.
"""
from mrgen import stage
from mrgen.data.fetch import downloads_dir, fetch_raw
from mrgen.spec import ROOT


def body(ctx):
    name = ctx.stage.name
    raw = ctx.spec.p["datasets"][name]["raw"]
    ctx.info["files"] = fetch_raw(name, raw, downloads_dir(ROOT, name), ctx.out(ctx.spec.raw_dir(name)))


if __name__ == "__main__":
    stage.run("fetch", body)
