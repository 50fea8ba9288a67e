"""params.yaml, the one spec: load, validate, resolve the preset, enumerate the DAG's stage instances.

Both engines build their DAG from `Spec.stages()`: dvc.yaml is generated from it (`stages.preset`),
and the Snakefile's rules look instances up in it. Every path of the pipeline is defined here.
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SAFE_NAME = re.compile(r"^[a-z0-9_-]+$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


class SpecError(ValueError):
    """params.yaml is malformed; the message names the key and the expected form."""


# ---------------------------------------------------------------- schema
@dataclass
class F:
    """A leaf: a Python type, required unless a default is given, optional choices / reference."""
    type: type | tuple
    default: object = ...
    choices: tuple | None = None
    ref: str | None = None          # name of a preset section this value must name
    of: type | None = None          # element type of a list


@dataclass
class Rec:
    """A mapping with fixed keys; an optional one may be left out (None)."""
    fields: dict
    optional: bool = False


@dataclass
class Map:
    """A mapping from safe names (or another key pattern) to entries of one schema; optional: absent = {}."""
    of: object
    key: re.Pattern = SAFE_NAME
    optional: bool = False


TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "a mapping",
              list: "a list"}


def _expect(t) -> str:
    return " or ".join(TYPE_NAMES[x] for x in (t if isinstance(t, tuple) else (t,)))


def _check(value, schema, path: str, refs: list):
    if isinstance(schema, F):
        if value is None and schema.default is None:          # an optional key left unset
            return value
        ok = isinstance(value, schema.type) and not (isinstance(value, bool) and schema.type in (int, float, (int, float)))
        if not ok:
            raise SpecError(f"{path}: expected {_expect(schema.type)}, found {type(value).__name__} {value!r}")
        if schema.of and not all(isinstance(v, schema.of) and not isinstance(v, bool) for v in value):
            raise SpecError(f"{path}: expected a list of {schema.of.__name__} values, found {value!r}")
        if schema.choices and value not in schema.choices:
            raise SpecError(f"{path}: expected one of {list(schema.choices)}, found {value!r}")
        if schema.ref:
            refs.append((path, schema.ref, value))
        return value
    if value is None and isinstance(schema, Rec) and schema.optional:
        return None
    if not isinstance(value, dict):
        raise SpecError(f"{path}: expected a mapping, found {type(value).__name__} {value!r}")
    if isinstance(schema, Map):
        out = {}
        for name, v in value.items():
            if not isinstance(name, str) or not schema.key.match(name):
                raise SpecError(f"{path}.{name}: unsafe name; names must match {schema.key.pattern[1:-1]}")
            out[name] = _check(v, schema.of, f"{path}.{name}", refs)
        return out
    unknown = sorted(set(value) - set(schema.fields))
    if unknown:
        raise SpecError(f"{path}.{unknown[0]}: unknown key; expected one of {sorted(schema.fields)}")
    out = {}
    for key, sub in schema.fields.items():
        if key in value:
            out[key] = _check(value[key], sub, f"{path}.{key}", refs)
        elif isinstance(sub, F) and sub.default is not ...:
            out[key] = sub.default
        elif isinstance(sub, Rec) and sub.optional:
            out[key] = None
        elif isinstance(sub, Map) and sub.optional:
            out[key] = {}
        else:
            raise SpecError(f"{path}.{key}: missing required key ({_expect(sub.type) if isinstance(sub, F) else 'a mapping'})")
    return out


NUM = (int, float)
SOURCES = ("sklearn_digits", "sklearn_photos", "idx_gz", "cifar10_python", "imagenet_png_tar", "imagenet_npz",
           "celeba", "image_folder")
RAW_FILE = Rec({                                # one raw file (or folder) in data/raw/<dataset>/
    "sha256": F(str, None), "md5": F(str, None),  # declared checksums; null = none published
    "urls": F(list, None, of=str),              # public downloads, tried in order
    "package": F(str, None),                    # "distribution:path/inside" of an installed, pinned package
    "role": F(str, "all", choices=("all", "train", "test", "partition")),
})
DATASET = Rec({
    "source": F(str, choices=SOURCES),
    "raw": Rec({"obtain": F(str, None), "files": Map(RAW_FILE, key=FILE_NAME)}),
    "image_size": F(int), "channels": F(int), "pad": F(int, 0),
    "source_size": F(list, None, of=int),       # [width, height] every raw image must have
    "crop": F(list, None, of=int),              # PIL box (left, upper, right, lower) before resizing
    "resize_filter": F(str, None, choices=("box", "bilinear", "bicubic", "lanczos", "box_halving_bicubic")),
    "likelihood": F(str, choices=("bernoulli", "dmol")),
    "binarize_seed": F(int, None),              # bernoulli: seed of the fixed val/test binarisation
    "input_shift": F(NUM, None), "input_scale": F(NUM, None),   # null: from the training split's statistics
    "split": Rec({"method": F(str, choices=("permutation", "train_test_split", "official")),
                  "val": F(int, 0), "test": F(int, None), "seed": F(int, None)}),
})
MODEL = Rec({                                   # mrgen.models.hvae.HVAEConfig; switches default to VDVAE
    "width": F(int), "zdim": F(int), "enc_blocks": F(str), "dec_blocks": F(str),
    "bottleneck": F(NUM, 0.25), "num_mixtures": F(int, 10),
    "normalize_state": F(bool, False), "single_resolution": F(bool, False), "fourier_features": F(int, 0),
    "residual": F(bool, True), "processing": F(str, "async", choices=("async", "sync")),
    "ws_latents": F(str, "every", choices=("every", "first")),
})
TRAINING = Rec({
    "iters": F(int), "batch_size": F(int), "lr": F(NUM), "wd": F(NUM), "warmup_iters": F(int),
    "grad_clip": F(NUM), "skip_threshold": F(NUM), "ema_rate": F(NUM),
    "ckpt_every": F(int), "log_every": F(int), "val_every": F(int), "threads": F(int, 1),
    "gpus": F(int, 1),                          # DDP processes (one per GPU); batch_size is per process
    "precision": F(str, "fp32", choices=("fp32", "bf16")),
    "grad_checkpoint": F(bool, False),
})
RUN = Rec({"dataset": F(str, ref="datasets"), "model": F(str, ref="models"),
           "training": F(str, ref="training"), "seed": F(int)})
ASSET = Rec({"raw": Rec({"obtain": F(str, None), "files": Map(RAW_FILE, key=FILE_NAME)})})   # e.g. FID weights
WNET = Rec({                                    # a wavelet-paper network (models/wavelet): score U-Net or GAN
    "kind": F(str, choices=("score", "gan")),
    "channels": F(int, 128), "channel_mult": F(list, [1, 2, 2, 4, 4], of=int), "res_blocks": F(int, 3),
    "attention": F(list, [16, 8], of=int), "heads": F(int, 4), "dropout": F(NUM, 0.0),      # score
    "width": F(int, 40), "levels": F(int, 5), "disc_blocks": F(int, 5),                     # gan
})
WTRAINING = Rec({
    "iters": F(int), "batch_size": F(int), "lr": F(NUM), "wd": F(NUM, 0.0), "warmup_iters": F(int, 0),
    "grad_clip": F(NUM), "ema_rate": F(NUM), "ckpt_every": F(int), "log_every": F(int), "threads": F(int, 1),
    "lr_d": F(NUM, None), "d_every": F(int, 4),                                            # gan only
    "losses": Rec({"adv": F(NUM), "mse": F(NUM), "ssim": F(NUM)}, optional=True),          # gan only
})
WMODEL = Rec({
    "method": F(str, choices=("sgm", "wsgm", "wmgm")), "dataset": F(str, ref="datasets"),
    "levels": F(int, 0), "seed": F(int),
    "parts": Map(Rec({"net": F(str, ref="wavelet_nets"), "training": F(str, ref="wavelet_training")})),
})
WAVELET = Rec({
    "horizon": F(NUM), "schedule": F(str, choices=("uniform", "quadratic")),
    "steps": F(list, of=int),                   # sampling steps per diffusion model (W4's x axis)
    "w1_steps": F(int),                         # the steps W1 reports
    "samples": F(int), "sample_batch": F(int), "seed": F(int),
    "fid": Rec({"weights": F(str, ref="assets"), "weights_file": F(str),
                "weights_format": F(str, choices=("nvidia", "fid_helper")), "weights_label": F(str),
                "reference_split": F(str, choices=("train", "val", "test")), "reference_n": F(int, None),
                "batch_size": F(int)}),
    "analysis": Rec({"levels": F(int), "kl_max_dim": F(int), "kl_direction": F(str, choices=("n0_n1", "n1_n0")),
                     "bins": F(int), "span": F(NUM)}),
    "th2": Rec({"dataset": F(str, ref="datasets"), "n_real": F(int), "n_random": F(int), "random_size": F(int),
                "levels": F(int), "seed": F(int)}),
})
TABLE_KINDS = ("f4", "t1", "t2", "t3", "g4", "th2", "w1", "w4", "w5", "w6")   # rendered as results/tables/<id>.*
FIGURE_KINDS = ("f4", "f5", "f6", "th2", "w4", "w5", "w6")                     # ... and as results/figures/<id>.*
VARIANT_SECTION = {"w1": "wavelet_models", "w4": "wavelet_models", "w5": "datasets", "w6": "datasets",
                   "th2": "datasets"}       # what a panel's variants name; every other kind names runs
EXPERIMENT = Rec({
    "kind": F(str, choices=tuple(dict.fromkeys(TABLE_KINDS + FIGURE_KINDS))),
    "caption": F(str),
    "metric": F(str, "test", choices=("val", "test")),
    "panels": Map(Rec({"label": F(str), "variants": Map(F(str))})),
    "figure": Rec({"width": F(NUM), "height": F(NUM), "dpi": F(int)}, optional=True),   # figure kinds only
})
EVALUATION = Rec({
    "batch_size": F(int), "seed": F(int),
    "iw_samples": F(int, 0),                    # importance samples K of the IW bound (Bernoulli datasets); 0 = off
    "iw_images": F(int, None),                  # IW bound on the first N test images only (null = all)
    "states": Rec({"batches": F(int), "batch_size": F(int)}),     # Fig 5: N batches x B test images
    "samples": Rec({"n": F(int), "temperatures": F(list, of=float)}),   # Fig 6
})
PRESET = Rec({
    "datasets": Map(DATASET), "models": Map(MODEL), "training": Map(TRAINING), "runs": Map(RUN),
    "evaluation": EVALUATION,
    "assets": Map(ASSET, optional=True), "wavelet": Rec(WAVELET.fields, optional=True),
    "wavelet_nets": Map(WNET, optional=True), "wavelet_training": Map(WTRAINING, optional=True),
    "wavelet_models": Map(WMODEL, optional=True),
    "experiments": Map(EXPERIMENT),
})
TOP = Rec({"preset": F(str), "published": Map(F(dict)), "presets": Map(PRESET)})


# ---------------------------------------------------------------- stage instances
@dataclass
class Out:
    path: str
    cache: bool = True                  # False: small result committed to git
    kind: str = "out"                   # out | metric | plot
    directory: bool = False


@dataclass
class Stage:
    """One node of the DAG: the same command, inputs, outputs and params keys for both engines."""
    kind: str
    name: str
    cmd: str
    deps: list[str]
    outs: list[Out]
    params: list[str] = field(default_factory=list)
    record: str = ""                    # where the provenance record goes (an output, or inside one)

    @property
    def id(self) -> str:
        return f"{self.kind}@{self.name}"


def code(*patterns: str) -> list[str]:
    """The source files a stage's numbers depend on (files, so mtime-based engines see edits)."""
    files = set()
    for p in patterns:
        files |= {str(Path(f).relative_to(ROOT)) for f in glob.glob(str(ROOT / p), recursive=True)}
    return sorted(f for f in files if f.endswith(".py"))


