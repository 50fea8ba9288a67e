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
    device = next(model.parameters()).device
    # the posterior noise must not disturb a training run's RNG (the CPU's, and the GPU's it runs on)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for x_in, x_t in batches_:
            elbo = model(x_in.to(device), x_t.to(device))["elbo"]
            if not torch.isfinite(elbo).all():
                raise FloatingPointError(f"non-finite ELBO in the batch starting at image {n}")
            total += elbo.double().sum().item()
            n += elbo.shape[0]
    model.train(was_training)
    per_dim = total / n
    return {"nats_per_dim": per_dim, "bits_per_dim": per_dim / math.log(2), "nats": per_dim * likelihood_dims,
            "n_images": n, "likelihood_dims": likelihood_dims}


@torch.no_grad()
def iw_nll(model, batches: Batches, k: int, seed: int, likelihood_dims: int, limit: int | None = None,
           desc: str | None = None) -> dict:
    """Importance-weighted bound (Burda et al.) with K posterior samples per image, in nats per image:
    -log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q. K = 1 is the single-sample ELBO; it tightens as K grows.
    Each image is repeated K times in one batch (chunked to the evaluation batch size)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    per_chunk = max(1, batches.batch_size // k)
    total, n = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        images = (pair for x_in, x_t in batches.ordered() for pair in zip(x_in.split(per_chunk), x_t.split(per_chunk)))
        total_images = len(batches.array) if limit is None else min(limit, len(batches.array))
        if desc:
            images = progress(images, desc=desc, total=math.ceil(total_images / per_chunk))
        for x_in, x_t in images:
            if n >= total_images:
                break
            x_in, x_t = x_in[:total_images - n].to(device), x_t[:total_images - n].to(device)
            b = x_in.shape[0]
            rep = lambda t: t.repeat_interleave(k, dim=0)
            log_w = -model(rep(x_in), rep(x_t), mc_kl=True)["elbo"].double() * likelihood_dims
            log_w = log_w.view(b, k)
            bound = torch.logsumexp(log_w, dim=1) - math.log(k)
            if not torch.isfinite(bound).all():
                raise FloatingPointError(f"non-finite importance weights in the chunk starting at image {n}")
            total += -bound.sum().item()
            n += b
    model.train(was_training)
    return {"nats": total / n, "nats_per_dim": total / n / likelihood_dims,
            "bits_per_dim": total / n / likelihood_dims / math.log(2), "n_images": n, "k": k}
