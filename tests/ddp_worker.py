"""Worker for tests/test_ddp.py: a few training steps on random RGB images, in 1 or N torchrun processes.

    python -m torch.distributed.run --standalone --nproc-per-node N tests/ddp_worker.py OUT PER_RANK_BATCH [RECIPE_JSON]

The posterior noise is set to zero so that one process and N processes see the same numbers: what the
test compares is the data sharding and DDP's gradient averaging, not Monte Carlo noise.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from recipes import hvae_recipe, train_hvae

from mrgen.data.loader import Batches
from mrgen.models import noise
from mrgen.models.hvae import HVAEConfig
from mrgen.train import dist as distributed

noise.normal_like = torch.zeros_like         # deterministic latents (see the docstring)

out, batch = Path(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)
cfg = HVAEConfig(image_size=8, image_channels=3, width=16, zdim=4, likelihood="dmol",
                 enc_blocks="8x1,8d2,4r2,4d4,1x1", dec_blocks="1x1,4m1,4r2,8m4,8x1")
t = hvae_recipe(iters=6, batch_size=batch, **json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
images = np.random.RandomState(0).randint(0, 256, size=(64, 8, 8, 3), dtype=np.uint8)
meta = {"likelihood": "dmol", "input_shift": -127.5, "input_scale": 1 / 64}
dist = distributed.setup()
train_b = Batches(images, meta, batch, seed=3, rank=dist.rank, world=dist.world)
family, state = train_hvae(cfg, t, train_b, Batches(images[:8], meta, 8), out.parent / "work", "fp", 0, dist)
distributed.teardown()
if dist.main:
    torch.save(family.ema.state_dict(), out.with_suffix(".pt"))
    out.write_text(json.dumps({"world": dist.world, "curve": state.curve,
                               "checkpoint": (out.parent / "work" / "latest.pt").exists()}))
