"""Training-step throughput of the one training loop's step functions: eager fp32 against bf16 against
compiled, for VDVAE's CIFAR10 config and the SGM and WMGM paper configs, on whatever device is present.

    python benchmarks/train_step.py [--configs NAME ...] [--modes MODE ...] [--steps N] [--batch B]

Each (config, mode) runs in a fresh process: the real family (mrgen.train.hvae / mrgen.train.wavelet) with
the paper recipe, its options switched by the mode, on synthetic images through the real data path.
Printed side by side, one line per mode: images/s (after warm-up steps, which include compilation), the
ratio to eager fp32, the first step's time, peak memory (CUDA: the allocator's peak; CPU: the process's
peak resident set) and, on a GPU, model FLOPs utilisation: the step's FLOPs (torch.utils.flop_counter,
counted once on the eager fp32 step) per second against the device's published dense bf16 peak.
Goals on a GPU (issue 11): compiled bf16 >= 1.5x eager fp32 images/s; >= 40 % MFU on the CIFAR10 config.
With --record on a GPU, each mode's seconds per step are kept in benchmarks/step_times.json, where
`mrgen plan` takes them ("measured") instead of its FLOP-count estimate.
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

MODES = {                                           # recipe switches per mode
    "eager-fp32": {},
    "eager-bf16": {"precision": "bf16"},
    "compiled-fp32": {"compile": True},
    "compiled-bf16": {"compile": True, "precision": "bf16", "channels_last": True, "fused_adam": True, "tf32": True},
}
CONFIGS = ("vdvae-cifar10", "sgm-celebahq", "wmgm-ll", "wmgm-gan")
BATCH = {"vdvae-cifar10": (16, 4), "sgm-celebahq": (32, 2), "wmgm-ll": (32, 4), "wmgm-gan": (128, 4)}  # (GPU, CPU)
PEAK_BF16 = {"H100 PCIe": 756e12, "H100": 989.4e12, "H200": 989.4e12, "A100": 312e12, "L40S": 362e12}
INSTANCE = {"vdvae-cifar10": ("train", "t1-cifar10-vdvae"), "sgm-celebahq": ("wtrain", "sgm-celebahq-full"),
            "wmgm-ll": ("wtrain", "wsgm-celebahq-ll"), "wmgm-gan": ("wtrain", "wmgm-celebahq-gan")}
"""The paper-preset stage instance each config trains, whose measured step time `--record` keeps for
`mrgen plan` (benchmarks/step_times.json, keyed by the model configuration: mrgen.plan.identity_key)."""


def record(config: str, gpu_type: str, results: dict, batch: int) -> None:
    """Keep each mode's seconds per step for `mrgen plan`."""
    import datetime as dt

    from mrgen.config.spec import load
    from mrgen.io import write_text
    from mrgen.plan import MEASURED, identity_key
    from mrgen.registry import stage
    spec = load(preset="paper")
    key = identity_key(spec, stage(spec, *INSTANCE[config]))
    table = json.loads(MEASURED.read_text()) if MEASURED.is_file() else {}
    row = table.setdefault(key, {}).setdefault(gpu_type, {})
    for mode, r in results.items():
        row[mode] = {"s_per_step": r["step_s"], "batch": batch, "device": r["device"], "config": config,
                     "date": dt.date.today().isoformat()}
    write_text(MEASURED, json.dumps(table, indent=1, sort_keys=True) + "\n")


