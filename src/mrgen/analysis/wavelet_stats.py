"""Statistics of a prepared image set in the Haar domain, per scale j = 1..J (images in [0, 1]):

- standardisation: per-channel mean / std of LL_j and of the details of level j (what WSGM and WMGM's
  SGM normalise with);
- W5, Gaussianity by scale: the per-channel z-scored LL_j band (or its top-left P x P crop when
  3 P^2 would exceed `kl_max_dim`) is fitted by a Gaussian N(mu, Sigma) (Ledoit-Wolf shrinkage of the
  covariance), and KL(N(0, I) || N(mu, Sigma)) (`direction: n0_n1`) or KL(N(mu, Sigma) || N(0, I))
  (`n1_n0`) is reported in nats, in total and per dimension;
- W6, high-frequency sparsity: for each detail band (H, V, D) at each scale, pooled over channels and
  positions: kurtosis (3 for a Gaussian), the Hoyer sparsity, the fraction of coefficients with
  |c| < 0.1 std (0.080 for a Gaussian), and a density histogram of c / std.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.covariance import ledoit_wolf

from mrgen.models.wavelet.haar import BANDS, dwt2


def band_levels(images: np.ndarray, levels: int, chunk: int = 512):
    """Yield, per chunk of uint8 (N, H, W, C) images, [(LL_j, details_j) for j = 1..levels] in float64."""
    for start in range(0, len(images), chunk):
        x = torch.from_numpy(np.array(images[start:start + chunk])).permute(0, 3, 1, 2).double() / 255.0
        out = []
        for _ in range(levels):
            x, d = dwt2(x)
            out.append((x, d))
        yield out


def gaussian_kl(x: np.ndarray, direction: str) -> float:
    """KL between N(0, I) and the Ledoit-Wolf Gaussian fit of rows x (n, d), in nats."""
    mu = x.mean(axis=0)
    sigma, _ = ledoit_wolf(x - mu, assume_centered=True)
    d = x.shape[1]
    _, logdet = np.linalg.slogdet(sigma)
    if direction == "n0_n1":
        inv = np.linalg.inv(sigma)
        return float(0.5 * (np.trace(inv) + mu @ inv @ mu - d + logdet))
    return float(0.5 * (np.trace(sigma) + mu @ mu - d - logdet))


def hoyer(c: np.ndarray) -> float:
    n = c.size
    return float((math.sqrt(n) - np.abs(c).sum() / math.sqrt((c ** 2).sum())) / (math.sqrt(n) - 1))


def analyse(images: np.ndarray, levels: int, kl_max_dim: int, direction: str, bins: int, span: float) -> dict:
    """Everything above for the training images (N, H, W, C) uint8."""
    channels = images.shape[-1]
    parts = [[] for _ in range(levels)]
    for chunk in band_levels(images, levels):
        for j, (ll, d) in enumerate(chunk):
            parts[j].append((ll, d))
    out = {"levels": levels, "n_images": int(len(images)), "kl_direction": direction, "ll": {}, "hf": {},
           "kl": {}, "sparsity": {}}
    edges = np.linspace(-span, span, bins + 1)
    for j in range(1, levels + 1):
        ll = torch.cat([p[0] for p in parts[j - 1]])
        d = torch.cat([p[1] for p in parts[j - 1]])
        for kind, a in (("ll", ll), ("hf", d)):
            out[kind][str(j)] = {"mean": a.mean(dim=(0, 2, 3)).tolist(), "std": a.std(dim=(0, 2, 3)).tolist()}
        z = (ll - ll.mean(dim=(0, 2, 3), keepdim=True)) / ll.std(dim=(0, 2, 3), keepdim=True)
        p = min(z.shape[-1], int(math.isqrt(kl_max_dim // channels)))
        rows = z[..., :p, :p].reshape(len(z), -1).numpy()
        kl = gaussian_kl(rows, direction)
        out["kl"][str(j)] = {"size": int(ll.shape[-1]), "crop": p, "dim": int(rows.shape[1]), "kl": kl,
                             "kl_per_dim": kl / rows.shape[1]}
        out["sparsity"][str(j)] = {}
        for b, band in enumerate(BANDS):
            c = d[:, b * channels:(b + 1) * channels].reshape(-1).numpy()
            sd = c.std()
            u = c / sd if sd > 0 else c
            hist, _ = np.histogram(u, bins=edges, density=True)
            out["sparsity"][str(j)][band] = {
                "std": float(sd), "kurtosis": float(np.mean(u ** 4)) if sd > 0 else float("nan"),
                "hoyer": hoyer(c), "frac_small": float(np.mean(np.abs(u) < 0.1)),
                "hist_edges": edges.tolist(), "hist_density": hist.tolist()}
    return out
