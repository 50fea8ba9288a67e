"""The VDVAE training loop: AdamW, warm-up, clip and skip, EMA, resumable checkpoints."""
