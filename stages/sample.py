"""sample: a run's EMA weights -> results/samples/<run>.npz (Fig 6: unconditional samples per temperature).

The npz holds `images` (uint8, temperatures x n x H x W x C) and `temperatures`; a temperature t scales
the prior's sigma of every latent (VDVAE's convention), not the output likelihood."""
import numpy as np
import torch

from mrgen.models.hvae import load_checkpoint
from mrgen.paths import ROOT


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    ev = spec.p["evaluation"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_checkpoint(ROOT / spec.paths.model_dir(name) / "ema.pt", device)
    grids = []
    for i, t in enumerate(ev["samples"]["temperatures"]):
        torch.manual_seed(ev["seed"] + i)
        x = model.sample(ev["samples"]["n"], t=t).float().cpu()
        x = x * 255 if model.cfg.likelihood == "bernoulli" else (x + 1) * 127.5
        grids.append(x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    with open(ctx.out(spec.paths.samples_file(name)), "wb") as f:
        np.savez_compressed(f, images=np.stack(grids), temperatures=np.array(ev["samples"]["temperatures"]))
    ctx.info.update(seed=ev["seed"], device=device)

