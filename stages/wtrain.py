"""wtrain: one part of a wavelet-paper model -> models/<model>-<part>/{model.pt, ema.pt, curve.csv}.

Score parts train by denoising score matching (SGM on images, WSGM / WMGM on standardised Haar bands);
the gan part trains WMGM's shared generator against its discriminator. Resumable from work/<preset>/<name>/."""
import csv
import hashlib
import json

import torch

from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared
from mrgen.io import save_torch
from mrgen.models.wavelet import methods
from mrgen.models.wavelet import training as trainer
from mrgen.models.wavelet.gan import count
from mrgen.paths import ROOT
from mrgen.registry import wavelet_parts
from mrgen.train.checkpoint import discard_resumable


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    m, part = wavelet_parts(spec)[name]
    wm = spec.p["wavelet_models"][m]
    ds = spec.p["datasets"][wm["dataset"]]
    net_params = spec.p["wavelet_nets"][wm["parts"][part]["net"]]
    t = spec.p["wavelet_training"][wm["parts"][part]["training"]]
    w = spec.p["wavelet"]
    cfg = methods.net_config(part, net_params, ds["image_size"], ds["channels"], wm["levels"])
    data = Prepared.open(ROOT / spec.paths.prepared(wm["dataset"]))
    if data.meta["shape"] != [ds["image_size"], ds["image_size"], ds["channels"]]:
        raise DataError(f"{data.root}/meta.json: shape {data.meta['shape']} does not match params "
                        f"{[ds['image_size'], ds['image_size'], ds['channels']]}")
    torch.set_num_threads(t["threads"])
    seed = wm["seed"]
    batches = Batches(data.split("train"), {**data.meta, "likelihood": "dmol", "input_shift": 0.0, "input_scale": 1.0},
                      t["batch_size"], seed=seed)
    fingerprint = hashlib.sha256(json.dumps([ctx.inputs, ctx.params], sort_keys=True).encode()).hexdigest()
    work = ROOT / spec.paths.work_dir(name)
    torch.manual_seed(seed)
    net = methods.build(cfg)
    if part == "gan":
        net, ema, state = trainer.train_gan(net, batches, t, wm["levels"], cfg, work, fingerprint, seed)
        fields = trainer.GAN_FIELDS
    else:
        std = None if part == "full" else methods.Standardiser(
            json.loads((ROOT / spec.paths.wstats_file(wm["dataset"])).read_text()))
        net, ema, state = trainer.train_score(part, net, batches, t, wm["levels"], std, w["horizon"], w["schedule"],
                                              work, fingerprint, seed)
        fields = trainer.SCORE_FIELDS
    md = spec.paths.model_dir(name)
    for key, module in (("model.pt", net), ("ema.pt", ema)):
        save_torch({"part": part, "method": wm["method"], "config": cfg.as_dict(), "state_dict": module.state_dict(),
                    "step": state.step}, ctx.out(f"{md}/{key}"))
    with open(ctx.out(f"{md}/curve.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fields)
        wr.writeheader()
        wr.writerows(state.curve)
    ctx.after_commit.append(lambda: discard_resumable(work))    # finished: a rerun must train afresh
    ctx.info.update(seed=seed, device="cpu", steps=state.step, n_params=count(net))