CODE = {
    "fetch": ("stages/fetch.py", "src/mrgen/data/fetch.py"),
    "prepare": ("stages/prepare.py", "src/mrgen/data/**/*.py"),
    "train": ("stages/train.py", "src/mrgen/models/hvae.py", "src/mrgen/train/**/*.py", "src/mrgen/data/**/*.py",
              "src/mrgen/metrics/nll.py"),
    "evaluate": ("stages/evaluate.py", "src/mrgen/models/hvae.py", "src/mrgen/metrics/nll.py",
                 "src/mrgen/data/**/*.py"),
    "states": ("stages/states.py", "src/mrgen/models/hvae.py", "src/mrgen/metrics/states.py", "src/mrgen/data/**/*.py"),
    "sample": ("stages/sample.py", "src/mrgen/models/hvae.py"),
    "describe": ("stages/describe.py", "src/mrgen/models/hvae.py", "src/mrgen/models/wavelet/*.py"),
    "wstats": ("stages/wstats.py", "src/mrgen/analysis/wavelet_stats.py", "src/mrgen/models/wavelet/haar.py",
               "src/mrgen/data/prepared.py"),
    "th2": ("stages/th2.py", "src/mrgen/analysis/theorem2.py", "src/mrgen/models/wavelet/haar.py",
            "src/mrgen/data/prepared.py"),
    "wtrain": ("stages/wtrain.py", "src/mrgen/models/wavelet/*.py", "src/mrgen/train/loop.py", "src/mrgen/data/**/*.py"),
    "wsample": ("stages/wsample.py", "src/mrgen/models/wavelet/*.py"),
    "fidref": ("stages/fidref.py", "src/mrgen/metrics/fid.py", "src/mrgen/data/prepared.py"),
    "fid": ("stages/fid.py", "src/mrgen/metrics/fid.py"),
    "table": ("stages/table.py", "src/mrgen/report/tables.py", "src/mrgen/report/collect.py",
              "src/mrgen/report/wavelet.py"),
    "figure": ("stages/figure.py", "src/mrgen/report/figures.py", "src/mrgen/report/collect.py",
               "src/mrgen/report/wavelet.py"),
}


