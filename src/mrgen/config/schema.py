"""Typed models of params.yaml (pydantic): unknown keys forbidden, choices as literals, a range on every
number, names that are safe as path parts and shell words. Cross-references are checked in `mrgen.config.spec`.

Two forms of a model entry exist: `ModelEntry` as written (it may name a `base` and override a few keys)
and `Model`, the resolved network every stage reads (mrgen.models.hvae.HVAEConfig takes it).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, field_validator, model_validator

from mrgen.models.layers import parse_layers

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"             # never starts with "-": safe as a shell word and a path part
FILE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]*$"      # a raw file's name: no "/", no leading "." or "-"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=100)]
FileName = Annotated[str, StringConstraints(pattern=FILE_PATTERN, max_length=200)]
Pos = Annotated[int, Field(ge=1)]
NonNeg = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
PosFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]+$")]


class Strict(BaseModel):
    """Every section: unknown keys are errors; ints are never bools; no silent coercion of strings."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class RawFile(Strict):
    """One raw file (or folder) of data/<preset>/raw/<dataset>/ and where it comes from."""
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    md5: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = None
    urls: list[Annotated[str, StringConstraints(pattern=r"^(https?|file)://\S+$")]] | None = None
    package: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_./-]+$")] | None = None
    role: Literal["all", "train", "test", "partition"] = "all"


class Raw(Strict):
    obtain: str | None = None
    files: dict[FileName, RawFile]


class Split(Strict):
    method: Literal["permutation", "train_test_split", "official"]
    val: NonNeg = 0
    test: NonNeg | None = None
    seed: NonNeg | None = None


class Dataset(Strict):
    source: Literal["sklearn_digits", "sklearn_photos", "idx_gz", "cifar10_python", "imagenet_png_tar",
                    "imagenet_npz", "celeba", "image_folder"]
    raw: Raw
    image_size: Pos
    channels: Literal[1, 3]
    pad: NonNeg = 0
    source_size: list[Pos] | None = None           # [width, height] every raw image must have
    crop: list[NonNeg] | None = None               # PIL box (left, upper, right, lower) before resizing
    resize_filter: Literal["box", "bilinear", "bicubic", "lanczos", "box_halving_bicubic"] | None = None
    likelihood: Literal["bernoulli", "dmol"]
    binarize_seed: NonNeg | None = None            # bernoulli: seed of the fixed val/test binarisation
    input_shift: float | None = None               # null: from the training split's statistics
    input_scale: PosFloat | None = None
    split: Split


class Model(Strict):
    """An HVAE network (mrgen.models.hvae.HVAEConfig); the switches default to VDVAE."""
    width: Pos
    zdim: Pos
    enc_blocks: str
    dec_blocks: str
    bottleneck: Annotated[float, Field(gt=0.0, le=1.0)] = 0.25
    num_mixtures: Pos = 10
    normalize_state: bool = False
    single_resolution: bool = False
    fourier_features: NonNeg = 0
    residual: bool = True
    processing: Literal["async", "sync"] = "async"
    ws_latents: Literal["every", "first"] = "every"

    @field_validator("enc_blocks", "dec_blocks")
    @classmethod
    def _layers(cls, v: str, info):
        parse_layers(v, info.field_name[:3])
        return v


class ModelEntry(Strict):
    """A model as written: a full entry, or `base: <model>` plus the keys that differ from it."""
    base: Name | None = None
    width: Pos | None = None
    zdim: Pos | None = None
    enc_blocks: str | None = None
    dec_blocks: str | None = None
    bottleneck: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    num_mixtures: Pos | None = None
    normalize_state: bool | None = None
    single_resolution: bool | None = None
    fourier_features: NonNeg | None = None
    residual: bool | None = None
    processing: Literal["async", "sync"] | None = None
    ws_latents: Literal["every", "first"] | None = None


class Recipe(Strict):
    """How a training recipe runs, shared by both model families (mrgen.train.loop); each switch is a param, so
    it is in the stage's provenance record and a change retrains."""
    threads: Pos = 1                               # CPU threads per process
    gpus: Annotated[int, Field(ge=1, le=64)] = 1   # DDP processes (one per GPU)
    precision: Literal["fp32", "bf16"] = "fp32"    # bf16: autocast, weights and optimizer state stay fp32
    grad_checkpoint: bool = False                  # recompute each block in backward
    compile: bool = False                          # torch.compile, eager where it cannot compile
    channels_last: bool = False                    # NHWC weights and activations
    fused_adam: bool = False                       # fused AdamW kernel; skipped steps decided on the device
    tf32: bool = False                             # TF32 matmuls and convolutions on GPUs that have them
    prefetch: Annotated[int, Field(ge=0, le=64)] = 2   # batches prepared ahead by a thread (pinned on CUDA)
    skip_threshold: float = -1.0                   # skip the step when the pre-clip norm >= this; -1: never

    @field_validator("skip_threshold")
    @classmethod
    def _never_or_positive(cls, v: float) -> float:
        if v != -1.0 and v <= 0:
            raise ValueError("expected -1 (never skip) or a positive gradient norm")
        return v


