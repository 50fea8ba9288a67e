"""Theorem 2 (Falck et al. 2022) in the Haar basis: average pooling is conjugate to the projection onto
the coarse space, and the Haar LL band at level j equals 2^j x (2^j x 2^j average pooling).

For images x and each level j, with pool_j = 2^j x 2^j average pooling and up_j its nearest-neighbour
inverse embedding:
- ll_error:   max |LL_j(x) - 2^j pool_j(x)| / max |2^j pool_j(x)|        (the LL band is scaled pooling)
- proj_error: ||P_j x - up_j(pool_j(x))||_2 / ||x||_2, where P_j x = IDWT_j(LL_j, details = 0) is the
              orthogonal projection onto V_j                            (projection = lift . pool)
- pywt_error: max |LL_j(x) - pywt.wavedec2(x, 'haar', level=j)[0]|      (our transform = the reference)
each in float64 and float32; the largest over the images is reported.
"""
from __future__ import annotations

import numpy as np
import pywt
import torch
from torch.nn import functional as F

from mrgen.models.wavelet.haar import wavedec, waverec


def check(x: torch.Tensor, levels: int) -> dict:
    """x: (N, C, H, W) float; returns {level: {error name: value}} in x's dtype."""
    out = {}
    for j in range(1, levels + 1):
        coeffs = wavedec(x, j)
        pooled = (2 ** j) * F.avg_pool2d(x, 2 ** j)
        ll_err = ((coeffs[0] - pooled).abs().amax() / pooled.abs().amax()).item()
        proj = waverec([coeffs[0]] + [torch.zeros_like(d) for d in coeffs[1:]])
        lifted = F.interpolate(F.avg_pool2d(x, 2 ** j), scale_factor=2 ** j, mode="nearest")
        proj_err = max(((p - q).norm() / xi.norm()).item() for p, q, xi in zip(proj, lifted, x))
        ref = pywt.wavedec2(x.double().numpy(), "haar", level=j, axes=(-2, -1))[0]
        pywt_err = float(np.abs(coeffs[0].double().numpy() - ref).max())
        out[str(j)] = {"ll_error": ll_err, "proj_error": proj_err, "pywt_error": pywt_err}
    return out


def theorem2(real: np.ndarray, n_random: int, random_size: int, levels: int, seed: int) -> dict:
    """Checks on n_random uniform random images and on real uint8 images (N, H, W, C)."""
    g = torch.Generator().manual_seed(seed)
    rand = torch.rand(n_random, 3, random_size, random_size, generator=g, dtype=torch.float64)
    real_t = torch.from_numpy(np.array(real)).permute(0, 3, 1, 2).double() / 255.0
    real_levels = min(levels, int(np.log2(real_t.shape[-1])))
    return {"levels": levels, "random": {"n": n_random, "size": random_size,
                                         "float64": check(rand, levels), "float32": check(rand.float(), levels)},
            "real": {"n": int(len(real_t)), "size": int(real_t.shape[-1]), "levels": real_levels,
                     "float64": check(real_t, real_levels), "float32": check(real_t.float(), real_levels)}}
