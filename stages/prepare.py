"""prepare: a dataset's raw source -> data/prepared/<dataset>/{train,val,test}.npy + meta.json."""
from mrgen import stage
from mrgen.data.prepared import write_prepared
from mrgen.data.sources import prepare


def body(ctx):
    name = ctx.stage.name
    ds = ctx.spec.p["datasets"][name]
    arrays, meta = prepare(ds, name)
    write_prepared(ctx.out(ctx.spec.prepared(name)), arrays, {**meta, "dataset": name})
    ctx.info["seed"] = ds["split"]["seed"]


if __name__ == "__main__":
    stage.run("prepare", body)