class Training(Recipe):
    """VDVAE's optimisation recipe (hvae_reference.md §1.10)."""
    iters: Pos
    batch_size: Pos                                # per process
    lr: PosFloat
    wd: NonNegFloat
    warmup_iters: NonNeg
    grad_clip: PosFloat
    skip_threshold: float                          # -1: never skip (VDVAE)
    ema_rate: Rate
    ckpt_every: Pos
    log_every: Pos
    val_every: Pos


class Run(Strict):
    dataset: Name
    model: Name
    training: Name
    seed: NonNeg


class Asset(Strict):
    """A non-dataset input file (the FID Inception weights), fetched like raw data."""
    raw: Raw


class WaveletNet(Strict):
    """A wavelet-paper network: the score U-Net or WMGM's GAN (mrgen.models.wavelet)."""
    kind: Literal["score", "gan"]
    channels: Pos = 128
    channel_mult: list[Pos] = [1, 2, 2, 4, 4]
    res_blocks: Pos = 3
    attention: list[Pos] = [16, 8]
    heads: Pos = 4
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    width: Pos = 40
    levels: Pos = 5
    disc_blocks: Pos = 5


class GanLosses(Strict):
    adv: NonNegFloat
    mse: NonNegFloat
    ssim: NonNegFloat


class WaveletTraining(Recipe):
    iters: Pos
    batch_size: Pos                                # per process
    lr: PosFloat
    wd: NonNegFloat = 0.0
    warmup_iters: NonNeg = 0
    grad_clip: PosFloat
    ema_rate: Rate
    ckpt_every: Pos
    log_every: Pos
    lr_d: PosFloat | None = None                   # gan only
    d_every: Pos = 4                               # gan only
    losses: GanLosses | None = None                # gan only


class WaveletPart(Strict):
    """A network the model trains (`net` and `training`), or `shared: <model>`: that model's part of the
    same name, trained once and used by both (they must agree on dataset and levels)."""
    net: Name | None = None
    training: Name | None = None
    shared: Name | None = None

    @model_validator(mode="after")
    def _one_form(self):
        trains = self.net is not None and self.training is not None and self.shared is None
        uses = self.shared is not None and self.net is None and self.training is None
        if not (trains or uses):
            raise ValueError("expected either net and training, or shared (the wavelet model whose part to use)")
        return self


class WaveletModel(Strict):
    method: Literal["sgm", "wsgm", "wmgm"]
    dataset: Name
    levels: Annotated[int, Field(ge=0, le=8)] = 0
    seed: NonNeg
    parts: dict[Name, WaveletPart]


class Fid(Strict):
    weights: Name                                  # an asset
    weights_file: FileName
    weights_format: Literal["nvidia", "fid_helper"]
    weights_label: str
    reference_split: Literal["train", "val", "test"]
    reference_n: Pos | None = None
    batch_size: Pos


class Analysis(Strict):
    levels: Annotated[int, Field(ge=1, le=8)]
    kl_max_dim: Pos
    kl_direction: Literal["n0_n1", "n1_n0"]
    bins: Pos
    span: PosFloat


class Theorem2(Strict):
    dataset: Name
    n_real: Pos
    n_random: Pos
    random_size: Pos
    levels: Annotated[int, Field(ge=1, le=8)]
    seed: NonNeg


class Wavelet(Strict):
    horizon: PosFloat
    schedule: Literal["uniform", "quadratic"]
    steps: list[Pos]                               # reverse-diffusion steps per diffusion model (W4's x axis)
    w1_steps: Pos                                  # the steps W1 reports
    samples: Pos
    sample_batch: Pos
    seed: NonNeg
    fid: Fid
    analysis: Analysis
    th2: Theorem2


class Figure(Strict):
    width: PosFloat
    height: PosFloat
    dpi: Annotated[int, Field(ge=10, le=1200)]


class Panel(Strict):
    label: str
    variants: dict[Name, Name]                     # variant -> run, wavelet model or dataset (by kind)
    paper_variants: dict[Name, Name] = {}          # our variant -> the paper preset's / published variant


TABLE_KINDS = ("f4", "t1", "t2", "t3", "g4", "th2", "w1", "w4", "w5", "w6")
FIGURE_KINDS = ("f4", "f5", "f6", "th2", "w4", "w5", "w6")
ExperimentKind = Literal["f4", "t1", "t2", "t3", "g4", "th2", "w1", "w4", "w5", "w6", "f5", "f6"]


