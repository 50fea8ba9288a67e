"""fid: FID of a sample folder against its dataset's reference statistics ->
results/<preset>/metrics/<model>-n<N>/fid.json (which weights made it is part of the record)."""
import json
import zipfile

import numpy as np

from mrgen.errors import DataError
from mrgen.io import short_reason
from mrgen.metrics.fid import check_statistics, folder_features, frechet, statistics, weights
from mrgen.paths import ROOT
from mrgen.registry import wavelet_settings
from mrgen.train.dist import default_device


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    m, steps = wavelet_settings(spec)[name]
    d = spec.p["wavelet_models"][m]["dataset"]
    f = spec.p["wavelet"]["fid"]
    _, extractor = weights(ROOT, spec.paths.raw_dir(f["weights"]), f, default_device())
    feats = folder_features(ROOT / spec.paths.samples_dir(name), extractor, f["batch_size"])
    mu, sigma = statistics(feats)
    path = ROOT / spec.paths.fidref_file(d)
    try:
        with np.load(path) as ref:
            ref_mu, ref_sigma, n_ref = ref["mu"], ref["sigma"], int(ref["n"])
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: unreadable reference statistics ({short_reason(e)}); "
                        f"rerun the fidref stage for {d!r}") from None
    try:
        check_statistics(ref_mu, ref_sigma, str(path), dim=len(mu))
    except ValueError as e:
        raise DataError(f"{e}; rerun the fidref stage for {d!r}") from None
    score = frechet(mu, sigma, ref_mu, ref_sigma)
    out = {"model": m, "steps": steps, "dataset": d, "fid": score, "n_samples": len(feats), "n_reference": n_ref,
           "reference_split": f["reference_split"], "mode": "clean", "weights": f["weights_label"]}
    ctx.out(f"{spec.paths.metrics_dir(name)}/fid.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    ctx.info.update(device=extractor.device)