def family(config: str, mode: str, batch: int):
    """(family, Batches, images per step) of a config with the mode's switches on the paper recipe."""
    import numpy as np
    import torch

    from mrgen.config.schema import Training, WaveletTraining
    from mrgen.config.spec import load
    from mrgen.data.loader import Batches
    from mrgen.models.hvae import HVAEConfig
    from mrgen.models.wavelet import methods
    from mrgen.train.dist import Dist
    from mrgen.train.hvae import HVAE
    from mrgen.train.wavelet import GAN, Score

    paper = load(preset="paper").p
    dist = Dist(device="cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.RandomState(0)
    if config == "vdvae-cifar10":
        t = Training.model_validate({**paper["training"]["vdvae_cifar10"], "batch_size": batch, **MODES[mode]})
        cfg = HVAEConfig.from_dict({**paper["models"]["vdvae_cifar10"], "image_size": 32, "image_channels": 3,
                                    "likelihood": "dmol"})
        images = rng.randint(0, 256, (8 * batch, 32, 32, 3)).astype(np.uint8)
        meta = {"likelihood": "dmol", "input_shift": -120.63838, "input_scale": 1 / 64.16736}
        f = HVAE(cfg, t.model_dump(), Batches(images[:batch], meta, batch), 0, dist)
        return f, Batches(images, meta, batch, seed=0), batch
    wm = paper["wavelet_models"]["sgm-celebahq" if config == "sgm-celebahq" else "wmgm-celebahq"]
    part = {"sgm-celebahq": "full", "wmgm-ll": "ll", "wmgm-gan": "gan"}[config]
    owner = wm["parts"][part].get("shared") or None
    entry = paper["wavelet_models"][owner]["parts"][part] if owner else wm["parts"][part]
    t = WaveletTraining.model_validate({**paper["wavelet_training"][entry["training"]], "batch_size": batch,
                                        **MODES[mode]}).model_dump()
    cfg = methods.net_config(part, paper["wavelet_nets"][entry["net"]], 128, 3, wm["levels"])
    torch.manual_seed(0)
    net = methods.build(cfg)
    images = rng.randint(0, 256, (8 * batch, 128, 128, 3)).astype(np.uint8)
    b = Batches(images, {"likelihood": "dmol", "input_shift": 0.0, "input_scale": 1.0}, batch, seed=0)
    if part == "gan":
        return GAN(net, t, wm["levels"], cfg, 0, dist), b, batch
    unit = {"mean": [0.0] * 3, "std": [1.0] * 3}
    std = methods.Standardiser({"ll": {str(j): unit for j in range(1, 3)}, "hf": {str(j): unit for j in range(1, 3)}})
    return Score(part, net, t, wm["levels"], std, 5.0, "quadratic", 0, dist), b, batch


def measure(config: str, mode: str, batch: int, steps: int, warm: int, count_flops: bool) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mrgen.data.loader import prefetched

    f, batches, n = family(config, mode, batch)
    device = f.accel.dist.device
    cuda = device.startswith("cuda")
    flops = None
    with tempfile.TemporaryDirectory(), prefetched(batches, range(warm + steps + 1), device, 2) as feed:
        if count_flops:
            with FlopCounterMode(display=False) as fc:
                s, pair = next(feed)
                f.step(s, pair)
            flops = fc.get_total_flops()
        else:
            next(feed)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

        def timed(k: int) -> float:
            """Seconds for k steps, the device drained before and after."""
            t0 = time.perf_counter()
            for _ in range(k):
                s, pair = next(feed)
                f.step(s, pair)
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter() - t0
        first = timed(warm)
        per_step = timed(steps) / steps
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    name = torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)"
    return {"device": name, "images_per_s": n / per_step, "warmup_s": first, "peak_bytes": peak,
            "flops_per_step": flops, "step_s": per_step, "batch": n}


def peak_flops(device: str) -> float | None:
    for key in sorted(PEAK_BF16, key=len, reverse=True):
        if key in device:
            return PEAK_BF16[key]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2, help="steps before timing (compilation happens here)")
    ap.add_argument("--batch", type=int, help="per step (default: the paper's per-GPU batch on CUDA, small on CPU)")
    ap.add_argument("--record", action="store_true",
                    help="on a GPU: keep the step times in benchmarks/step_times.json for `mrgen plan`")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--count-flops", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        config, mode = a.worker
        print(json.dumps(measure(config, mode, a.batch, a.steps, a.warmup, a.count_flops)))
        return
    import torch
    cuda = torch.cuda.is_available()
    for config in a.configs:
        batch = a.batch or BATCH[config][0 if cuda else 1]
        res, flops = {}, None
        for mode in a.modes:
            cmd = [sys.executable, __file__, "--worker", config, mode, "--batch", str(batch), "--steps",
                   str(a.steps), "--warmup", str(a.warmup)] + (["--count-flops"] if flops is None else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"  {config} {mode}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            flops = flops or res[mode]["flops_per_step"]
        if not res:
            continue
        dev = next(iter(res.values()))["device"]
        base = res.get("eager-fp32", {}).get("images_per_s")
        print(f"{config}, batch {batch}, {dev}; {flops / batch / 1e9:.2f} GFLOP per image (fwd+bwd)" if flops
              else f"{config}, batch {batch}, {dev}")
        for mode, r in res.items():
            ratio = f"{r['images_per_s'] / base:5.2f}x" if base else "  -  "
            line = (f"  {mode:14s} {r['images_per_s']:9.2f} images/s  {ratio}  warm-up {r['warmup_s']:7.1f} s  "
                    f"peak {r['peak_bytes'] / 2**30:6.2f} GiB")
            peak = peak_flops(dev) if cuda else None
            if flops and peak:
                line += f"  MFU {flops / r['step_s'] / peak:6.1%}"
            elif flops:
                line += f"  {flops / r['step_s'] / 1e9:7.1f} GFLOP/s"
            print(line, flush=True)
        gpu_type = next((k for k in sorted(PEAK_BF16, key=len, reverse=True) if k in dev), None) if cuda else None
        if a.record and gpu_type:
            record(config, gpu_type.split()[0], res, batch)
            print(f"  recorded in benchmarks/step_times.json as {gpu_type.split()[0]}", flush=True)


if __name__ == "__main__":
    main()
