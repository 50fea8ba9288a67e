"""VDVAE (Child, 2021) read as a multi-resolution bridge (Falck et al., NeurIPS 2022).

The structure follows openai/vdvae exactly (docs: shared/reference/hvae_reference.md §1 and §8).
Weight sharing (WS-VDVAE) is a token of the layer strings, not a second model:

    "RxN"  N parameterised blocks at resolution R, each applied once
    "RrK"  one parameterised block at resolution R applied K times (weight sharing)
    "RxNrK" N parameterised blocks at resolution R, each applied K times
    "RdK"  encoder only: one block at R followed by K×K average pooling
    "RmS"  decoder only: one block at R that first mixes in the state of resolution S
    "R"    one block at R

Every application of a decoder block draws its own latent, so the stochastic depth is the number of
decoder applications. The sqrt(1/N) init scalings count applications (see docs/decisions.md).
"""
from __future__ import annotations

import math
from functools import partial
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from mrgen.models import noise
from mrgen.models.recompute import run_checkpointed
from mrgen.models.layers import Layer, parse_layers  # noqa: F401  (re-exported: the layer-string grammar)


@dataclass(frozen=True)
class HVAEConfig:
    """Everything that determines the network; built from a params.yaml model entry.

    The switches below are the paper's ablations (docs/decisions.md gives each definition):
    normalize_state (Table 2), single_resolution (Table 3), fourier_features, residual, processing and
    ws_latents (App. G.4). Their defaults are VDVAE.
    """
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
    normalize_state: bool = False  # rescale the state to unit L2 norm after every block application
    single_resolution: bool = False  # every block at image_size: no pooling, no mix-in
    fourier_features: int = 0     # frequencies of coordinate Fourier features added to the decoder state
    residual: bool = True         # False: the residual cells compute h instead of x + h
    processing: str = "async"     # "async": every decoder block sees the last encoder state of its
                                  # resolution (VDVAE); "sync": the encoder state at the mirrored time
    ws_latents: str = "every"     # "first": a shared block draws a latent on its first application only

    @classmethod
    def from_dict(cls, d: dict) -> "HVAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model keys {unknown}; expected a subset of {sorted(known)}")
        cfg = cls(**d)
        for key, allowed in (("likelihood", ("dmol", "bernoulli")), ("processing", ("async", "sync")),
                             ("ws_latents", ("every", "first"))):
            if getattr(cfg, key) not in allowed:
                raise ValueError(f"model key {key}: expected one of {list(allowed)}, found {getattr(cfg, key)!r}")
        return cfg

    @property
    def likelihood_dims(self) -> int:
        side = self.image_size - 2 * self.crop
        return self.image_channels * side * side

    def layers(self, kind: str) -> list[Layer]:
        """The parsed layer string; single_resolution moves every block to image_size (no pool / mix-in)."""
        layers = parse_layers(self.enc_blocks if kind == "enc" else self.dec_blocks, kind)
        if self.single_resolution:
            layers = [Layer(self.image_size, repeat=l.repeat) for l in layers]
        return layers


