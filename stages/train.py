"""train: one run -> models/<preset>/<run>/{model.pt, ema.pt, curve.csv}; resumable state in work/<preset>/<run>/.

With `training.gpus: N > 1` the stage relaunches itself as N torchrun workers (DDP); rank 0 writes."""
import hashlib
import json
from dataclasses import asdict

import torch

from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared
from mrgen.io import save_torch, write_curve
from mrgen.models.hvae import HVAEConfig, count_params
from mrgen.paths import ROOT
from mrgen.train import dist as distributed
from mrgen.train.checkpoint import discard_resumable
from mrgen.train.hvae import HVAE
from mrgen.train.loop import fit


def launch(ctx):
    """With training.gpus > 1: run this stage as that many torchrun workers; None: run it here."""
    n = ctx.stage.resources.gpus
    argv = ["train", "--preset", ctx.spec.preset, ctx.stage.name]
    return distributed.relaunch(n, "mrgen", argv) if n > 1 else None


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    run = spec.run(name)
    t = spec.p["training"][run["training"]]
    cfg = HVAEConfig.from_dict(spec.model_config(name))
    data = Prepared.open(ROOT / spec.paths.prepared(run["dataset"]))
    if data.meta["shape"] != [cfg.image_size, cfg.image_size, cfg.image_channels]:
        raise DataError(f"{data.root}/meta.json: shape {data.meta['shape']} does not match the model's "
                        f"{[cfg.image_size, cfg.image_size, cfg.image_channels]}")
    torch.set_num_threads(t["threads"])
    dist = distributed.setup()
    try:
        train_b = Batches(data.split("train"), data.meta, t["batch_size"], seed=run["seed"], rank=dist.rank,
                          world=dist.world, dynamic=True)
        val_b = Batches(data.split("val"), data.meta, t["batch_size"])
        fingerprint = hashlib.sha256(json.dumps([ctx.inputs, ctx.params], sort_keys=True).encode()).hexdigest()
        work = ROOT / spec.paths.work_dir(name)
        family = HVAE(cfg, t, val_b, run["seed"], dist)
        state = fit(family, train_b, t, work, fingerprint, dist)
    finally:
        distributed.teardown()
    if not dist.main:
        return
    md = spec.paths.model_dir(name)
    for key, net in (("model.pt", family.model), ("ema.pt", family.ema)):
        save_torch({"config": asdict(cfg), "state_dict": net.state_dict(), "step": state.step}, ctx.out(f"{md}/{key}"))
    write_curve(ctx.out(f"{md}/curve.csv"), family.fields, state.curve)
    ctx.after_commit.append(lambda: discard_resumable(work))    # finished: a rerun must train afresh
    ctx.info.update(seed=run["seed"], **distributed.describe(dist), global_batch=t["batch_size"] * dist.world,
                    steps=state.step, skipped_steps=state.skipped, n_params=count_params(family.model),
                    stochastic_depth=family.model.stochastic_depth)

