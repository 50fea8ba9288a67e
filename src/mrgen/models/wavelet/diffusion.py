"""The Ornstein-Uhlenbeck (variance-preserving) diffusion of SGM / WSGM and its ancestral sampler.

Forward: x_t = e^{-t} x_0 + sqrt(1 - e^{-2t}) eps on [0, T] (WSGM: T = 5), so alpha_bar(t) = e^{-2t}.
Training: eps-prediction MSE at times t = T u^2 ("quadratic") or T u ("uniform"), u ~ U(0, 1).
Sampling: N steps on the grid t_k = T g(k / N), g(u) = u or u^2; between t_{k-1} and t_k the DDPM step has
beta_k = 1 - exp(-2 (t_k - t_{k-1})); the reverse step is the Gaussian posterior q(x_{k-1} | x_k, x0_hat)
with the "fixed large" variance beta_k, and the last step (to t_0 = 0) returns the mean.
"""
from __future__ import annotations

import math

import torch

from mrgen.models import noise


def time_grid(steps: int, horizon: float, schedule: str) -> torch.Tensor:
    """t_0 = 0 < t_1 < ... < t_N = T."""
    u = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    if schedule == "quadratic":
        u = u ** 2
    elif schedule != "uniform":
        raise ValueError(f"schedule: expected 'uniform' or 'quadratic', found {schedule!r}")
    return horizon * u


def sample_times(n: int, horizon: float, schedule: str, generator=None, device=None) -> torch.Tensor:
    u = torch.rand(n, generator=generator, device=device)
    return horizon * (u ** 2 if schedule == "quadratic" else u)


def diffuse(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Sample x_t | x_0 of the OU process."""
    t = t.view(-1, *([1] * (x0.dim() - 1)))
    return torch.exp(-t) * x0 + torch.sqrt(-torch.expm1(-2 * t)) * eps


def loss(net, x0: torch.Tensor, horizon: float, schedule: str, cond: torch.Tensor | None = None) -> torch.Tensor:
    """Denoising score matching in eps form, averaged over elements."""
    t = sample_times(x0.shape[0], horizon, schedule, device=x0.device)
    eps = noise.normal_like(x0)
    return torch.mean((net(diffuse(x0, t, eps), t, cond, horizon) - eps) ** 2)


@torch.no_grad()
def sample(net, shape: tuple, steps: int, horizon: float, schedule: str, cond: torch.Tensor | None = None,
           generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Ancestral sampling from N(0, I) at t = T down to t = 0 in `steps` network evaluations."""
    grid = time_grid(steps, horizon, schedule).tolist()
    x = torch.randn(shape, generator=generator, device=device)
    for k in range(steps, 0, -1):
        t, s = grid[k], grid[k - 1]
        abar_t, abar_s = math.exp(-2 * t), math.exp(-2 * s)
        beta = 1.0 - abar_t / abar_s
        eps = net(x, torch.full((shape[0],), t, device=x.device), cond, horizon)
        x0 = (x - math.sqrt(1 - abar_t) * eps) / math.sqrt(abar_t)
        mean = (beta * math.sqrt(abar_s) * x0 + (1 - abar_s) * math.sqrt(1 - beta) * x) / (1 - abar_t)
        if k == 1:
            return mean
        x = mean + math.sqrt(beta) * torch.randn(shape, generator=generator, device=device)
    return x
