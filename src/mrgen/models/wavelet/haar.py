"""Orthonormal 2-D Haar transforms on batches (B, C, H, W), equal to pywt's 'haar' wavedec2 / waverec2.

For a 2x2 block [[a, b], [c, d]]: LL = (a+b+c+d)/2, H = (a+b-c-d)/2, V = (a-b+c-d)/2, D = (a-b-c+d)/2
(pywt's cA, cH, cV, cD). Detail bands are stacked band-major on the channel axis: (B, 3C, h, w) =
[H(C channels), V(C), D(C)]. Hence LL_j = 2^j x (2^j x 2^j average pooling): Theorem 2's conjugacy.
"""
from __future__ import annotations

import torch

BANDS = ("H", "V", "D")


def dwt2(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One level: x (B, C, H, W), H and W even -> (LL (B, C, H/2, W/2), details (B, 3C, H/2, W/2))."""
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"Haar DWT needs even height and width, found {tuple(x.shape[-2:])}")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    ll = (a + b + c + d) / 2
    details = torch.cat([(a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2], dim=1)
    return ll, details


def idwt2(ll: torch.Tensor, details: torch.Tensor) -> torch.Tensor:
    """Inverse of dwt2: (LL (B, C, h, w), details (B, 3C, h, w)) -> (B, C, 2h, 2w)."""
    h, v, d = details.chunk(3, dim=1)
    if h.shape != ll.shape:
        raise ValueError(f"details {tuple(details.shape)} do not match LL {tuple(ll.shape)} (expected 3x its channels)")
    out = ll.new_empty(*ll.shape[:-2], 2 * ll.shape[-2], 2 * ll.shape[-1])
    out[..., 0::2, 0::2] = (ll + h + v + d) / 2
    out[..., 0::2, 1::2] = (ll + h - v - d) / 2
    out[..., 1::2, 0::2] = (ll - h + v - d) / 2
    out[..., 1::2, 1::2] = (ll - h - v + d) / 2
    return out


def wavedec(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """`levels` levels, coarsest first like pywt.wavedec2: [LL_J, details_J, ..., details_1]."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, found {levels}")
    details = []
    for _ in range(levels):
        x, d = dwt2(x)
        details.append(d)
    return [x] + details[::-1]


def waverec(coeffs: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of wavedec."""
    x = coeffs[0]
    for d in coeffs[1:]:
        x = idwt2(x, d)
    return x