def conv(cin: int, cout: int, k: int, zero: bool = False, scale: float = 1.0) -> nn.Conv2d:
    """VDVAE's get_conv: PyTorch default init, bias zeroed, weight optionally zeroed or scaled."""
    c = nn.Conv2d(cin, cout, k, padding=k // 2)
    c.bias.data.zero_()
    c.weight.data.mul_(0.0 if zero else scale)
    return c


def unit_norm(x, eps: float = 1e-6):
    """Table 2's normalised state: every sample's state rescaled to L2 norm 1 (a flat line in Fig 5)."""
    return x / (x.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + eps)


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
    """Bottom-up pass; returns, per resolution, the state after every block application there."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        w, mid = cfg.width, int(cfg.width * cfg.bottleneck)
        layers = cfg.layers("enc")
        self.normalize = cfg.normalize_state
        self.grad_checkpoint = False
        self.in_conv = conv(cfg.image_channels, w, 3)
        self.blocks = nn.ModuleList(Block(w, mid, w, down=l.down, residual=cfg.residual, use_3x3=l.res > 2)
                                    for l in layers)
        self.repeats = [l.repeat for l in layers]
        scale = math.sqrt(1 / sum(self.repeats))
        for b in self.blocks:
            b.c4.weight.data.mul_(scale)

    def forward(self, x, trace: list | None = None):
        x = self.in_conv(x)
        acts: dict[int, list] = {}
        for block, k in zip(self.blocks, self.repeats):
            for _ in range(k):
                x = run_checkpointed(block, x, enabled=self.grad_checkpoint)
                if self.normalize:
                    x = unit_norm(x)
                acts.setdefault(x.shape[-1], []).append(x)
                if trace is not None:
                    trace.append({"res": x.shape[-1], "norm": x.detach().flatten(1).norm(dim=1)})
        return acts


def gaussian_kl(mu1, mu2, ls1, ls2):
    """KL(N(mu1, e^ls1) || N(mu2, e^ls2)) elementwise, with log-sigma parameters."""
    return -0.5 + ls2 - ls1 + 0.5 * (ls1.exp() ** 2 + (mu1 - mu2) ** 2) / ls2.exp() ** 2


def gaussian_log_ratio(z, eps, mu2, ls1, ls2):
    """log q(z) - log p(z) at a sample z = mu1 + e^ls1 * eps (the single-sample KL, for IW bounds)."""
    return ls2 - ls1 - 0.5 * eps ** 2 + 0.5 * ((z - mu2) / ls2.exp()) ** 2


def wide(x: torch.Tensor) -> torch.Tensor:
    """x in at least fp32: densities and the likelihood of bf16 runs in fp32; a float64 model stays float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def fourier_map(res: int, n: int, device, dtype=torch.float32) -> torch.Tensor:
    """(1, 4n, res, res): sin and cos of 2^k * pi * u and v at the pixel centres u, v in (0, 1), k < n."""
    u = (torch.arange(res, device=device, dtype=dtype) + 0.5) / res
    freqs = (2.0 ** torch.arange(n, device=device, dtype=dtype)) * math.pi
    a = u[None, :] * freqs[:, None]                                    # n, res
    feats = [f(a)[:, :, None].expand(n, res, res) for f in (torch.sin, torch.cos)]      # along rows (v)
    feats += [f(a)[:, None, :].expand(n, res, res) for f in (torch.sin, torch.cos)]     # along columns (u)
    return torch.cat(feats)[None]


class DecBlock(nn.Module):
    """Top-down block: posterior q(z|state, enc), prior p(z|state) + state update xpp, z_proj, resnet.

    One application is the paper's two-step forward Euler update of the state Z_i:
    Z_i^(1) = Z_i + xpp + z_proj(z) (first half-step), then Z_{i+1} = resnet(Z_i^(1)).
    """

    def __init__(self, layer: Layer, cfg: HVAEConfig, n_blocks: int):
        super().__init__()
        width, zdim = cfg.width, cfg.zdim
        self.res, self.mixin, self.zdim = layer.res, layer.mixin, zdim
        mid, use_3x3 = int(width * cfg.bottleneck), layer.res > 2
        self.posterior = Block(2 * width, mid, 2 * zdim, use_3x3=use_3x3)
        self.prior = Block(width, mid, 2 * zdim + width, use_3x3=use_3x3, zero_last=True)
        self.z_proj = conv(zdim, width, 1, scale=math.sqrt(1 / n_blocks))
        self.resnet = Block(width, mid, width, residual=cfg.residual, use_3x3=use_3x3)
        self.resnet.c4.weight.data.mul_(math.sqrt(1 / n_blocks))
        self.n_fourier = cfg.fourier_features
        if self.n_fourier:   # zero-initialised: at init the model is the one without features
            self.fourier_proj = conv(4 * self.n_fourier, width, 1, zero=True)

    def state(self, xs, batch):
        """Z_i before this block: the state at this resolution, plus the nearest-upsampled mix-in."""
        x = xs[self.res]
        if x.shape[0] != batch:
            x = x.expand(batch, -1, -1, -1)
        if self.mixin is not None:
            x = x + F.interpolate(xs[self.mixin][:, :x.shape[1]], scale_factor=self.res // self.mixin)
        if self.n_fourier:
            x = x + self.fourier_proj(fourier_map(self.res, self.n_fourier, x.device, wide(x).dtype))
        return x

    def forward(self, x, enc=None, latent: bool = True, mc_kl: bool = False, t: float | None = None):
        """One application to the state x (after `state`). With `enc` the latent is drawn from the posterior
        and the KL map returned (analytic, or log q - log p at the sample when mc_kl); without, from the prior
        at temperature t (sigma_p * t). latent=False is a deterministic step (no z). Returns (Z_i^(1), Z_{i+1}, kl)."""
        pm, pv, xpp = self.prior(x).split([self.zdim, self.zdim, x.shape[1]], dim=1)
        kl = None
        if not latent:
            half = x + xpp
        elif enc is not None:
            qm, qv = self.posterior(torch.cat([x, enc], dim=1)).chunk(2, dim=1)
            qm, qv, pm, pv = wide(qm), wide(qv), wide(pm), wide(pv)     # densities in fp32 (bf16 runs)
            eps = noise.normal_like(qm)
            z = qm + qv.exp() * eps
            kl = gaussian_log_ratio(z, eps, pm, qv, pv) if mc_kl else gaussian_kl(qm, pm, qv, pv)
            half = x + xpp + self.z_proj(z)
        else:
            if t is not None:
                pv = pv + math.log(t)
            z = pm + pv.exp() * noise.normal_like(pm)
            half = x + xpp + self.z_proj(z)
        return half, self.resnet(half), kl


class Decoder(nn.Module):
    """Top-down pass from learned bias maps; DecBlocks run in string order, repeats in place."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        layers = cfg.layers("dec")
        self.repeats = [l.repeat for l in layers]
        n = sum(self.repeats)
        self.blocks = nn.ModuleList(DecBlock(l, cfg, n) for l in layers)
        self.resolutions = sorted({l.res for l in layers})
        self.bias_xs = nn.ParameterList(nn.Parameter(torch.zeros(1, cfg.width, r, r)) for r in self.resolutions)
        self.image_size = cfg.image_size
        self.gain = nn.Parameter(torch.ones(1, cfg.width, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, cfg.width, 1, 1))
        self.normalize, self.sync, self.grad_checkpoint = cfg.normalize_state, cfg.processing == "sync", False
        self.latent_every = cfg.ws_latents == "every"

    def schedule(self):
        """Per application, in order: (block, draws a latent, j-th of D applications at its resolution).

        A shared block appears once per application; (j, D) pick the encoder state under sync processing."""
        apps = [(b, j == 0 or self.latent_every) for b, k in zip(self.blocks, self.repeats) for j in range(k)]
        total = {r: sum(b.res == r for b, _ in apps) for r in self.resolutions}
        seen = {r: 0 for r in self.resolutions}
        out = []
        for b, latent in apps:
            out.append((b, latent, seen[b.res], total[b.res]))
            seen[b.res] += 1
        return out

    def encoder_state(self, states: list, j: int, d: int):
        """async: the last encoder state of the resolution (VDVAE). sync: application j of d sees the state
        at the mirrored time, E-1-floor(j*E/d) of the E encoder states (the first sees the last)."""
        return states[len(states) - 1 - j * len(states) // d] if self.sync else states[-1]

    def forward(self, acts, mc_kl: bool = False, trace: list | None = None):
        xs = {r: b for r, b in zip(self.resolutions, self.bias_xs)}
        kls = []
        for block, latent, j, d in self.schedule():
            enc = self.encoder_state(acts[block.res], j, d)
            x = block.state(xs, enc.shape[0])
            half, new, kl = run_checkpointed(partial(block, latent=latent, mc_kl=mc_kl), x, enc,
                                             enabled=self.grad_checkpoint)
            xs[block.res] = unit_norm(new) if self.normalize else new
            if kl is not None:
                kls.append(kl)
            if trace is not None:
                norm = lambda v: v.detach().flatten(1).norm(dim=1)
                trace.append({"res": block.res, "norm": norm(x), "half_step": norm(half - x)})
        return self.final(xs), kls

    def final(self, xs):
        return xs[self.image_size] * self.gain + self.bias

    def sample(self, n, t=None):
        xs = {r: b for r, b in zip(self.resolutions, self.bias_xs)}
        for block, latent, _, _ in self.schedule():
            _, new, _ = block(block.state(xs, n), None, latent, t=t)
            xs[block.res] = unit_norm(new) if self.normalize else new
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

    def set_grad_checkpoint(self, on: bool) -> "VAE":
        """Recompute every block application in the backward pass instead of storing its activations."""
        self.encoder.grad_checkpoint = self.decoder.grad_checkpoint = on
        return self

    def forward(self, x_in, x_target, mc_kl: bool = False, trace: dict | None = None):
        """ELBO terms per image in nats/dim. mc_kl: the rate is log q - log p at the drawn latents (the
        terms of an importance weight) instead of the analytic KL. trace: filled with per-block state norms."""
        enc_trace, dec_trace = (None, None) if trace is None else (trace.setdefault("encoder", []),
                                                                   trace.setdefault("decoder", []))
        h, kls = self.decoder(self.encoder(x_in, enc_trace), mc_kl, dec_trace)
        with torch.autocast(h.device.type, enabled=False):         # the likelihood in fp32 (bf16 runs)
            distortion = self.out_net.nll(wide(h), x_target)
        rate = sum(kl.sum(dim=(1, 2, 3)) for kl in kls) / self.cfg.likelihood_dims
        return {"elbo": distortion + rate, "distortion": distortion, "rate": rate}

    @torch.no_grad()
    def sample(self, n, t=None):
        return self.out_net.sample(self.decoder.sample(n, t))

    @property
    def stochastic_depth(self) -> int:
        """Decoder applications that draw a latent."""
        return sum(latent for _, latent, _, _ in self.decoder.schedule())


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_checkpoint(path, device: str = "cpu") -> VAE:
    """A model written by the train stage ({config, state_dict, step}), loaded without unpickling code.

    A missing, truncated or corrupt file, or one whose weights do not fit its config, raises
    mrgen.errors.DataError naming the file (no traceback)."""
    from mrgen.errors import DataError
    from mrgen.io import load_torch, short_reason

    what = "the ema.pt/model.pt written by the train stage — rerun it"
    ck = load_torch(path, ("config", "state_dict", "step"), what, map_location=device)
    try:
        cfg = HVAEConfig.from_dict(ck["config"])
        model = VAE(cfg).to(device)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise DataError(f"{path}: not a readable checkpoint (config: {short_reason(e)}); expected {what}") from None
    try:
        model.load_state_dict(ck["state_dict"])
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, TypeError, AttributeError) as e:   # weights of another shape or version
        raise DataError(f"{path}: not a readable checkpoint (state_dict: {short_reason(e)}); expected {what}") from None
    model.step = ck["step"]
    return model
