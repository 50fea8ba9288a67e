"""Worker for tests/test_ddp.py: a few training steps on random RGB images, in 1 or N torchrun processes.

    python -m torch.distributed.run --standalone --nproc-per-node N tests/ddp_worker.py OUT PER_RANK_BATCH [FAMILY]

FAMILY is hvae (default), full (an SGM score part) or gan (WMGM's generator). The model noise is set to
zero and the diffusion time fixed, so that one process and N processes see the same numbers: what the
test compares is the data sharding and DDP's gradient averaging, not Monte Carlo noise. (The GAN's
BatchNorm statistics are per rank, so its runs are compared only for finishing in step.)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from recipes import hvae_recipe, train_hvae, wavelet_recipe

from mrgen.data.loader import Batches
from mrgen.models import noise
from mrgen.models.hvae import HVAEConfig
from mrgen.models.wavelet import diffusion, methods
from mrgen.train import dist as distributed
from mrgen.train.loop import fit
from mrgen.train.wavelet import GAN, Score

noise.normal_like = torch.zeros_like         # deterministic latents (see the docstring)
diffusion.sample_times = lambda n, horizon, schedule, generator=None, device=None: torch.full((n,), 1.0, device=device)

out, batch = Path(sys.argv[1]), int(sys.argv[2])
which = sys.argv[3] if len(sys.argv) > 3 else "hvae"
torch.set_num_threads(1)
images = np.random.RandomState(0).randint(0, 256, size=(64, 8, 8, 3), dtype=np.uint8)
dist = distributed.setup()
work = out.parent / "work"
if which == "hvae":
    cfg = HVAEConfig(image_size=8, image_channels=3, width=16, zdim=4, likelihood="dmol",
                     enc_blocks="8x1,8d2,4r2,4d4,1x1", dec_blocks="1x1,4m1,4r2,8m4,8x1")
    meta = {"likelihood": "dmol", "input_shift": -127.5, "input_scale": 1 / 64}
    train_b = Batches(images, meta, batch, seed=3, rank=dist.rank, world=dist.world)
    family, state = train_hvae(cfg, hvae_recipe(iters=6, batch_size=batch), train_b, Batches(images[:8], meta, 8),
                               work, "fp", 0, dist)
else:
    t = wavelet_recipe(batch_size=batch, lr_d=1e-4, d_every=2, losses={"adv": 0.1, "mse": 20.0, "ssim": 0.5})
    small = {"channels": 16, "channel_mult": [1, 2], "res_blocks": 1, "attention": [], "heads": 1, "width": 4,
             "levels": 2, "disc_blocks": 2}
    torch.manual_seed(0)
    net = methods.build(methods.net_config(which, small, 8, 3, 1))
    family = (GAN(net, t, 1, net.cfg, 0, dist) if which == "gan"
              else Score(which, net, t, 0, None, 5.0, "quadratic", 0, dist))
    meta = {"likelihood": "dmol", "input_shift": 0.0, "input_scale": 1.0}
    state = fit(family, Batches(images, meta, batch, seed=1, rank=dist.rank, world=dist.world), t, work, "fp", dist)
distributed.teardown()
if dist.main:
    torch.save(family.ema.state_dict(), out.with_suffix(".pt"))
    out.write_text(json.dumps({"world": dist.world, "curve": state.curve,
                               "checkpoint": (work / "latest.pt").exists()}))
