"""Standard normal noise shaped like a tensor, independent of its memory layout.

`torch.randn_like` fills in memory order, so a channels_last tensor would get its draws in another
arrangement than a contiguous one and `channels_last: true` would change a run's numbers; drawing by
logical shape keeps them equal. Tests that need noise-free models replace `normal_like`.
"""
from __future__ import annotations

import torch


def normal_like(x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, dtype=x.dtype, device=x.device)
