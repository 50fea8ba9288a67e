"""`mrgen plan`: what launching a preset's targets will cost, before anything is launched.

Per target (a table or figure of params.yaml's experiments) and in total, counting every stage instance
once however many targets share it:
- jobs: the stage instances the target needs that run as scheduler jobs (cheap kinds run on the host);
- GPU-hours of training: iterations x seconds per step x GPUs. Seconds per step come from a measurement
  recorded in benchmarks/step_times.json for that recipe and GPU type where there is one ("measured"), else
  from an estimate ("estimate"): the step's FLOPs, counted by torch.utils.flop_counter on fake tensors
  through the family's own step function (nothing is computed or allocated), over the GPU's published dense
  bf16 peak times an assumed model FLOPs utilisation;
- GPU-hours of the other GPU jobs, bounded by their declared wall time ("bound");
- disk: checkpoints (model + EMA weights, float32, from parameter counts; resumable state adds the AdamW
  moments) and samples (count x image bytes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from mrgen.cluster import merge
from mrgen.config.schema import Resources, Site
from mrgen.config.spec import Spec, SpecError
from mrgen.io import write_text
from mrgen.paths import ROOT
from mrgen.registry import KINDS, Stage, stages, wavelet_parts, wavelet_settings

PEAK = {                      # published dense peaks, FLOP/s: bf16 tensor cores, TF32 tensor cores, plain fp32
    "H100": {"bf16": 989.4e12, "tf32": 494.7e12, "fp32": 66.9e12},
    "H200": {"bf16": 989.4e12, "tf32": 494.7e12, "fp32": 66.9e12},
    "A100": {"bf16": 312e12, "tf32": 156e12, "fp32": 19.5e12},
    "L40S": {"bf16": 362.1e12, "tf32": 183.2e12, "fp32": 91.6e12},
    "V100": {"bf16": 125e12, "tf32": 15.7e12, "fp32": 15.7e12},        # fp16 tensor cores; no TF32
}
ASSUMED_MFU = 0.35
OP_LATENCY_S = 8e-6
"""An eager step cannot be faster than its kernels' launches: ops x this (compiled: a quarter, for fusion)."""
MEASURED = ROOT / "benchmarks" / "step_times.json"
"""What `python benchmarks/train_step.py --record` measured on a GPU: {identity key: {GPU type: {mode:
{"s_per_step", "batch", "device", "date"}}}}, the key naming the model configuration (`identity_key`)."""


@dataclass
class Cost:
    jobs: int = 0
    train_gpu_h: float = 0.0
    other_gpu_h: float = 0.0
    disk_bytes: int = 0
    sources: set[str] = field(default_factory=set)

    def add(self, other: Cost) -> None:
        self.jobs += other.jobs
        self.train_gpu_h += other.train_gpu_h
        self.other_gpu_h += other.other_gpu_h
        self.disk_bytes += other.disk_bytes
        self.sources |= other.sources


def needed(spec: Spec, target: str, all_stages: list[Stage]) -> list[Stage]:
    """The stage instances a target's table or figure needs, itself included (producers of its inputs,
    transitively)."""
    producer = {o.path: st for st in all_stages for o in st.outs}
    kinds = [st for st in all_stages if st.kind in ("table", "figure") and st.name == target]
    if not kinds:
        names = sorted({st.name for st in all_stages if st.kind in ("table", "figure")})
        raise SpecError(f"{spec.source}: preset {spec.preset!r} has no table or figure {target!r}; expected one of {names}")
    seen: dict[str, Stage] = {}
    todo = list(kinds)
    while todo:
        st = todo.pop()
        if st.id in seen:
            continue
        seen[st.id] = st
        for d in st.deps:
            p = producer.get(d)
            if p is not None:
                todo.append(p)
    return list(seen.values())