class Experiment(Strict):
    kind: ExperimentKind
    caption: str
    metric: Literal["val", "test"] = "test"
    panels: dict[Name, Panel]
    figure: Figure | None = None                   # figure kinds only


class StatesEval(Strict):
    batches: Pos
    batch_size: Pos


class SamplesEval(Strict):
    n: Pos
    temperatures: list[Annotated[float, Field(gt=0.0, le=2.0)]]


class Evaluation(Strict):
    batch_size: Pos
    seed: NonNeg
    iw_samples: NonNeg = 0                         # importance samples K of the IW bound; 0 = off
    iw_images: Pos | None = None                   # IW bound on the first N test images only (null = all)
    states: StatesEval                             # Fig 5: N batches x B test images
    samples: SamplesEval                           # Fig 6


SLURM_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"          # partition, account, QOS, GPU type: one word
SlurmName = Annotated[str, StringConstraints(pattern=SLURM_NAME, max_length=100)]
# a node feature expression: features joined by & | , with optional [..] groups and *count (sbatch -C)
Constraint = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\[\]()&|,*:-]+$", max_length=200)]


class Resources(Strict):
    """What one job of a stage kind asks a scheduler for (Snakemake resources; sbatch through the Slurm
    profile). The defaults fit an ordinary GPU node; a site changes any key in workflow/site.yaml."""
    cpus: Annotated[int, Field(ge=1, le=256)] = 1
    mem_mb: Annotated[int, Field(ge=100)] = 2000
    runtime: Annotated[int, Field(ge=1)] = 30      # minutes (sbatch -t)
    gpus: Annotated[int, Field(ge=0, le=64)] = 0   # train, wtrain: ignored, they ask for their recipe's gpus
    nodes: Literal[1] = 1                          # one node: torchrun's workers share it (no multi-node DDP)
    partition: SlurmName | None = None             # None: the cluster's default partition
    account: SlurmName | None = None
    qos: SlurmName | None = None
    constraint: Constraint | None = None           # sbatch -C, e.g. "a100|h100"
    gpu_type: SlurmName | None = None              # the gres type: --gpus=<type>:<n>


SiteResources = create_model(                       # a site's override of some keys of Resources: the rest stay
    "SiteResources", __base__=Strict, __doc__="Keys of `Resources` a site overrides (workflow/site.yaml).",
    **{n: ((Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation) | None, None)
       for n, f in Resources.model_fields.items() if n != "nodes"})


class SiteLevel(Strict):
    """Site overrides at one level: `default` for every stage kind, `kinds.<kind>` for one (its keys win)."""
    default: SiteResources = SiteResources()
    kinds: dict[Name, SiteResources] = {}


class Site(SiteLevel):
    """workflow/site.yaml: a cluster's settings merged key by key over params.yaml's resources;
    `presets.<p>` holds overrides for one preset only, applied last."""
    presets: dict[Name, SiteLevel] = {}


class Preset(Strict):
    datasets: dict[Name, Dataset]
    models: dict[Name, ModelEntry]
    training: dict[Name, Training]
    runs: dict[Name, Run]
    evaluation: Evaluation
    assets: dict[Name, Asset] = {}
    wavelet: Wavelet | None = None
    wavelet_nets: dict[Name, WaveletNet] = {}
    wavelet_training: dict[Name, WaveletTraining] = {}
    wavelet_models: dict[Name, WaveletModel] = {}
    experiments: dict[Name, Experiment]
    resources: dict[Name, Resources] = {}          # per stage kind; absent kinds use Resources()


METRIC_KINDS = ("nll", "fid", "ms_per_image", "params", "states", "wavelet_stats", "theorem2")
MetricKind = Literal[METRIC_KINDS]


class Tolerance(Strict):
    """Two numbers agree when |a − b| ≤ abs + rel × |b| (b: the committed or the paper's number)."""
    abs: NonNegFloat = 0.0
    rel: NonNegFloat = 0.0

    def holds(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.abs + self.rel * abs(b)


class Tolerances(Strict):
    """Per metric kind: `rerun` for `mrgen verify` (a rerun against the committed number), `paper` for the
    report page (our number against the paper's printed one, where both measure the same thing)."""
    rerun: dict[MetricKind, Tolerance]
    paper: dict[MetricKind, Tolerance]

    @model_validator(mode="after")
    def _complete(self):
        for side in ("rerun", "paper"):
            missing = [k for k in METRIC_KINDS if k not in getattr(self, side)]
            if missing:
                raise ValueError(f"{side}: expected a tolerance for every metric kind, missing {missing}")
        return self


class Params(Strict):
    """params.yaml as a whole."""
    preset: Name                                   # the default preset of commands that name none
    published: dict[Name, dict]                    # the papers' printed numbers, free-form per experiment
    tolerances: Tolerances
    presets: dict[Name, Preset]
