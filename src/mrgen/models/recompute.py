"""Per-block gradient checkpointing shared by the models (`grad_checkpoint` in a training recipe)."""
from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint


def run_checkpointed(fn, *args, enabled: bool):
    """One block application, recomputed in backward instead of storing its activations (same RNG draws)."""
    if enabled and torch.is_grad_enabled():
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)
