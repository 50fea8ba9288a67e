"""The wavelet paper's loss terms (trained by mrgen.train.wavelet; the HVAE's is its ELBO, mrgen.models.hvae).

- Score parts: denoising score matching in eps form.
- WMGM's GAN at level j (wavelet_reference.md): fake = IDWT(LL_j, G(LL_j, z)) and target = IDWT(LL_j,
  details_j), both divided by 2^(j-1) to lie in [0, 1];
  loss_G = adv * (-mean sigmoid D(fake)) + mse * MSE(fake, target) + ssim * (1 - SSIM(fake, target)),
  loss_D = 0.5 (mean sigmoid D(fake) - mean sigmoid D(real)).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from mrgen.models import noise
from mrgen.models.wavelet import diffusion
from mrgen.models.wavelet.gan import ssim
from mrgen.models.wavelet.haar import idwt2


def score(net, x0: torch.Tensor, horizon: float, schedule: str, cond: torch.Tensor | None = None) -> torch.Tensor:
    """Denoising score matching in eps form at times drawn by `schedule` on [0, horizon] (diffusion.loss)."""
    return diffusion.loss(net, x0, horizon, schedule, cond)


def gan_images(gen, ll: torch.Tensor, details: torch.Tensor, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fake, target) level-(j-1) images in [0, 1] from ground-truth LL_j and details_j."""
    unit = 2.0 ** (j - 1)                        # LL_{j-1} of a [0, 1] image lies in [0, 2^(j-1)]
    return idwt2(ll, gen(ll, noise.normal_like(ll), j)) / unit, idwt2(ll, details) / unit


def generator(disc, fake: torch.Tensor, target: torch.Tensor, weights: dict) -> tuple[torch.Tensor, dict]:
    """loss_G and its terms (adv, mse, ssim: the SSIM itself, not 1 - SSIM)."""
    adv = -torch.sigmoid(disc(fake)).mean()
    mse = F.mse_loss(fake, target)
    sim = ssim(fake, target)
    loss = weights["adv"] * adv + weights["mse"] * mse + weights["ssim"] * (1 - sim)
    return loss, {"adv": adv, "mse": mse, "ssim": sim}


def discriminator(disc, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.sigmoid(disc(fake.detach())).mean() - torch.sigmoid(disc(real)).mean())
