"""fid: FID of a sample folder against its dataset's reference statistics ->
results/<preset>/metrics/<model>-n<N>/fid.json (which weights made it is part of the record)."""
import json

import numpy as np

from mrgen.metrics.fid import folder_features, frechet, statistics, weights
from mrgen.paths import ROOT
from mrgen.registry import wavelet_settings


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    m, steps = wavelet_settings(spec)[name]
    d = spec.p["wavelet_models"][m]["dataset"]
    f = spec.p["wavelet"]["fid"]
    _, extractor = weights(ROOT, spec.paths.raw_dir(f["weights"]), f)
    feats = folder_features(ROOT / spec.paths.samples_dir(name), extractor, f["batch_size"])
    mu, sigma = statistics(feats)
    with np.load(ROOT / spec.paths.fidref_file(d)) as ref:
        score, n_ref = frechet(mu, sigma, ref["mu"], ref["sigma"]), int(ref["n"])
    out = {"model": m, "steps": steps, "dataset": d, "fid": score, "n_samples": len(feats), "n_reference": n_ref,
           "reference_split": f["reference_split"], "mode": "clean", "weights": f["weights_label"]}
    ctx.out(f"{spec.paths.metrics_dir(name)}/fid.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")

