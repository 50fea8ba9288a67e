"""The three generative methods of the wavelet paper, built from their parts (one network per part):

- sgm:  part `full`, a score U-Net on whole images scaled to [-1, 1];
- wsgm: part `ll`, an unconditional score U-Net on the standardised LL_J band, and parts `hf1`..`hfJ`,
        conditional score U-Nets on the standardised details of level j given the standardised LL_j;
        sampling cascades LL_J -> details_J -> IDWT -> LL_{J-1} -> ... -> image, the same N at every scale;
- wmgm: part `ll` as in wsgm, and part `gan`, one generator shared by every level (gan.Generator) that
        maps LL_j + noise to the details of level j; sampling applies it J times after the SGM.

Images are in [0, 1] (so LL_j in [0, 2^j]); "standardised" means a per-channel z-score per scale with the
training split's statistics (the wstats stage), never hard-coded constants.
"""
from __future__ import annotations

import torch

from mrgen.models.wavelet import diffusion
from mrgen.models.wavelet.gan import GANConfig, Generator
from mrgen.models.wavelet.haar import dwt2, idwt2, wavedec
from mrgen.models.wavelet.parts import METHODS, parts  # noqa: F401  (re-exported)
from mrgen.models.wavelet.unet import ScoreUNet, UNetConfig

def net_config(part: str, net: dict, image_size: int, channels: int, levels: int):
    """The network of one part: geometry from the dataset and part, the rest from params."""
    if part == "gan":
        return GANConfig.from_dict({**net, "channels": channels})
    if part == "full":
        return UNetConfig.from_dict({**net, "image_size": image_size, "in_channels": channels, "out_channels": channels})
    if part == "ll":
        return UNetConfig.from_dict({**net, "image_size": image_size >> levels, "in_channels": channels,
                                     "out_channels": channels})
    j = int(part[2:])
    return UNetConfig.from_dict({**net, "image_size": image_size >> j, "in_channels": 4 * channels,
                                 "out_channels": 3 * channels})


def build(cfg):
    return Generator(cfg) if isinstance(cfg, GANConfig) else ScoreUNet(cfg)


class Standardiser:
    """Per-channel z-scores of LL_j and of the details of level j, from the wstats stage's statistics."""

    def __init__(self, stats: dict):
        self.s = stats

    def _ms(self, kind: str, j: int, ref: torch.Tensor):
        e = self.s[kind][str(j)]
        shape = (1, -1, 1, 1)
        return (torch.tensor(e["mean"], dtype=ref.dtype, device=ref.device).view(shape),
                torch.tensor(e["std"], dtype=ref.dtype, device=ref.device).view(shape))

    def norm(self, kind: str, j: int, x: torch.Tensor) -> torch.Tensor:
        m, s = self._ms(kind, j, x)
        return (x - m) / s

    def denorm(self, kind: str, j: int, x: torch.Tensor) -> torch.Tensor:
        m, s = self._ms(kind, j, x)
        return x * s + m


def training_pair(part: str, x: torch.Tensor, levels: int, std: Standardiser | None):
    """A score part's (x0, condition) from images x in [0, 1]; the GAN part uses gan_pairs instead."""
    if part == "full":
        return 2 * x - 1, None
    coeffs = wavedec(x, levels)
    if part == "ll":
        return std.norm("ll", levels, coeffs[0]), None
    j = int(part[2:])
    ll_j = wavedec(x, j)[0] if j < levels else coeffs[0]
    return std.norm("hf", j, coeffs[1 + levels - j]), std.norm("ll", j, ll_j)


def gan_pairs(x: torch.Tensor, levels: int):
    """Teacher forcing: (level j, ground-truth LL_j, ground-truth details_j) for j = 1..levels."""
    out, ll = [], x
    for j in range(1, levels + 1):
        ll, d = dwt2(ll)
        out.append((j, ll, d))
    return out


@torch.no_grad()
def generate(method: str, nets: dict, n: int, steps: int, image_size: int, channels: int, levels: int,
             std: Standardiser | None, horizon: float, schedule: str, generator: torch.Generator,
             device="cpu") -> torch.Tensor:
    """n images in [0, 1], (n, C, H, W). `steps` = reverse-diffusion steps per diffusion model; WMGM's
    generator adds `levels` network evaluations on top (not counted in steps)."""
    if method == "sgm":
        x = diffusion.sample(nets["full"], (n, channels, image_size, image_size), steps, horizon, schedule,
                             generator=generator, device=device)
        return ((x + 1) / 2).clamp(0, 1)
    size = image_size >> levels
    ll = std.denorm("ll", levels, diffusion.sample(nets["ll"], (n, channels, size, size), steps, horizon,
                                                    schedule, generator=generator, device=device))
    for j in range(levels, 0, -1):
        if method == "wsgm":
            d = diffusion.sample(nets[f"hf{j}"], (n, 3 * channels, size, size), steps, horizon, schedule,
                                 cond=std.norm("ll", j, ll), generator=generator, device=device)
            d = std.denorm("hf", j, d)
        else:
            z = torch.randn(ll.shape, generator=generator, device=device)
            d = nets["gan"](ll, z, j)
        ll, size = idwt2(ll, d), size * 2
    return ll.clamp(0, 1)
