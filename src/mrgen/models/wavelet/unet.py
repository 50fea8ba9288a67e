"""The score network of SGM and WSGM: improved-diffusion's U-Net (Nichol & Dhariwal 2021), as WSGM uses it.

Residual blocks with GroupNorm(32) + SiLU, the time embedding entering as a scale-shift of the second
norm, self-attention at the chosen resolutions, 3x3 stride-2 convs down and nearest x2 + 3x3 conv up,
zero-initialised output convs. A conditional model (WSGM's HF|LL) takes the condition concatenated to
its noisy input as extra channels. Times t in [0, T] are fed as t * 1000 / T (WSGM's convention).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from mrgen.models.recompute import run_checkpointed
from torch import nn
from torch.nn import functional as F


@dataclass
class UNetConfig:
    image_size: int                 # spatial size of the modelled array (an image or a wavelet band)
    in_channels: int                # noisy input channels + condition channels
    out_channels: int               # predicted noise channels
    channels: int = 128             # base width ("num_channels")
    channel_mult: tuple = (1, 2, 2, 4, 4)
    res_blocks: int = 3             # "num_res_blocks" per resolution
    attention: tuple = (16, 8)      # resolutions with self-attention ("attention_resolutions")
    heads: int = 4
    dropout: float = 0.0

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        for k in ("channel_mult", "attention"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        return asdict(self)


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def norm(ch: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (improved-diffusion); fewer, gcd(32, ch), for widths it does not divide."""
    return nn.GroupNorm(math.gcd(32, ch), ch)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) time steps, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class ResBlock(nn.Module):
    """norm-SiLU-conv, + time embedding as scale and shift of the second norm, SiLU-dropout-conv(0), + skip."""

    def __init__(self, ch: int, emb: int, out: int, dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, 2 * out))
        self.out_norm = norm(out)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), zero(nn.Conv2d(out, out, 3, padding=1)))
        self.skip = nn.Identity() if out == ch else nn.Conv2d(ch, out, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        scale, shift = self.emb_layers(emb)[..., None, None].chunk(2, dim=1)
        h = self.out_layers(self.out_norm(h) * (1 + scale) + shift)
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over all positions, residual, zero-initialised output projection."""

    def __init__(self, ch: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = norm(ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = zero(nn.Conv1d(ch, ch, 1))

    def forward(self, x, emb=None):
        b, c, *spatial = x.shape
        qkv = self.qkv(self.norm(x).reshape(b, c, -1))                      # (B, 3C, N)
        q, k, v = qkv.reshape(b * self.heads, 3 * c // self.heads, -1).chunk(3, dim=1)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        h = h.transpose(1, 2).reshape(b, c, -1)
        return x + self.proj_out(h).reshape(b, c, *spatial)


class Down(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x, emb=None):
        return self.op(x)


class Up(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, emb=None):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Level(nn.ModuleList):
    """A sequence of blocks that all take (x, emb)."""

    def forward(self, x, emb):
        for m in self:
            x = m(x, emb) if isinstance(m, (ResBlock, Attention, Down, Up)) else m(x)
        return x


class ScoreUNet(nn.Module):
    """eps_theta(x_t, t [, condition]): predicts the noise of the OU forward process."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        mc, emb = cfg.channels, 4 * cfg.channels
        ch = cfg.channel_mult[0] * mc      # first conv's width (the WSGM code's convention; reproduces its counts)
        if cfg.image_size % 2 ** (len(cfg.channel_mult) - 1):
            raise ValueError(f"image_size {cfg.image_size} is not divisible by 2^{len(cfg.channel_mult) - 1} "
                             f"(channel_mult {cfg.channel_mult})")
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([Level([nn.Conv2d(cfg.in_channels, ch, 3, padding=1)])])
        chans, res = [ch], cfg.image_size
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.res_blocks):
                layers = [ResBlock(ch, emb, mult * mc, cfg.dropout)]
                ch = mult * mc
                if res in cfg.attention:
                    layers.append(Attention(ch, cfg.heads))
                self.input_blocks.append(Level(layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(Level([Down(ch)]))
                chans.append(ch)
                res //= 2
        self.middle = Level([ResBlock(ch, emb, ch, cfg.dropout), Attention(ch, cfg.heads),
                             ResBlock(ch, emb, ch, cfg.dropout)])
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
            for i in range(cfg.res_blocks + 1):
                layers = [ResBlock(ch + chans.pop(), emb, mult * mc, cfg.dropout)]
                ch = mult * mc
                if res in cfg.attention:
                    layers.append(Attention(ch, cfg.heads))
                if level and i == cfg.res_blocks:
                    layers.append(Up(ch))
                    res *= 2
                self.output_blocks.append(Level(layers))
        self.out = nn.Sequential(norm(ch), nn.SiLU(), zero(nn.Conv2d(ch, cfg.out_channels, 3, padding=1)))
        self.grad_checkpoint = False

    def set_grad_checkpoint(self, on: bool) -> "ScoreUNet":
        """Recompute every level's blocks in the backward pass instead of storing their activations."""
        self.grad_checkpoint = on
        return self

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None, horizon: float = 5.0):
        if cond is not None:
            x = torch.cat([x, cond], dim=1)
        emb = self.time_embed(timestep_embedding(t * (1000.0 / horizon), self.cfg.channels))
        hs, h = [], x
        on = self.grad_checkpoint
        for block in self.input_blocks:
            h = run_checkpointed(block, h, emb, enabled=on)
            hs.append(h)
        h = run_checkpointed(self.middle, h, emb, enabled=on)
        for block in self.output_blocks:
            h = run_checkpointed(block, torch.cat([h, hs.pop()], dim=1), emb, enabled=on)
        return self.out(h)
