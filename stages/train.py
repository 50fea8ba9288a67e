"""train: one run -> models/<run>/{model.pt, ema.pt, curve.csv}; resumable state in work/<run>/."""
import csv
import hashlib
import json
from dataclasses import asdict

import torch

from mrgen import stage
from mrgen.data.loader import Batches
from mrgen.data.prepared import DataError, Prepared
from mrgen.models.hvae import HVAEConfig, count_params
from mrgen.spec import ROOT
from mrgen.train.loop import CURVE_FIELDS, train


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    run = spec.run(name)
    t = spec.p["training"][run["training"]]
    cfg = HVAEConfig.from_dict(spec.model_config(name))
    data = Prepared.open(ROOT / spec.prepared(run["dataset"]))
    if data.meta["shape"] != [cfg.image_size, cfg.image_size, cfg.image_channels]:
        raise DataError(f"{data.root}/meta.json: shape {data.meta['shape']} does not match the model's "
                        f"{[cfg.image_size, cfg.image_size, cfg.image_channels]}")
    torch.set_num_threads(t["threads"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_b = Batches(data.split("train"), data.meta, t["batch_size"], seed=run["seed"], dynamic=True)
    val_b = Batches(data.split("val"), data.meta, t["batch_size"])
    fingerprint = hashlib.sha256(json.dumps([ctx.inputs, ctx.params], sort_keys=True).encode()).hexdigest()
    work = ROOT / spec.work_dir(name)
    model, ema, state = train(cfg, t, train_b, val_b, work, fingerprint, run["seed"], device)
    md = spec.model_dir(name)
    for key, net in (("model.pt", model), ("ema.pt", ema)):
        torch.save({"config": asdict(cfg), "state_dict": net.state_dict(), "step": state.step}, ctx.out(f"{md}/{key}"))
    with open(ctx.out(f"{md}/curve.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, CURVE_FIELDS)
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in state.curve)
    (work / "latest.pt").unlink(missing_ok=True)     # finished: a rerun must train afresh
    ctx.info.update(seed=run["seed"], device=device, steps=state.step, skipped_steps=state.skipped,
                    n_params=count_params(model), stochastic_depth=model.stochastic_depth)


if __name__ == "__main__":
    stage.run("train", body)
