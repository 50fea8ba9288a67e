"""VDVAE (Child, 2021) read as a multi-resolution bridge (Falck et al., NeurIPS 2022).

The structure follows openai/vdvae exactly (docs: shared/reference/hvae_reference.md §1 and §8).
Weight sharing (WS-VDVAE) is a token of the layer strings, not a second model:

    "RxN"  N parameterised blocks at resolution R, each applied once
    "RrK"  one parameterised block at resolution R applied K times (weight sharing)
    "RdK"  encoder only: one block at R followed by K×K average pooling
    "RmS"  decoder only: one block at R that first mixes in the state of resolution S
    "R"    one block at R

Every application of a decoder block draws its own latent, so the stochastic depth is the number of
decoder applications. The sqrt(1/N) init scalings count applications (see docs/decisions.md).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class Layer:
    """One parameterised block of a layer string: its resolution, pooling / mix-in, and repeat count."""
    res: int
    down: int | None = None
    mixin: int | None = None
    repeat: int = 1


_TOKEN = re.compile(r"^(\d+)(?:([xrdm])(\d+))?$")


def parse_layers(spec: str, kind: str) -> list[Layer]:
    """Parse an encoder ('enc') or decoder ('dec') layer string into parameterised blocks."""
    allowed = {"enc": "xrd", "dec": "xrm"}[kind]
    layers: list[Layer] = []
    for tok in spec.split(","):
        m = _TOKEN.match(tok.strip())
        if not m or (m.group(2) and m.group(2) not in allowed):
            raise ValueError(f"bad {kind} layer token {tok!r} in {spec!r}: expected R, RxN, RrK or "
                             f"{'RdK' if kind == 'enc' else 'RmS'} with integers R, N, K, S")
        res, op, n = int(m.group(1)), m.group(2), int(m.group(3) or 1)
        if op == "x":
            layers += [Layer(res) for _ in range(n)]
        elif op == "r":
            layers.append(Layer(res, repeat=n))
        elif op == "d":
            layers.append(Layer(res, down=n))
        elif op == "m":
            layers.append(Layer(res, mixin=n))
        else:
            layers.append(Layer(res))
    return layers


@dataclass(frozen=True)
class HVAEConfig:
    """Everything that determines the network; built from a params.yaml model entry."""
    image_size: int
    image_channels: int
    width: int
    zdim: int
    enc_blocks: str
    dec_blocks: str
    likelihood: str               # "dmol" (RGB, VDVAE) or "bernoulli" (binarised MNIST, NVAE)
    bottleneck: float = 0.25
    num_mixtures: int = 10
    crop: int = 0                 # likelihood border crop (MNIST: 2, 32x32 padded -> central 28x28)

    @classmethod
    def from_dict(cls, d: dict) -> "HVAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**d)

    @property
    def likelihood_dims(self) -> int:
        side = self.image_size - 2 * self.crop
        return self.image_channels * side * side


def conv(cin: int, cout: int, k: int, zero: bool = False, scale: float = 1.0) -> nn.Conv2d:
    """VDVAE's get_conv: PyTorch default init, bias zeroed, weight optionally zeroed or scaled."""
    c = nn.Conv2d(cin, cout, k, padding=k // 2)
    c.bias.data.zero_()
    c.weight.data.mul_(0.0 if zero else scale)
    return c


class Block(nn.Module):
    """Bottleneck residual cell: GELU before each of 1x1, 3x3, 3x3, 1x1 (1x1 only at res <= 2)."""

    def __init__(self, cin, mid, cout, down=None, residual=False, use_3x3=True, zero_last=False):
        super().__init__()
        k = 3 if use_3x3 else 1
        self.down, self.residual = down, residual
        self.c1, self.c2, self.c3 = conv(cin, mid, 1), conv(mid, mid, k), conv(mid, mid, k)
        self.c4 = conv(mid, cout, 1, zero=zero_last)

    def forward(self, x):
        h = self.c4(F.gelu(self.c3(F.gelu(self.c2(F.gelu(self.c1(F.gelu(x))))))))
        out = x + h if self.residual else h
        return F.avg_pool2d(out, self.down) if self.down else out


class Encoder(nn.Module):
    """Bottom-up pass; returns the output of the last block at every resolution."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        w, mid = cfg.width, int(cfg.width * cfg.bottleneck)
        layers = parse_layers(cfg.enc_blocks, "enc")
        self.in_conv = conv(cfg.image_channels, w, 3)
        self.blocks = nn.ModuleList(Block(w, mid, w, down=l.down, residual=True, use_3x3=l.res > 2)
                                    for l in layers)
        self.repeats = [l.repeat for l in layers]
        scale = math.sqrt(1 / sum(self.repeats))
        for b in self.blocks:
            b.c4.weight.data.mul_(scale)

    def forward(self, x):
        x = self.in_conv(x)
        acts = {}
        for block, k in zip(self.blocks, self.repeats):
            for _ in range(k):
                x = block(x)
                acts[x.shape[-1]] = x
        return acts


def gaussian_kl(mu1, mu2, ls1, ls2):
    """KL(N(mu1, e^ls1) || N(mu2, e^ls2)) elementwise, with log-sigma parameters."""
    return -0.5 + ls2 - ls1 + 0.5 * (ls1.exp() ** 2 + (mu1 - mu2) ** 2) / ls2.exp() ** 2


class DecBlock(nn.Module):
    """Top-down block: posterior q(z|state, enc), prior p(z|state) + state update xpp, z_proj, resnet."""

    def __init__(self, layer: Layer, width: int, zdim: int, bottleneck: float, n_blocks: int):
        super().__init__()
        self.res, self.mixin, self.zdim = layer.res, layer.mixin, zdim
        mid, use_3x3 = int(width * bottleneck), layer.res > 2
        self.posterior = Block(2 * width, mid, 2 * zdim, use_3x3=use_3x3)
        self.prior = Block(width, mid, 2 * zdim + width, use_3x3=use_3x3, zero_last=True)
        self.z_proj = conv(zdim, width, 1, scale=math.sqrt(1 / n_blocks))
        self.resnet = Block(width, mid, width, residual=True, use_3x3=use_3x3)
        self.resnet.c4.weight.data.mul_(math.sqrt(1 / n_blocks))

    def state(self, xs, batch):
        """Z_i before this block: the state at this resolution, plus the nearest-upsampled mix-in."""
        x = xs[self.res]
        if x.shape[0] != batch:
            x = x.expand(batch, -1, -1, -1)
        if self.mixin is not None:
            x = x + F.interpolate(xs[self.mixin][:, :x.shape[1]], scale_factor=self.res // self.mixin)
        return x

    def forward(self, xs, acts):
        """Posterior step (training / evaluation); updates xs in place and returns the KL map."""
        enc = acts[self.res]
        x = self.state(xs, enc.shape[0])
        qm, qv = self.posterior(torch.cat([x, enc], dim=1)).chunk(2, dim=1)
        pm, pv, xpp = self.prior(x).split([self.zdim, self.zdim, x.shape[1]], dim=1)
        z = qm + qv.exp() * torch.randn_like(qm)
        xs[self.res] = self.resnet(x + xpp + self.z_proj(z))
        return gaussian_kl(qm, pm, qv, pv)

    def sample(self, xs, batch, t: float | None = None):
        """Prior step for unconditional sampling; temperature scales the prior's sigma only."""
        x = self.state(xs, batch)
        pm, pv, xpp = self.prior(x).split([self.zdim, self.zdim, x.shape[1]], dim=1)
        if t is not None:
            pv = pv + math.log(t)
        z = pm + pv.exp() * torch.randn_like(pm)
        xs[self.res] = self.resnet(x + xpp + self.z_proj(z))


class Decoder(nn.Module):
    """Top-down pass from learned bias maps; DecBlocks run in string order, repeats in place."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        layers = parse_layers(cfg.dec_blocks, "dec")
        self.repeats = [l.repeat for l in layers]
        n = sum(self.repeats)
        self.blocks = nn.ModuleList(DecBlock(l, cfg.width, cfg.zdim, cfg.bottleneck, n) for l in layers)
        self.resolutions = sorted({l.res for l in layers})
        self.bias_xs = nn.ParameterList(nn.Parameter(torch.zeros(1, cfg.width, r, r)) for r in self.resolutions)
        self.image_size = cfg.image_size
        self.gain = nn.Parameter(torch.ones(1, cfg.width, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, cfg.width, 1, 1))

    def initial_state(self):
        return {r: b for r, b in zip(self.resolutions, self.bias_xs)}

    def schedule(self):
        """The blocks in application order (a shared block appears once per application)."""
        return [b for b, k in zip(self.blocks, self.repeats) for _ in range(k)]

    def final(self, xs):
        return xs[self.image_size] * self.gain + self.bias

    def forward(self, acts):
        xs = self.initial_state()
        kls = [block(xs, acts) for block in self.schedule()]
        return self.final(xs), kls

    def sample(self, n, t=None):
        xs = self.initial_state()
        for block in self.schedule():
            block.sample(xs, n, t)
        return self.final(xs)


class DmolNet(nn.Module):
    """Discretised mixture of logistics over RGB in [-1, 1] (PixelCNN++ as in VDVAE)."""

    def __init__(self, width: int, num_mixtures: int):
        super().__init__()
        self.nm = num_mixtures
        self.out_conv = conv(width, num_mixtures * 10, 1)

    def _split(self, h):
        l = self.out_conv(h).permute(0, 2, 3, 1)
        B, H, W, _ = l.shape
        nm = self.nm
        logits = l[..., :nm]
        l = l[..., nm:].reshape(B, H, W, 3, 3 * nm)
        return logits, l[..., :nm], l[..., nm:2 * nm].clamp(min=-7.0), torch.tanh(l[..., 2 * nm:])

    def nll(self, h, x):
        """Negative log-likelihood in nats per dim, per image; x is NCHW in [-1, 1]."""
        logits, means, log_scales, coeffs = self._split(h)
        x = x.permute(0, 2, 3, 1).unsqueeze(-1)                       # B,H,W,3,1
        m_g = means[..., 1, :] + coeffs[..., 0, :] * x[..., 0, :]
        m_b = means[..., 2, :] + coeffs[..., 1, :] * x[..., 0, :] + coeffs[..., 2, :] * x[..., 1, :]
        means = torch.stack([means[..., 0, :], m_g, m_b], dim=3)
        centered = x - means
        inv_s = torch.exp(-log_scales)
        plus_in, min_in = inv_s * (centered + 1 / 255), inv_s * (centered - 1 / 255)
        cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
        log_cdf_plus = plus_in - F.softplus(plus_in)
        log_one_minus_cdf_min = -F.softplus(min_in)
        mid_in = inv_s * centered
        log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in)
        inner = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid - math.log(127.5))
        log_probs = torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, inner))
        log_probs = log_probs.sum(dim=3) + F.log_softmax(logits, dim=-1)
        B, H, W = log_probs.shape[:3]
        return -torch.logsumexp(log_probs, dim=-1).sum(dim=(1, 2)) / (H * W * 3)

    def sample(self, h):
        """Gumbel-max mixture choice, logistic sample, AR clipping; returns NCHW in [-1, 1]."""
        logits, means, log_scales, coeffs = self._split(h)
        g = -torch.log(-torch.log(torch.empty_like(logits).uniform_(1e-5, 1 - 1e-5)))
        sel = F.one_hot((logits + g).argmax(-1), self.nm).to(h.dtype).unsqueeze(3)
        means, log_scales, coeffs = [(t * sel).sum(-1) for t in (means, log_scales, coeffs)]
        u = torch.empty_like(means).uniform_(1e-5, 1 - 1e-5)
        x = means + log_scales.exp() * (torch.log(u) - torch.log1p(-u))
        r = x[..., 0].clamp(-1, 1)
        g_ = (x[..., 1] + coeffs[..., 0] * r).clamp(-1, 1)
        b = (x[..., 2] + coeffs[..., 1] * r + coeffs[..., 2] * g_).clamp(-1, 1)
        return torch.stack([r, g_, b], dim=1)


class BernoulliNet(nn.Module):
    """Bernoulli likelihood on binary pixels (MNIST), scored on the central crop as NVAE does."""

    def __init__(self, width: int, channels: int, crop: int):
        super().__init__()
        self.crop = crop
        self.out_conv = conv(width, channels, 1)

    def _crop(self, t):
        c = self.crop
        return t[..., c:t.shape[-2] - c, c:t.shape[-1] - c] if c else t

    def nll(self, h, x):
        """Negative log-likelihood in nats per dim, per image; x is NCHW in {0, 1}."""
        logits, x = self._crop(self.out_conv(h)), self._crop(x)
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return nll.flatten(1).mean(1)

    def sample(self, h):
        return torch.bernoulli(torch.sigmoid(self.out_conv(h)))


class VAE(nn.Module):
    """Encoder + Decoder + likelihood; forward returns per-image ELBO terms in nats per dim."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        if cfg.likelihood == "dmol":
            if cfg.image_channels != 3:
                raise ValueError(f"dmol likelihood needs 3 image channels, got {cfg.image_channels}")
            self.out_net = DmolNet(cfg.width, cfg.num_mixtures)
        elif cfg.likelihood == "bernoulli":
            self.out_net = BernoulliNet(cfg.width, cfg.image_channels, cfg.crop)
        else:
            raise ValueError(f"unknown likelihood {cfg.likelihood!r}: expected 'dmol' or 'bernoulli'")

    def forward(self, x_in, x_target):
        h, kls = self.decoder(self.encoder(x_in))
        distortion = self.out_net.nll(h, x_target)
        rate = sum(kl.sum(dim=(1, 2, 3)) for kl in kls) / self.cfg.likelihood_dims
        return {"elbo": distortion + rate, "distortion": distortion, "rate": rate}

    @torch.no_grad()
    def sample(self, n, t=None):
        return self.out_net.sample(self.decoder.sample(n, t))

    @property
    def stochastic_depth(self) -> int:
        return sum(self.decoder.repeats)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
