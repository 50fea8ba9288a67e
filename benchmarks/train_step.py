"""Forward+backward images/s of the tiny Fig 4 config and VDVAE's CIFAR10 config on this device.

    python benchmarks/train_step.py [--steps N] [--batch B]

Measures fp32 and bf16 autocast (the training loop's `precision: bf16`) on whatever device is present.
Prints one line per (config, dtype) with images/s, the ratio to the config's fp32 line, and on CUDA the
peak memory, so later changes can be compared in one run.
"""
import argparse
import time

import torch

from mrgen.config.spec import load
from mrgen.models.hvae import VAE, HVAEConfig, count_params
from mrgen.train.loop import autocast


def configs():
    tiny, paper = load(preset="tiny"), load(preset="paper")
    yield "tiny digits-x1", HVAEConfig.from_dict(tiny.model_config("digits-x1")), 32
    yield "tiny digits-r20", HVAEConfig.from_dict(tiny.model_config("digits-r20")), 32
    cifar = {**paper.p["models"]["vdvae_cifar10"], "image_size": 32, "image_channels": 3, "likelihood": "dmol"}
    yield "paper vdvae_cifar10", HVAEConfig.from_dict(cifar), 16 if torch.cuda.is_available() else 4


def bench(cfg, batch, steps, device, dtype):
    torch.manual_seed(0)
    model = VAE(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.9))
    x = torch.rand(batch, cfg.image_channels, cfg.image_size, cfg.image_size, device=device)
    x_t = torch.bernoulli(x) if cfg.likelihood == "bernoulli" else x * 2 - 1

    def step():
        with autocast(device, dtype):
            loss = model(x_t, x_t)["elbo"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    step()                                                    # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return batch * steps / (time.perf_counter() - t0), count_params(model), peak


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtypes = ["fp32", "bf16"]
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'} "
          f"({torch.get_num_threads()} threads), torch {torch.__version__}")
    for name, cfg, batch in configs():
        base = None
        for dt in dtypes:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            ips, n, peak = bench(cfg, batch, args.steps, device, dt)
            base = base or ips
            mem = f"  peak {peak:6.2f} GiB" if peak is not None else ""
            print(f"{name:24s} {dt:5s} params {n:>11,d} batch {batch:3d}  {ips:9.1f} images/s  "
                  f"ratio to fp32 {ips / base:6.3f}{mem}")


if __name__ == "__main__":
    main()
