"""wsample: a wavelet-paper model at N sampling steps -> results/samples/<model>-n<N>/*.png (seeded) and
results/metrics/<model>-n<N>/timing.json (milliseconds per image on the recorded device)."""
import json
import platform
import time

import torch

from mrgen.io import load_torch
from mrgen.metrics.fid import write_pngs
from mrgen.models.wavelet import methods
from mrgen.models.wavelet.gan import GANConfig, count
from mrgen.models.wavelet.unet import UNetConfig
from mrgen.paths import ROOT
from mrgen.registry import wavelet_settings
from mrgen.train.dist import default_device


def load_part(path):
    ck = load_torch(path, ("part", "config", "state_dict"), "the ema.pt written by the wtrain stage — rerun it",
                    map_location="cpu")
    cfg = (GANConfig if ck["part"] == "gan" else UNetConfig).from_dict(ck["config"])
    net = methods.build(cfg)
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    m, steps = wavelet_settings(spec)[name]
    wm, w = spec.p["wavelet_models"][m], spec.p["wavelet"]
    ds = spec.p["datasets"][wm["dataset"]]
    device = default_device()
    nets = {part: load_part(ROOT / spec.paths.model_dir(f"{spec.wavelet_part(m, part)[0]}-{part}") / "ema.pt").to(device)
            for part in wm["parts"]}
    std = None if wm["method"] == "sgm" else methods.Standardiser(
        json.loads((ROOT / spec.paths.wstats_file(wm["dataset"])).read_text()))
    gen = torch.Generator(device=device).manual_seed(w["seed"])
    folder = ctx.out(spec.paths.samples_dir(name))
    folder.mkdir(parents=True, exist_ok=True)
    total, done = 0.0, 0
    while done < w["samples"]:
        n = min(w["sample_batch"], w["samples"] - done)
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        x = methods.generate(wm["method"], nets, n, steps, ds["image_size"], ds["channels"], wm["levels"], std,
                             w["horizon"], w["schedule"], gen, device)
        if device == "cuda":
            torch.cuda.synchronize()
        total += time.perf_counter() - t0
        images = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        write_pngs(images, folder, start=done)
        done += n
    evals = steps * (len(wm["parts"]) if wm["method"] == "wsgm" else 1) + (wm["levels"] if wm["method"] == "wmgm" else 0)
    timing = {"model": m, "method": wm["method"], "steps": steps, "network_evaluations": evals,
              "images": done, "ms_per_image": 1000 * total / done, "batch": w["sample_batch"],
              "device": torch.cuda.get_device_name() if device == "cuda"
              else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
              "params": sum(count(n) for n in nets.values())}
    ctx.out(f"{spec.paths.metrics_dir(name)}/timing.json").write_text(json.dumps(timing, indent=2, sort_keys=True) + "\n")
    ctx.info.update(seed=w["seed"], device=timing["device"])

