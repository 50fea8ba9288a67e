"""prepare: data/raw/<dataset>/ -> data/prepared/<dataset>/{train,val,test}.npy + meta.json."""
from mrgen.data.sources import prepare_dataset
from mrgen.io import sha256_path
from mrgen.paths import ROOT


def body(ctx):
    name = ctx.stage.name
    ds = ctx.spec.p["datasets"][name]
    raw_dir = ROOT / ctx.spec.paths.raw_dir(name)
    raw = {n: sha256_path(raw_dir / n) for n in ds["raw"]["files"]}     # meta reaches the raw bytes
    meta = prepare_dataset(name, ds, raw_dir, ctx.out(ctx.spec.paths.prepared(name)), raw)
    ctx.info.update(seed=ds["split"]["seed"], counts=meta["counts"], index_sha256=meta["index_sha256"])

