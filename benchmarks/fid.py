"""The FID stage's computation vs calling clean-fid directly, on the same folders, in one run.

    python benchmarks/fid.py [SETTING]        # default: the first wavelet sampling setting of the preset

Needs the tiny DAG's outputs (the sample folder, the prepared reference split and the weights in
data/raw/<asset>/). Ours = what fidref + fid run (reference split -> PNGs -> clean-fid features -> mu,
sigma; sample folder -> features; our Fréchet distance, mrgen.metrics.fid.frechet). clean-fid = fid.compute_fid(samples,
reference folder, mode="clean", custom_feat_extractor=the same weights). Prints both FIDs, |delta| (goal
< 1e-3), the committed fid.json value, and the wall times with their ratio.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from cleanfid import fid as cleanfid

from mrgen.config.spec import load
from mrgen.data.prepared import Prepared
from mrgen.metrics.fid import array_features, folder_features, frechet, statistics, weights, write_pngs
from mrgen.paths import ROOT
from mrgen.registry import wavelet_settings


def main():
    spec = load()
    name = sys.argv[1] if len(sys.argv) > 1 else next(iter(wavelet_settings(spec)))
    model, _ = wavelet_settings(spec)[name]
    f = spec.p["wavelet"]["fid"]
    d = spec.p["wavelet_models"][model]["dataset"]
    ref = Prepared.open(ROOT / spec.paths.prepared(d)).split(f["reference_split"])
    ref = ref[:f["reference_n"]] if f["reference_n"] is not None else ref
    samples = ROOT / spec.paths.samples_dir(name)
    _, extractor = weights(ROOT, spec.paths.raw_dir(f["weights"]), f)

    t0 = time.perf_counter()
    mu_r, s_r = statistics(array_features(ref, extractor, f["batch_size"]))
    mu_s, s_s = statistics(folder_features(samples, extractor, f["batch_size"]))
    ours = frechet(mu_s, s_s, mu_r, s_r)
    t_ours = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        write_pngs(ref, Path(tmp))                      # clean-fid reads folders; writing them is not timed
        t0 = time.perf_counter()
        theirs = cleanfid.compute_fid(str(samples), tmp, mode="clean", custom_feat_extractor=extractor,
                                      device=torch.device("cpu"), num_workers=0, batch_size=f["batch_size"],
                                      verbose=False, use_dataparallel=False)
        t_theirs = time.perf_counter() - t0
    committed = json.loads((ROOT / spec.paths.metrics_dir(name) / "fid.json").read_text())["fid"]
    n_samples = len(list(samples.glob("*.png")))
    print(f"setting {name}: {n_samples} samples vs {len(ref)} reference images ({f['reference_split']}), {f['weights_label']}")
    print(f"{'':24}{'FID':>14}{'seconds':>10}")
    print(f"{'ours (fidref + fid)':24}{ours:14.6f}{t_ours:10.2f}")
    print(f"{'clean-fid compute_fid':24}{theirs:14.6f}{t_theirs:10.2f}")
    print(f"|delta| = {abs(ours - theirs):.2e} (goal < 1e-3); committed fid.json = {committed:.6f}; "
          f"time ours / clean-fid = {t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()