class Spec:
    """A validated params.yaml with one preset selected."""

    def __init__(self, raw: dict, preset: str | None = None, source: str = "params.yaml"):
        self.source = source
        refs: list = []
        try:
            self.raw = _check(raw, TOP, "params", refs)
        except SpecError as e:
            raise SpecError(f"{source}: {e}") from None
        self.preset = preset or self.raw["preset"]
        if self.preset not in self.raw["presets"]:
            raise SpecError(f"{source}: params.preset: expected one of {sorted(self.raw['presets'])}, "
                            f"found {self.preset!r}")
        for path, section, name in refs:
            preset_name = path.split(".")[2]
            if name not in self.raw["presets"][preset_name][section]:
                raise SpecError(f"{source}: {path}: names {section[:-1] if section != 'training' else section} "
                                f"{name!r}, which params.presets.{preset_name}.{section} does not define")
        for p, pre in self.raw["presets"].items():
            self._check_wavelet(p, pre)
            for e, ex in pre["experiments"].items():
                section = VARIANT_SECTION.get(ex["kind"], "runs")
                for panel, pdef in ex["panels"].items():
                    for v, name in pdef["variants"].items():
                        if name not in pre[section]:
                            what = {"runs": "run", "datasets": "dataset", "wavelet_models": "wavelet model"}[section]
                            raise SpecError(f"{source}: params.presets.{p}.experiments.{e}.panels.{panel}.variants.{v}: "
                                            f"names {what} {name!r}, which params.presets.{p}.{section} does not define")
                if ex["kind"] in VARIANT_SECTION and pre["wavelet"] is None:
                    raise SpecError(f"{source}: params.presets.{p}.wavelet: missing; experiment {e} ({ex['kind']}) needs it")
                if ex["kind"] in FIGURE_KINDS and ex["figure"] is None:
                    raise SpecError(f"{source}: params.presets.{p}.experiments.{e}.figure: missing; a {ex['kind']} "
                                    f"experiment is drawn and needs {{width, height, dpi}}")
            for m, model in pre["models"].items():
                from mrgen.models.hvae import parse_layers  # local: keeps spec importable without torch
                for kind in ("enc", "dec"):
                    try:
                        parse_layers(model[f"{kind}_blocks"], kind)
                    except ValueError as e:
                        raise SpecError(f"{source}: params.presets.{p}.models.{m}.{kind}_blocks: {e}") from None

    def _check_wavelet(self, p: str, pre: dict) -> None:
        """Each wavelet model has exactly its method's parts, with networks of the right kind."""
        from mrgen.models.wavelet.methods import parts  # local: keeps spec importable without torch
        where = f"{self.source}: params.presets.{p}.wavelet_models"
        clash = sorted(set(pre["assets"]) & set(pre["datasets"]))
        if clash:
            raise SpecError(f"{self.source}: params.presets.{p}.assets.{clash[0]}: also a dataset name; both live in data/raw/")
        if pre["wavelet_models"] and pre["wavelet"] is None:
            raise SpecError(f"{self.source}: params.presets.{p}.wavelet: missing; wavelet_models need it")
        for m, wm in pre["wavelet_models"].items():
            if (wm["method"] == "sgm") != (wm["levels"] == 0):
                raise SpecError(f"{where}.{m}.levels: expected 0 for sgm and >= 1 for wsgm / wmgm, found {wm['levels']}")
            want = parts(wm["method"], wm["levels"])
            if sorted(wm["parts"]) != sorted(want):
                raise SpecError(f"{where}.{m}.parts: a {wm['method']} model with {wm['levels']} levels needs parts "
                                f"{want}, found {sorted(wm['parts'])}")
            size = pre["datasets"][wm["dataset"]]["image_size"]
            if size % 2 ** max(wm["levels"], 1):
                raise SpecError(f"{where}.{m}.levels: image_size {size} is not divisible by 2^{wm['levels']}")
            for part, pd in wm["parts"].items():
                kind = pre["wavelet_nets"][pd["net"]]["kind"]
                if (part == "gan") != (kind == "gan"):
                    raise SpecError(f"{where}.{m}.parts.{part}.net: names a {kind} network; part {part} needs a "
                                    f"{'gan' if part == 'gan' else 'score'} network")
                tr = pre["wavelet_training"][pd["training"]]
                if part == "gan" and (tr["lr_d"] is None or tr["losses"] is None):
                    raise SpecError(f"{where}.{m}.parts.gan.training: {pd['training']!r} needs lr_d and losses")

    # -- sections of the selected preset
    @property
    def p(self) -> dict:
        return self.raw["presets"][self.preset]

    def key(self, *parts) -> str:
        return ".".join(("presets", self.preset) + parts)

    def run(self, name: str) -> dict:
        if name not in self.p["runs"]:
            raise SpecError(f"{self.source}: no run {name!r} in {self.key('runs')}; "
                            f"expected one of {sorted(self.p['runs'])}")
        return self.p["runs"][name]

    def model_config(self, run: str) -> dict:
        """A run's network: its model entry plus the image geometry and likelihood of its dataset."""
        r = self.run(run)
        ds = self.p["datasets"][r["dataset"]]
        return {**self.p["models"][r["model"]], "image_size": ds["image_size"], "image_channels": ds["channels"],
                "likelihood": ds["likelihood"], "crop": ds["pad"]}

    def lookup(self, dotted: str):
        node = self.raw
        for part in dotted.split("."):
            node = node[part]
        return node

    # -- paths (the one convention)
    @staticmethod
    def raw_dir(dataset: str) -> str:
        return f"data/raw/{dataset}"

    @staticmethod
    def prepared(dataset: str) -> str:
        return f"data/prepared/{dataset}"

    @staticmethod
    def model_dir(run: str) -> str:
        return f"models/{run}"

    @staticmethod
    def work_dir(run: str) -> str:
        return f"work/{run}"

    @staticmethod
    def metrics_dir(run: str) -> str:
        return f"results/metrics/{run}"

    @staticmethod
    def samples_file(run: str) -> str:
        return f"results/samples/{run}.npz"

    @staticmethod
    def describe_csv(preset: str) -> str:
        return f"results/metrics/describe/{preset}.csv"

    @staticmethod
    def wstats_file(dataset: str) -> str:
        return f"results/analysis/wavelet/{dataset}.json"

    @staticmethod
    def fidref_file(dataset: str) -> str:
        return f"results/metrics/fidref/{dataset}.npz"

    # -- wavelet instances: a part is "<model>-<part>", a sampling setting "<model>-n<steps>"
    def wavelet_parts(self) -> dict:
        return {f"{m}-{part}": (m, part) for m, wm in self.p["wavelet_models"].items() for part in wm["parts"]}

    def wavelet_settings(self) -> dict:
        steps = self.p["wavelet"]["steps"] if self.p["wavelet"] else []
        return {f"{m}-n{n}": (m, n) for m in self.p["wavelet_models"] for n in steps}

    def wstats_datasets(self) -> list[str]:
        """Datasets whose wavelet statistics some model (standardisation) or W5 / W6 needs."""
        used = {wm["dataset"] for wm in self.p["wavelet_models"].values() if wm["method"] != "sgm"}
        used |= {d for e, ex in self.p["experiments"].items() if ex["kind"] in ("w5", "w6")
                 for d in self.experiment_runs(e)}
        return sorted(used)

    def experiment_runs(self, exp: str) -> list[str]:
        panels = self.p["experiments"][exp]["panels"]
        return sorted({r for panel in panels.values() for r in panel["variants"].values()})

    def runs_of_kind(self, kind: str) -> list[str]:
        """Runs some experiment of this kind needs (Fig 5 state traces, Fig 6 samples)."""
        return sorted({r for e, ex in self.p["experiments"].items() if ex["kind"] == kind
                       for r in self.experiment_runs(e)})

    def experiment_inputs(self, exp: str) -> list[str]:
        """The files an experiment's table / figure reads: metrics, state traces or samples."""
        kind = self.p["experiments"][exp]["kind"]
        runs = self.experiment_runs(exp)
        if kind == "f5":
            return [f"{self.metrics_dir(r)}/states.json" for r in runs]
        if kind == "f6":
            return [self.samples_file(r) for r in runs]
        if kind in ("w5", "w6"):
            return [self.wstats_file(d) for d in runs]
        if kind == "th2":
            return [f"results/analysis/{exp}.json"]
        if kind in ("w1", "w4"):
            w = self.p["wavelet"]
            steps = [w["w1_steps"]] if kind == "w1" else w["steps"]
            return [f"{self.metrics_dir(f'{m}-n{n}')}/{f}" for m in runs for n in steps for f in ("fid.json", "timing.json")]
        return [f"{self.metrics_dir(r)}/nll.json" for r in runs]

    # -- the DAG: one builder per stage kind; called with names for an instance, or with
    #    placeholders ("${key}", "{name}") for a DVC foreach template or a Snakemake rule pattern.
    def cmd(self, kind: str, name: str) -> str:
        return f"python -m stages.{kind} --preset {self.preset} {name}"

    def fetch_stage(self, d: str) -> Stage:
        """Raw files -> data/raw/<d>/ (DVC-tracked); the record, with every file's sha256, goes to git."""
        rd = self.raw_dir(d)
        return Stage("fetch", d, self.cmd("fetch", d), code(*CODE["fetch"]),
                     [Out(rd, directory=True), Out(f"{rd}.provenance.json", cache=False)],
                     [self.key("datasets", d, "raw")], record=f"{rd}.provenance.json")

    def prepare_stage(self, d: str) -> Stage:
        pd = self.prepared(d)
        return Stage("prepare", d, self.cmd("prepare", d), code(*CODE["prepare"]) + [self.raw_dir(d)],
                     [Out(pd, directory=True)], [self.key("datasets", d)], record=f"{pd}/provenance.json")

    def train_stage(self, r: str, dataset: str, model: str, training: str) -> Stage:
        md = self.model_dir(r)
        return Stage("train", r, self.cmd("train", r), code(*CODE["train"]) + [self.prepared(dataset)],
                     [Out(f"{md}/model.pt"), Out(f"{md}/ema.pt"), Out(f"{md}/curve.csv", cache=False, kind="plot"),
                      Out(f"{md}/provenance.json", cache=False)],
                     [self.key("runs", r), self.key("models", model), self.key("training", training),
                      self.key("datasets", dataset)], record=f"{md}/provenance.json")

    def evaluate_stage(self, r: str, dataset: str) -> Stage:
        mt = self.metrics_dir(r)
        return Stage("evaluate", r, self.cmd("evaluate", r),
                     code(*CODE["evaluate"]) + [self.prepared(dataset), f"{self.model_dir(r)}/ema.pt"],
                     [Out(f"{mt}/nll.json", cache=False, kind="metric"), Out(f"{mt}/provenance.json", cache=False)],
                     [self.key("runs", r)] + [self.key("evaluation", k) for k in ("batch_size", "seed", "iw_samples", "iw_images")],
                     record=f"{mt}/provenance.json")

    def states_stage(self, r: str, dataset: str) -> Stage:
        """Fig 5's measurements of a trained run: state norms per block and the backward error."""
        mt = self.metrics_dir(r)
        return Stage("states", r, self.cmd("states", r),
                     code(*CODE["states"]) + [self.prepared(dataset), f"{self.model_dir(r)}/ema.pt"],
                     [Out(f"{mt}/states.json", cache=False), Out(f"{mt}/states.provenance.json", cache=False)],
                     [self.key("runs", r), self.key("evaluation", "states"), self.key("evaluation", "seed")],
                     record=f"{mt}/states.provenance.json")

    def sample_stage(self, r: str) -> Stage:
        """Fig 6's unconditional samples of a trained run at the temperatures in params."""
        f = self.samples_file(r)
        rec = f.replace(".npz", ".provenance.json")
        return Stage("sample", r, self.cmd("sample", r), code(*CODE["sample"]) + [f"{self.model_dir(r)}/ema.pt"],
                     [Out(f, cache=False), Out(rec, cache=False)],
                     [self.key("runs", r), self.key("evaluation", "samples"), self.key("evaluation", "seed")],
                     record=rec)

    def asset_fetch_stage(self, a: str) -> Stage:
        """A non-dataset input file (the FID Inception weights) -> data/raw/<a>/, fetched like raw data."""
        st = self.fetch_stage(a)
        st.params = [self.key("assets", a, "raw")]
        return st

    def wstats_stage(self, d: str) -> Stage:
        """W5 / W6 statistics and the per-scale standardisation of a dataset's training split."""
        f = self.wstats_file(d)
        rec = f.replace(".json", ".provenance.json")
        return Stage("wstats", d, self.cmd("wstats", d), code(*CODE["wstats"]) + [self.prepared(d)],
                     [Out(f, cache=False), Out(rec, cache=False)],
                     [self.key("wavelet", "analysis")], record=rec)

    def th2_stage(self, e: str) -> Stage:
        f = f"results/analysis/{e}.json"
        rec = f.replace(".json", ".provenance.json")
        return Stage("th2", e, self.cmd("th2", e), code(*CODE["th2"]) + [self.prepared(self.p["wavelet"]["th2"]["dataset"])],
                     [Out(f, cache=False), Out(rec, cache=False)], [self.key("wavelet", "th2")], record=rec)

    def wtrain_stage(self, name: str) -> Stage:
        m, part = self.wavelet_parts()[name]
        wm = self.p["wavelet_models"][m]
        pd = wm["parts"][part]
        deps = code(*CODE["wtrain"]) + [self.prepared(wm["dataset"])]
        if part not in ("full", "gan"):
            deps.append(self.wstats_file(wm["dataset"]))
        outs = self.wavelet_outs("wtrain", name)
        return Stage("wtrain", name, self.cmd("wtrain", name), deps, outs,
                     [self.key("wavelet_models", m), self.key("wavelet_nets", pd["net"]),
                      self.key("wavelet_training", pd["training"]), self.key("wavelet", "horizon"),
                      self.key("wavelet", "schedule"), self.key("datasets", wm["dataset"])],
                     record=outs[-1].path)

    @classmethod
    def wavelet_outs(cls, kind: str, name: str) -> list[Out]:
        """Outputs of a wtrain / wsample / fid instance (name may be a pattern like '{name}'); record last."""
        if kind == "wtrain":
            md = cls.model_dir(name)
            return [Out(f"{md}/model.pt"), Out(f"{md}/ema.pt"), Out(f"{md}/curve.csv", cache=False, kind="plot"),
                    Out(f"{md}/provenance.json", cache=False)]
        mt = cls.metrics_dir(name)
        if kind == "wsample":
            return [Out(f"results/samples/{name}", directory=True), Out(f"{mt}/timing.json", cache=False, kind="metric"),
                    Out(f"{mt}/sample.provenance.json", cache=False)]
        return [Out(f"{mt}/fid.json", cache=False, kind="metric"), Out(f"{mt}/fid.provenance.json", cache=False)]

    def wsample_stage(self, name: str) -> Stage:
        m, _ = self.wavelet_settings()[name]
        wm = self.p["wavelet_models"][m]
        deps = code(*CODE["wsample"]) + [f"{self.model_dir(f'{m}-{part}')}/ema.pt" for part in wm["parts"]]
        if wm["method"] != "sgm":
            deps.append(self.wstats_file(wm["dataset"]))
        outs = self.wavelet_outs("wsample", name)
        return Stage("wsample", name, self.cmd("wsample", name), deps, outs,
                     [self.key("wavelet_models", m)] + [self.key("wavelet", k) for k in
                                                        ("horizon", "schedule", "samples", "sample_batch", "seed")],
                     record=outs[-1].path)

    def fidref_stage(self, d: str) -> Stage:
        f = self.fidref_file(d)
        rec = f.replace(".npz", ".provenance.json")
        return Stage("fidref", d, self.cmd("fidref", d),
                     code(*CODE["fidref"]) + [self.prepared(d), self.raw_dir(self.p["wavelet"]["fid"]["weights"])],
                     [Out(f), Out(rec, cache=False)], [self.key("wavelet", "fid")], record=rec)

    def fid_stage(self, name: str) -> Stage:
        m, _ = self.wavelet_settings()[name]
        d = self.p["wavelet_models"][m]["dataset"]
        outs = self.wavelet_outs("fid", name)
        return Stage("fid", name, self.cmd("fid", name),
                     code(*CODE["fid"]) + [f"results/samples/{name}", self.fidref_file(d),
                                           self.raw_dir(self.p["wavelet"]["fid"]["weights"])],
                     outs, [self.key("wavelet", "fid")], record=outs[-1].path)

    def wavelet_stages(self) -> list[Stage]:
        if self.p["wavelet"] is None:
            return []
        out = [self.asset_fetch_stage(a) for a in self.p["assets"]]
        out += [self.wstats_stage(d) for d in self.wstats_datasets()]
        out += [self.th2_stage(e) for e, ex in self.p["experiments"].items() if ex["kind"] == "th2"]
        out += [self.wtrain_stage(n) for n in self.wavelet_parts()]
        settings = self.wavelet_settings()
        out += [self.wsample_stage(n) for n in settings]
        out += [self.fidref_stage(d) for d in sorted({self.p["wavelet_models"][m]["dataset"] for m, _ in settings.values()})]
        out += [self.fid_stage(n) for n in settings]
        return out

    def describe_stage(self, p: str) -> Stage:
        csv = self.describe_csv(p)
        rec = csv.replace(".csv", ".provenance.json")
        sections = ("datasets", "models", "runs", "wavelet_nets", "wavelet_models")
        return Stage("describe", p, f"python -m stages.describe --preset {p} --output {csv}", code(*CODE["describe"]),
                     [Out(csv, cache=False), Out(rec, cache=False)],
                     [f"presets.{p}.{s}" for s in sections], record=rec)

    def report_stage(self, kind: str, e: str) -> Stage:
        """table or figure of experiment e: reads only metrics files and the describe tables."""
        inputs = self.experiment_inputs(e) + [self.describe_csv(p) for p in sorted(self.raw["presets"])]
        keys = ("kind", "caption", "panels") + (() if self.p["experiments"][e]["kind"] in VARIANT_SECTION else ("metric",))
        params = [self.key("experiments", e, k) for k in keys]
        params += [f"published.{e}"] if e in self.raw["published"] else []
        if kind == "figure":
            params.append(self.key("experiments", e, "figure"))
        outs = self.report_outs(kind, e)
        return Stage(kind, e, self.cmd(kind, e), code(*CODE[kind]) + inputs, outs, params, record=outs[-1].path)

    @staticmethod
    def report_outs(kind: str, e: str) -> list[Out]:
        """results/tables/<id>.{md,csv,tex} or results/figures/<id>.{png,pdf}, then the record."""
        folder, exts = ("results/tables", ("md", "csv", "tex")) if kind == "table" else ("results/figures", ("png", "pdf"))
        return [Out(f"{folder}/{e}.{x}", cache=False) for x in (*exts, "provenance.json")]

    def stages(self) -> list[Stage]:
        out = [self.fetch_stage(d) for d in self.p["datasets"]] + [self.prepare_stage(d) for d in self.p["datasets"]]
        for r, run in self.p["runs"].items():
            out.append(self.train_stage(r, run["dataset"], run["model"], run["training"]))
            out.append(self.evaluate_stage(r, run["dataset"]))
        out += [self.states_stage(r, self.run(r)["dataset"]) for r in self.runs_of_kind("f5")]
        out += [self.sample_stage(r) for r in self.runs_of_kind("f6")]
        out += self.wavelet_stages()
        out += [self.describe_stage(p) for p in self.raw["presets"]]
        out += [self.report_stage(k, e) for e in self.p["experiments"] for k in self.report_kinds(e)]
        return out

    def report_kinds(self, e: str) -> list[str]:
        kind = self.p["experiments"][e]["kind"]
        return [k for k, kinds in (("table", TABLE_KINDS), ("figure", FIGURE_KINDS)) if kind in kinds]

    def stage(self, kind: str, name: str) -> Stage:
        for s in self.stages():
            if s.kind == kind and s.name == name:
                return s
        raise SpecError(f"{self.source}: preset {self.preset!r} has no {kind} stage named {name!r}")

    def stage_params(self, stage: Stage) -> dict:
        """The resolved values of exactly the params keys a stage declares."""
        return {k: self.lookup(k) for k in stage.params}


def load(path: str | Path = ROOT / "params.yaml", preset: str | None = None) -> Spec:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: not found; the pipeline's spec is params.yaml at the repository root") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    return Spec(raw if raw is not None else {}, preset, source=str(path))