# ---------------------------------------------------------------- FLOPs of one training step
def _fake_step(build, step) -> tuple[float, int, int]:
    """(FLOPs of one training step per image, parameters trained, operators the step dispatches):
    `build()` returns (trained module, inputs); `step(*inputs)` runs the family's forward and backward
    passes on them. Counted by torch.utils.flop_counter on fake tensors: shapes only, no memory and no
    arithmetic, so a 351M-parameter U-Net costs nothing to count. The optimizer's elementwise update is
    left out (< 0.1 % of the FLOPs)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class Ops(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Ops.n += 1
            return func(*args, **(kwargs or {}))

    with FakeTensorMode():
        module, inputs = build()
        with FlopCounterMode(display=False) as fc, Ops():
            step(*inputs)
        n = sum(p.numel() for p in module.parameters())
    return fc.get_total_flops() / BATCH, n, Ops.n


def _train_step(spec: Spec, kind: str, name: str) -> tuple[float, int, int]:
    """(FLOPs per image of one training step, parameters) of a train / wtrain instance, through the same
    model and loss functions the families (mrgen.train.hvae, mrgen.train.wavelet) call."""
    import torch

    if kind == "train":
        from mrgen.models.hvae import VAE, HVAEConfig
        cfg = HVAEConfig.from_dict(spec.model_config(name))

        def build():
            x = torch.zeros(BATCH, cfg.image_channels, cfg.image_size, cfg.image_size)
            return (m := VAE(cfg)), (m, x)
        return _fake_step(build, lambda m, x: m(x, x)["elbo"].mean().backward())
    from mrgen.models.wavelet import losses, methods
    from mrgen.models.wavelet.gan import Discriminator
    m, part = wavelet_parts(spec)[name]
    wm = spec.p["wavelet_models"][m]
    ds, w = spec.p["datasets"][wm["dataset"]], spec.p["wavelet"]
    t = spec.p["wavelet_training"][wm["parts"][part]["training"]]
    cfg = methods.net_config(part, spec.p["wavelet_nets"][wm["parts"][part]["net"]], ds["image_size"],
                             ds["channels"], wm["levels"])
    def unit(c):                                  # the standardisation's shapes (its values change no FLOPs)
        return {str(j): {"mean": [0.0] * c, "std": [1.0] * c} for j in range(1, wm["levels"] + 1)}
    std = methods.Standardiser({"ll": unit(ds["channels"]), "hf": unit(3 * ds["channels"])})

    def build():
        x = torch.zeros(BATCH, ds["channels"], ds["image_size"], ds["image_size"])
        net = methods.build(cfg)
        return net, (net, Discriminator(cfg) if part == "gan" else None, x)

    def gan_step(gen, disc, x):                   # mrgen.train.wavelet.GAN.step, D on every d_every-th batch
        for j, ll, details in methods.gan_pairs(x, wm["levels"]):
            fake, target = losses.gan_images(gen, ll, details, j)
            losses.generator(disc, fake, target, t["losses"])[0].backward()
            if t["d_every"] == 1:
                losses.discriminator(disc, fake.detach(), target).backward()

    def score_step(net, _, x):                    # mrgen.train.wavelet.Score.step
        x0, cond = methods.training_pair(part, x, wm["levels"], None if part == "full" else std)
        losses.score(net, x0, w["horizon"], w["schedule"], cond).backward()
    if part != "gan" or t["d_every"] == 1:
        return _fake_step(build, gan_step if part == "gan" else score_step)
    # the discriminator's update on every d_every-th batch, averaged over the batches
    f_g, n, ops_g = _fake_step(build, gan_step)

    def disc_only(gen, disc, x):
        for j, ll, details in methods.gan_pairs(x, wm["levels"]):
            fake, target = losses.gan_images(gen, ll, details, j)
            losses.discriminator(disc, fake.detach(), target).backward()
    f_d, _, ops_d = _fake_step(build, disc_only)
    return f_g + f_d / t["d_every"], n, ops_g + ops_d // t["d_every"]


BATCH = 2                                         # images counted at once (BatchNorm trains on > 1)


CACHE = ROOT / "work" / "plan-step-flops.json"
"""Counted FLOPs and parameters by what decides them (a model's config, a wavelet part's net, image size,
levels and discriminator cadence): counting every paper model takes minutes, looking one up nothing."""


def _identity(spec: Spec, st: Stage) -> str:
    if st.kind == "train":
        return json.dumps(["hvae", spec.model_config(st.name)], sort_keys=True)
    m, part = wavelet_parts(spec)[st.name]
    wm = spec.p["wavelet_models"][m]
    ds = spec.p["datasets"][wm["dataset"]]
    t = spec.p["wavelet_training"][wm["parts"][part]["training"]]
    return json.dumps(["wavelet", part, spec.p["wavelet_nets"][wm["parts"][part]["net"]], ds["image_size"],
                       ds["channels"], wm["levels"], t.get("d_every"), t.get("losses"), spec.p["wavelet"]["schedule"]],
                      sort_keys=True)


def train_step(spec: Spec, st: Stage) -> tuple[float, int, int]:
    """(FLOPs per image of one training step, parameters, operators per step), counted once per
    configuration ever (CACHE)."""
    ident = _identity(spec, st)
    try:
        cache = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        cache = {}
    if len(cache.get(ident, ())) != 3:
        cache[ident] = list(_train_step(spec, st.kind, st.name))
        write_text(CACHE, json.dumps(cache, sort_keys=True) + "\n")
    flops, n, ops = cache[ident]
    return float(flops), int(n), int(ops)


def recipe(spec: Spec, st: Stage) -> tuple[str, dict]:
    if st.kind == "train":
        name = spec.run(st.name)["training"]
        return name, spec.p["training"][name]
    m, part = wavelet_parts(spec)[st.name]
    name = spec.p["wavelet_models"][m]["parts"][part]["training"]
    return name, spec.p["wavelet_training"][name]


def mode(t: dict) -> str:
    """The benchmark's name for a recipe's switches (benchmarks/train_step.py MODES)."""
    return f"{'compiled' if t['compile'] else 'eager'}-{t['precision']}"


def identity_key(spec: Spec, st: Stage) -> str:
    """A short name for what decides a training step's cost (the model's configuration)."""
    import hashlib
    return hashlib.sha256(_identity(spec, st).encode()).hexdigest()[:16]


def seconds_per_step(spec: Spec, st: Stage, gpu: str, measured: dict | None = None) -> tuple[float, str]:
    """(seconds per step for the recipe's per-GPU batch on one `gpu`, "measured" or "estimate"). A
    measurement at another batch size is scaled linearly to the recipe's."""
    _, t = recipe(spec, st)
    if measured is None:
        measured = json.loads(MEASURED.read_text()) if MEASURED.is_file() else {}
    row = measured.get(identity_key(spec, st), {}).get(gpu, {}).get(mode(t))
    if row:
        return float(row["s_per_step"]) * t["batch_size"] / int(row["batch"]), "measured"
    if gpu not in PEAK:
        raise SpecError(f"mrgen plan: no published peak for GPU type {gpu!r}; expected one of {sorted(PEAK)}")
    flops, _, ops = train_step(spec, st)
    compute = flops * t["batch_size"] / (PEAK[gpu][precision(t)] * ASSUMED_MFU)
    return max(compute, ops * OP_LATENCY_S * (0.25 if t["compile"] else 1.0)), "estimate"


def precision(t: dict) -> str:
    """Which peak a recipe's arithmetic runs at: bf16 autocast, TF32 tensor cores, or plain fp32."""
    return "bf16" if t["precision"] == "bf16" else "tf32" if t["tf32"] else "fp32"


def stage_cost(spec: Spec, st: Stage, res: Resources, gpu: str) -> Cost:
    c = Cost(jobs=0 if KINDS[st.kind].local else 1)
    if st.kind in ("train", "wtrain"):
        _, t = recipe(spec, st)
        s, source = seconds_per_step(spec, st, gpu)
        c.train_gpu_h = t["iters"] * s * max(res.gpus, 1) / 3600
        c.sources.add(source)
        n = train_step(spec, st)[1]
        c.disk_bytes = 4 * n * 2 + 4 * n * 3          # model + EMA weights; resumable state: weights + 2 moments
    elif res.gpus:
        c.other_gpu_h = res.runtime / 60 * res.gpus
        c.sources.add("bound")
    if st.kind == "wsample":
        m, _ = wavelet_settings(spec)[st.name]
        ds = spec.p["datasets"][spec.p["wavelet_models"][m]["dataset"]]
        c.disk_bytes = spec.p["wavelet"]["samples"] * ds["image_size"] ** 2 * ds["channels"]
    elif st.kind == "sample":
        ds = spec.p["datasets"][spec.run(st.name)["dataset"]]
        n = spec.p["evaluation"]["samples"]
        c.disk_bytes = n["n"] * len(n["temperatures"]) * ds["image_size"] ** 2 * ds["channels"]
    return c


def plan(spec: Spec, targets: list[str], site: Site, gpu: str) -> tuple[list[tuple[str, Cost]], Cost]:
    everything = stages(spec)
    targets = list(dict.fromkeys(targets or [st.name for st in everything if st.kind in ("table", "figure")]))
    costs: dict[str, Cost] = {}
    rows, total = [], Cost()
    for target in targets:
        cost = Cost()
        for st in needed(spec, target, everything):
            if st.id not in costs:
                res = merge(st.resources, site, spec.preset, st.kind, KINDS[st.kind].gpus is not None)
                costs[st.id] = stage_cost(spec, st, res, res.gpu_type or gpu)
                total.add(costs[st.id])
            cost.add(costs[st.id])
        rows.append((target, cost))
    return rows, total


def render(spec: Spec, rows: list[tuple[str, Cost]], total: Cost, gpu: str) -> str:
    def line(name, c):
        return (f"| {name} | {c.jobs} | {c.train_gpu_h:,.1f} | {c.other_gpu_h:,.1f} | {c.disk_bytes / 1e9:,.2f} | "
                f"{', '.join(sorted(c.sources)) or '-'} |")
    out = [f"Preset `{spec.preset}`, GPU type {gpu} (the site's gpu_type where it names one). Training GPU-hours = "
           f"iterations x seconds per step x GPUs; measured: benchmarks/step_times.json; estimate: the step's FLOPs "
           f"over the published peak for the recipe's precision (bf16 / TF32 / fp32) x {ASSUMED_MFU:.0%} MFU, and no "
           f"less than {OP_LATENCY_S * 1e6:.0f} us per operator launched (eager). Other GPU jobs: bounded by their "
           f"wall time.", "",
           "| target | jobs | training GPU-h | other GPU-h (bound) | disk GB | source |", "|---|---:|---:|---:|---:|---|"]
    out += [line(name, c) for name, c in rows]
    out.append(line("**total (shared work once)**", total))
    return "\n".join(out)
