"""wstats: a dataset's training split in the Haar domain -> results/analysis/wavelet/<dataset>.json
(per-scale standardisation for WSGM / WMGM, W5's KL by scale, W6's detail sparsity and histograms)."""
from mrgen.analysis.wavelet_stats import analyse
from mrgen.data.prepared import Prepared
from mrgen.io import write_json
from mrgen.paths import ROOT


def body(ctx):
    d = ctx.stage.name
    a = ctx.spec.p["wavelet"]["analysis"]
    data = Prepared.open(ROOT / ctx.spec.paths.prepared(d))
    levels = max([a["levels"]] + [wm["levels"] for wm in ctx.spec.p["wavelet_models"].values() if wm["dataset"] == d])
    stats = analyse(data.split("train"), levels, a["kl_max_dim"], a["kl_direction"], a["bins"], a["span"])
    write_json(ctx.out(ctx.spec.paths.wstats_file(d)), {"dataset": d, "split": "train", **stats})

