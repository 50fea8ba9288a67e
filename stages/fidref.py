"""fidref: reference FID statistics of a prepared split -> results/metrics/fidref/<dataset>.npz
(mu, sigma of the Inception pool features, clean-fid "clean" mode; the weights file named in params)."""
import io

import numpy as np

from mrgen.data.prepared import Prepared
from mrgen.io import sha256_file
from mrgen.metrics.fid import array_features, statistics, weights
from mrgen.paths import ROOT
from mrgen.train.dist import default_device


def body(ctx):
    spec, d = ctx.spec, ctx.stage.name
    f = spec.p["wavelet"]["fid"]
    images = Prepared.open(ROOT / spec.paths.prepared(d)).split(f["reference_split"])
    if f["reference_n"] is not None:
        images = images[:f["reference_n"]]
    path, extractor = weights(ROOT, spec.paths.raw_dir(f["weights"]), f, default_device())
    mu, sigma = statistics(array_features(images, extractor, f["batch_size"]))
    buf = io.BytesIO()
    np.savez(buf, mu=mu, sigma=sigma, n=len(images))
    ctx.out(spec.paths.fidref_file(d)).write_bytes(buf.getvalue())
    ctx.info.update(n_images=len(images), weights=f["weights_label"], weights_sha256=sha256_file(path),
                    device=extractor.device)

