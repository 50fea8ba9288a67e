"""Fig 5: the time representation of a trained HVAE (Falck et al. §3.2).

For N batches of B test images (posterior pass, EMA weights): ||Z_i||_2 per top-down block i (the
state entering block i) and per bottom-up block, mean and std over the N*B images; and the backward
error eps_{i+1} = ||Z_i^(1) - Z_i||_2 / ||Z_i||_2, where Z_i^(1) is the state after block i's first
Euler half-step (prior's state contribution and projected latent added, before the residual cell).
"""
from __future__ import annotations

import torch

from mrgen.data.loader import Batches


@torch.no_grad()
def state_norms(model, batches: Batches, n_batches: int, seed: int) -> dict:
    model.eval()
    device = next(model.parameters()).device
    enc, dec = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (x_in, x_t) in enumerate(batches.ordered()):
            if i == n_batches:
                break
            trace = {}
            model(x_in.to(device), x_t.to(device), trace=trace)
            enc.append(trace["encoder"])
            dec.append(trace["decoder"])
    if len(dec) < n_batches:
        raise ValueError(f"Fig 5 asks for {n_batches} batches of {batches.batch_size} but the split has "
                         f"{len(batches.array)} images")

    def stats(traces, key):
        per_block = [torch.cat([t[i][key] for t in traces]).double() for i in range(len(traces[0]))]
        return [{"mean": v.mean().item(), "std": v.std().item()} for v in per_block]

    def eps(traces):
        per_block = [torch.cat([t[i]["half_step"] / t[i]["norm"].clamp(min=1e-12) for t in traces]).double()
                     for i in range(len(traces[0]))]
        return [{"mean": v.mean().item(), "std": v.std().item()} for v in per_block]

    return {"images": sum(t[0]["norm"].numel() for t in dec),
            "decoder": {"res": [b["res"] for b in dec[0]], "norm": stats(dec, "norm"), "backward_error": eps(dec)},
            "encoder": {"res": [b["res"] for b in enc[0]], "norm": stats(enc, "norm")}}
