"""Forward+backward images/s of the tiny Fig 4 config and VDVAE's CIFAR10 config on this device.

    python benchmarks/train_step.py [--steps N] [--batch B]

On CPU it measures fp32; on a GPU fp32 and bf16 autocast. Prints one line per (config, dtype) with
images/s and the ratio to the first line, so later changes can be compared in one run.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from mrgen.models.hvae import VAE, HVAEConfig, count_params  # noqa: E402
from mrgen.spec import load  # noqa: E402


def configs():
    tiny, paper = load(preset="tiny"), load(preset="paper")
    yield "tiny f4-digits-x1", HVAEConfig.from_dict(tiny.model_config("f4-digits-x1")), 32
    yield "tiny f4-digits-r20", HVAEConfig.from_dict(tiny.model_config("f4-digits-r20")), 32
    cifar = {**paper.p["models"]["vdvae_cifar10"], "image_size": 32, "image_channels": 3, "likelihood": "dmol"}
    yield "paper vdvae_cifar10", HVAEConfig.from_dict(cifar), 16


def bench(cfg, batch, steps, device, dtype):
    torch.manual_seed(0)
    model = VAE(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.9))
    x = torch.rand(batch, cfg.image_channels, cfg.image_size, cfg.image_size, device=device)
    x_t = torch.bernoulli(x) if cfg.likelihood == "bernoulli" else x * 2 - 1

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=dtype == "bf16"):
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
    return batch * steps / (time.perf_counter() - t0), count_params(model)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtypes = ["fp32", "bf16"] if device == "cuda" else ["fp32"]
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'} "
          f"({torch.get_num_threads()} threads), torch {torch.__version__}")
    base = None
    for name, cfg, batch in configs():
        for dt in dtypes:
            ips, n = bench(cfg, batch, args.steps, device, dt)
            base = base or ips
            print(f"{name:24s} {dt:5s} params {n:>11,d} batch {batch:3d}  {ips:9.1f} images/s  "
                  f"ratio to first {ips / base:7.3f}")


if __name__ == "__main__":
    main()
