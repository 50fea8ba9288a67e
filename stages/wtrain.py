"""wtrain: one part of a wavelet-paper model -> models/<model>-<part>/{model.pt, ema.pt, curve.csv}.

Score parts train by denoising score matching (SGM on images, WSGM / WMGM on standardised Haar bands);
the gan part trains WMGM's shared generator against its discriminator. Both run through the one training
loop (mrgen.train.loop) on the device there is, resumable from work/<preset>/<name>/; with the recipe's
`gpus: N > 1` the stage relaunches itself as N torchrun workers (DDP); rank 0 writes."""
import hashlib
import json

import torch

from mrgen.config.spec import SpecError
from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared
from mrgen.io import save_torch, write_curve
from mrgen.models.wavelet import methods
from mrgen.models.wavelet.gan import count
from mrgen.paths import ROOT
from mrgen.registry import wavelet_parts
from mrgen.train import dist as distributed
from mrgen.train.checkpoint import discard_resumable
from mrgen.train.loop import fit
from mrgen.train.wavelet import GAN, Score


def launch(ctx):
    """With the recipe's gpus > 1: run this stage as that many torchrun workers; None: run it here."""
    n = ctx.stage.resources.gpus
    argv = ["wtrain", "--preset", ctx.spec.preset, ctx.stage.name]
    return distributed.relaunch(n, "mrgen", argv) if n > 1 else None


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
    if part == "gan" and t["grad_checkpoint"]:
        raise SpecError(f"{spec.source}: {spec.key('wavelet_training', wm['parts'][part]['training'], 'grad_checkpoint')}: "
                        f"the GAN generator has no per-block checkpointing; expected false, found true")
    torch.set_num_threads(t["threads"])
    seed = wm["seed"]
    dist = distributed.setup()
    try:
        batches = Batches(data.split("train"), {**data.meta, "likelihood": "dmol", "input_shift": 0.0,
                                                "input_scale": 1.0}, t["batch_size"], seed=seed, rank=dist.rank,
                          world=dist.world)
        fingerprint = hashlib.sha256(json.dumps([ctx.inputs, ctx.params], sort_keys=True).encode()).hexdigest()
        work = ROOT / spec.paths.work_dir(name)
        torch.manual_seed(seed)
        net = methods.build(cfg)
        if part == "gan":
            family = GAN(net, t, wm["levels"], cfg, seed, dist)
        else:
            std = None if part == "full" else methods.Standardiser(
                json.loads((ROOT / spec.paths.wstats_file(wm["dataset"])).read_text()))
            family = Score(part, net, t, wm["levels"], std, w["horizon"], w["schedule"], seed, dist)
        state = fit(family, batches, t, work, fingerprint, dist, desc=f"train {part}")
    finally:
        distributed.teardown()
    if not dist.main:
        return
    md = spec.paths.model_dir(name)
    for key, module in (("model.pt", family.model), ("ema.pt", family.ema)):
        save_torch({"part": part, "method": wm["method"], "config": cfg.as_dict(), "state_dict": module.state_dict(),
                    "step": state.step}, ctx.out(f"{md}/{key}"))
    write_curve(ctx.out(f"{md}/curve.csv"), family.fields, state.curve)
    ctx.after_commit.append(lambda: discard_resumable(work))    # finished: a rerun must train afresh
    ctx.info.update(seed=seed, **distributed.describe(dist), global_batch=t["batch_size"] * dist.world,
                    steps=state.step, skipped_steps=state.skipped, n_params=count(family.model))
