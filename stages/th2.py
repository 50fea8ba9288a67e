"""th2: Theorem 2's check (Haar LL = scaled average pooling; projection = lift . pool) on random and real
images -> results/analysis/<experiment>.json."""
from mrgen.analysis.theorem2 import theorem2
from mrgen.data.prepared import Prepared
from mrgen.io import write_json
from mrgen.paths import ROOT


def body(ctx):
    t = ctx.spec.p["wavelet"]["th2"]
    real = Prepared.open(ROOT / ctx.spec.paths.prepared(t["dataset"])).split("test")[:t["n_real"]]
    out = theorem2(real, t["n_random"], t["random_size"], t["levels"], t["seed"])
    write_json(ctx.out(ctx.spec.paths.th2_file(ctx.stage.name)), {"dataset": t["dataset"], **out})
    ctx.info["seed"] = t["seed"]

