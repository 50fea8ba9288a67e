"""WMGM's high-frequency model: one attention-U-Net generator shared across scales, a CNN discriminator on
the reconstructed image, and the SSIM of its loss.

The generator maps [LL_k, z] (3 + 3 channels) to the 9 detail channels of level k; with widths
c, 2c, 4c, 8c, 16c it has 14.25M parameters at c = 40 (the paper's "14M GANO").
Scale handling (a decision, docs/decisions.md): for images in [0, 1], LL_k lies in [0, 2^k] and the level-k
details in [-2^(k-1), 2^(k-1)]; the generator sees LL_k / 2^k and its tanh output is multiplied by
2^(k-1), so one set of weights serves every scale with no clipped range.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class GANConfig:
    width: int = 40                  # c: generator widths c..16c, discriminator widths c..32c
    levels: int = 5                  # U-Net resolutions (the input size must be divisible by 2^(levels-1))
    disc_blocks: int = 5             # stride-2 residual blocks of the discriminator
    channels: int = 3                # image channels

    @classmethod
    def from_dict(cls, d: dict) -> "GANConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        return asdict(self)


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]


class ConvBlock(nn.Module):
    """in -> (in+out)/2 -> out: two 3x3 conv + BN (LeakyReLU between), plus a bias-free 1x1 shortcut,
    LeakyReLU(0.1) after the sum."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = (cin + cout) // 2
        self.body = nn.Sequential(*conv_bn(cin, mid), nn.Conv2d(mid, cout, 3, padding=1), nn.BatchNorm2d(cout))
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.leaky_relu(self.body(x) + self.shortcut(x), 0.1)


class AttentionGate(nn.Module):
    """Additive attention gate (Oktay et al. 2018): the decoder signal g reweights the skip features x."""

    def __init__(self, ch: int, inner: int):
        super().__init__()
        self.w_g = nn.Sequential(nn.Conv2d(ch, inner, 1), nn.BatchNorm2d(inner))
        self.w_x = nn.Sequential(nn.Conv2d(ch, inner, 1), nn.BatchNorm2d(inner))
        self.psi = nn.Sequential(nn.Conv2d(inner, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, g, x):
        return x * self.psi(F.relu(self.w_g(g) + self.w_x(x)))


class Generator(nn.Module):
    """G(LL_k, z) -> details_k, shared across scales k (see the module docstring for the scaling).

    Encoder: ConvBlocks at widths c..2^(L-1)c with 2x2 max-pooling between. Decoder, per level: bilinear x2
    of the previous output, a ConvBlock to the skip's width, an attention gate on the skip, and the
    concatenation [gated skip, up] feeds the next level; a final ConvBlock to c/2 and a 1x1 conv to the
    details, then tanh."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.cfg = cfg
        w = [cfg.width * 2 ** i for i in range(cfg.levels)]
        self.down = nn.ModuleList([ConvBlock(2 * cfg.channels, w[0])] +
                                  [ConvBlock(w[i - 1], w[i]) for i in range(1, cfg.levels)])
        # the deepest up block reads the bottleneck (w[-1]); the others a concatenation (2 w[i])
        self.up = nn.ModuleList([ConvBlock(w[-1] if i == cfg.levels - 1 else 2 * w[i], w[i - 1])
                                 for i in range(cfg.levels - 1, 0, -1)])
        self.gates = nn.ModuleList([AttentionGate(w[i - 1], w[i - 1] // 2) for i in range(cfg.levels - 1, 0, -1)])
        self.last = ConvBlock(2 * w[0], w[0] // 2)
        self.out = nn.Conv2d(w[0] // 2, 3 * cfg.channels, 1)

    def forward(self, ll: torch.Tensor, z: torch.Tensor, level: int) -> torch.Tensor:
        size = ll.shape[-1]
        if size % 2 ** (self.cfg.levels - 1):
            raise ValueError(f"generator input {size}px is not divisible by 2^{self.cfg.levels - 1}")
        h, skips = torch.cat([ll / 2 ** level, z], dim=1), []
        for i, block in enumerate(self.down):
            h = block(F.max_pool2d(h, 2) if i else h)
            skips.append(h)
        skips.pop()
        for up, gate in zip(self.up, self.gates):
            d = up(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
            h = torch.cat([gate(d, skips.pop()), d], dim=1)
        return torch.tanh(self.out(self.last(h))) * 2 ** (level - 1)


class DiscBlock(nn.Module):
    """3x3 conv + BN + LeakyReLU at width c, a stride-2 3x3 conv + BN to 2c, plus a bias-free stride-2
    1x1 conv + BN shortcut; LeakyReLU(0.1) after the sum."""

    def __init__(self, cin: int):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cin), nn.Conv2d(cin, 2 * cin, 3, stride=2, padding=1),
                                  nn.BatchNorm2d(2 * cin))
        self.shortcut = nn.Sequential(nn.Conv2d(cin, 2 * cin, 1, stride=2, bias=False), nn.BatchNorm2d(2 * cin))

    def forward(self, x):
        return F.leaky_relu(self.body(x) + self.shortcut(x), 0.1)


class Discriminator(nn.Module):
    """D(image) -> a logit: conv stem, `disc_blocks` stride-2 residual blocks, global mean, MLP with dropout."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        c, top = cfg.width, cfg.width * 2 ** cfg.disc_blocks
        self.stem = nn.Sequential(*conv_bn(cfg.channels, c))
        self.blocks = nn.Sequential(*[DiscBlock(c * 2 ** i) for i in range(cfg.disc_blocks)])
        self.head = nn.Sequential(nn.Linear(top, top // 2), nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(top // 2, 1))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3))).squeeze(1)


def init_weights(module: nn.Module) -> None:
    """WMGM's initialisation: conv weights N(0, 2 / (k*k*out)), linear weights Xavier-uniform, biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5,
         c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) of images in [0, 1] with a Gaussian window, per channel, zero padding."""
    coords = torch.arange(window, dtype=x.dtype, device=x.device) - window // 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(x.shape[1], 1, window, window)
    blur = lambda t: F.conv2d(t, k, padding=window // 2, groups=x.shape[1])
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.mean()


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


