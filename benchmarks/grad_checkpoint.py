"""Gradient checkpointing on VDVAE's CIFAR10 config (39m params): activation memory and step time, off vs on.

    python benchmarks/grad_checkpoint.py [--batch B] [--steps N] [--precision fp32|bf16]

Each mode runs in a fresh process. Activation memory = peak memory during a training step minus the memory
held before it (weights, gradients and AdamW state already allocated): on CUDA from the allocator's peak
counter, on CPU from the process's peak resident set size. Prints both modes and the ratios in one run.
Goal (issue 4): >= 3x less activation memory at <= 1.4x the step time.
"""
import argparse
import json
import resource
import subprocess
import sys
import time


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure(checkpointing: bool, batch: int, steps: int, precision: str) -> dict:
    import torch

    from mrgen.config.spec import load
    from mrgen.models.hvae import VAE, HVAEConfig
    from mrgen.train.accel import Accel
    from mrgen.train.dist import Dist

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    cfg = HVAEConfig.from_dict({**load(preset="paper").p["models"]["vdvae_cifar10"], "image_size": 32,
                                "image_channels": 3, "likelihood": "dmol"})
    accel = Accel({"precision": precision, "channels_last": False, "tf32": False, "compile": False}, Dist(device=device))
    model = VAE(cfg).to(device).set_grad_checkpoint(checkpointing)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.9))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()                                    # optimizer state allocated before measuring
    x = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1

    def step():
        with accel.autocast():
            loss = model(x, x)["elbo"].mean()
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = rss_bytes()
    t0 = time.perf_counter()
    step()
    if device == "cuda":
        torch.cuda.synchronize()
        act = torch.cuda.max_memory_allocated() - before
    else:
        act = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / steps if steps else first
    name = torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return {"device": name, "activation_bytes": act, "step_s": per_step}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--worker", choices=("off", "on"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(measure(a.worker == "on", a.batch, a.steps, a.precision)))
        return
    res = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, __file__, "--worker", mode, "--batch", str(a.batch), "--steps",
                              str(a.steps), "--precision", a.precision], capture_output=True, text=True, check=True)
        res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"VDVAE CIFAR10 config, batch {a.batch}, {a.precision}, device {res['off']['device']}")
    for mode in ("off", "on"):
        r = res[mode]
        print(f"  checkpointing {mode:3s}: activation memory {r['activation_bytes'] / 2**20:9.1f} MiB   "
              f"step {r['step_s']:7.3f} s")
    mem = res["off"]["activation_bytes"] / max(res["on"]["activation_bytes"], 1)
    slow = res["on"]["step_s"] / res["off"]["step_s"]
    print(f"  ratio: {mem:.2f}x less activation memory (goal >= 3), {slow:.2f}x the step time (goal <= 1.4)")


if __name__ == "__main__":
    main()
