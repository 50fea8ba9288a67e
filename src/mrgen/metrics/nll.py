"""Test / validation NLL: the single-sample ELBO with EMA weights (VDVAE's protocol)."""
from __future__ import annotations

import math

import torch

from mrgen.data.loader import Batches
from mrgen.io import progress


@torch.no_grad()
def elbo_nll(model, batches: Batches, seed: int, likelihood_dims: int, desc: str | None = None) -> dict:
    """Single-sample ELBO over every image of a split, in nats/dim, bits/dim and nats per image.

    Unlike VDVAE's mean of per-batch means with drop_last, this is the exact per-image mean.
    """
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    batches_ = batches.ordered()
    if desc:  # a progress bar for the evaluation stage, none for validation inside training
        batches_ = progress(batches_, desc=desc, total=math.ceil(len(batches.array) / batches.batch_size))
    with torch.random.fork_rng(devices=[]):   # the posterior noise must not disturb a training run's RNG
        torch.manual_seed(seed)
        for x_in, x_t in batches_:
            elbo = model(x_in.to(next(model.parameters()).device), x_t.to(next(model.parameters()).device))["elbo"]
            if not torch.isfinite(elbo).all():
                raise FloatingPointError(f"non-finite ELBO in the batch starting at image {n}")
            total += elbo.double().sum().item()
            n += elbo.shape[0]
    model.train(was_training)
    per_dim = total / n
    return {"nats_per_dim": per_dim, "bits_per_dim": per_dim / math.log(2), "nats": per_dim * likelihood_dims,
            "n_images": n, "likelihood_dims": likelihood_dims}
