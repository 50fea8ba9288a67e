"""Load params.yaml: strict YAML (duplicate keys are errors), the typed models of `schema`, model
inheritance, cross-references; then a view of one preset that stages and the registry read.

Every error is one line naming the file, the dotted key, what was expected and what was found.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from mrgen.config.schema import FIGURE_KINDS, Model, Params
from mrgen.errors import SpecError
from mrgen.models.wavelet.parts import parts as wavelet_parts
from mrgen.paths import ROOT, Paths

DEFAULT = ROOT / "params.yaml"
VARIANT_SECTION = {"w1": "wavelet_models", "w4": "wavelet_models", "w5": "datasets", "w6": "datasets",
                   "th2": "datasets"}       # what a panel's variants name; every other kind names runs
WAVELET_KINDS = ("th2", "w1", "w4", "w5", "w6")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last silently; DVC refuses).
    libyaml's parser where PyYAML has it (every stage process reads params.yaml: 0.014 s instead of 0.27 s)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, shown: str | Path | None = None):
    """The YAML file at `path` (named `shown` in messages), refusing duplicate keys."""
    shown = shown or path
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)
    except FileNotFoundError:
        raise SpecError(f"{shown}: not found; the pipeline's spec is params.yaml at the repository root") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise SpecError(f"{shown}: {where}: {e.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SpecError(f"{shown}: not valid YAML: {e}") from None


def check_dvc_readable(path: Path, shown: str | Path | None = None) -> None:
    """Refuse a params file DVC cannot read. DVC parses params.yaml itself (for `${}` variables) with
    ruamel's safe loader, whose C parser (ruamel.yaml.clib, 4x faster) is stricter than PyYAML's libyaml:
    e.g. an unquoted URL in a flow list (`[https://a/b]`) passes here but stops every `dvc` command."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    try:
        YAML(typ="safe").load(path.read_text())
    except MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise SpecError(f"{shown or path}: {where}: DVC's YAML parser refuses it ({e.problem}); quote the value") from None
    except YAMLError as e:
        raise SpecError(f"{shown or path}: DVC's YAML parser refuses it: {e}") from None


def edit_yaml(path: Path, edit) -> None:
    """Call `edit` on the YAML file's round-trip tree (ruamel) and write it back: layout, comments and
    quoting kept, so a copy edited this way reads as one edited by hand (how the tests cut a copy to smoke
    scale and benchmarks/claims.py sets a copy's steps and seeds). Written atomically: an `edit` that
    raises leaves the file as it was."""
    from io import StringIO

    from ruamel.yaml import YAML

    from mrgen.io import write_text
    rt = YAML()
    rt.width, rt.preserve_quotes = 4096, True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    raw = rt.load(path.read_text())
    edit(raw)
    text = StringIO()
    rt.dump(raw, text)
    write_text(path, text.getvalue())


def _dotted(loc) -> str:
    parts = [x if isinstance(x, str) and x.isprintable() else repr(x) for x in loc]
    return ".".join(p for p in parts if not p.startswith(("function-", "literal[", "[key]")))


def one_line(source, e: ValidationError, prefix: str = "") -> SpecError:
    err = e.errors(include_url=False)[0]
    key = ".".join(x for x in (prefix, _dotted(err["loc"])) if x)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return SpecError(f"{source}: {key}: unknown key")
    if err["type"] == "missing":
        return SpecError(f"{source}: {key}: missing required key")
    if err["loc"] and err["loc"][-1] == "[key]":
        if err["type"] != "string_pattern_mismatch":
            return SpecError(f"{source}: {key}: expected a name (a string), found {err['input']!r}")
        pattern = err.get("ctx", {}).get("pattern", "")
        return SpecError(f"{source}: {key}: unsafe name; names must match {pattern.strip('^$')} "
                         f"(so they never start with '-' and are safe in paths and commands)")
    return SpecError(f"{source}: {key}: {msg}, found {err['input']!r}")


def _resolve_models(source, preset: str, entries: dict) -> dict[str, Model]:
    """Each model entry merged over its `base` chain, then validated as a full network."""
    out: dict[str, Model] = {}

    def merged(name, chain):
        if name in chain:
            raise SpecError(f"{source}: presets.{preset}.models.{chain[0]}.base: inheritance cycle "
                            f"{' -> '.join(chain + [name])}")
        e = entries[name]
        own = e.model_dump(exclude_none=True, exclude={"base"})
        if e.base is None:
            return own
        if e.base not in entries:
            raise SpecError(f"{source}: presets.{preset}.models.{name}.base: names model {e.base!r}, which "
                            f"presets.{preset}.models does not define")
        return {**merged(e.base, chain + [name]), **own}

    for name in entries:
        try:
            out[name] = Model(**merged(name, []))
        except ValidationError as e:
            raise one_line(source, e, f"presets.{preset}.models.{name}") from None
    return out


def _at(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


class Spec:
    """A validated params.yaml with one preset selected. `raw` and `p` are plain dicts of resolved,
    validated values (defaults filled in, model inheritance applied): what stages read and records hold."""

    def __init__(self, raw: dict, preset: str | None = None, source: str | Path = "params.yaml"):
        self.source = str(source)
        self.path: Path | None = None                    # the file `load` read it from
        self.written = raw                              # the file as written: the keys DVC can track
        if not isinstance(raw, dict):
            raise SpecError(f"{self.source}: expected a mapping at the top level, found {type(raw).__name__}")
        try:
            self.params = Params.model_validate(raw)
        except ValidationError as e:
            raise one_line(self.source, e) from None
        for given in (self.params.preset, preset):
            if given is not None and given not in self.params.presets:
                raise SpecError(f"{self.source}: preset: expected one of {sorted(self.params.presets)}, found {given!r}")
        self.preset = self.params.preset if preset is None else preset
        self.models = {p: _resolve_models(self.source, p, pre.models) for p, pre in self.params.presets.items()}
        self.raw = self.params.model_dump()
        for p, models in self.models.items():
            self.raw["presets"][p]["models"] = {m: v.model_dump() for m, v in models.items()}
        for p in self.raw["presets"]:
            self._check_references(p)
        self.paths = Paths(self.preset)

    # -- cross-references
    def _fail(self, key: str, text: str):
        raise SpecError(f"{self.source}: {key}: {text}")

    def _ref(self, p: str, key: str, section: str, name: str, what: str) -> None:
        if name not in self.raw["presets"][p][section]:
            self._fail(key, f"names {what} {name!r}, which presets.{p}.{section} does not define")

    def _check_shared(self, p: str, model: str, part: str) -> None:
        """`shared: other`: other trains this part itself, on the same data at the same levels."""
        models = self.raw["presets"][p]["wavelet_models"]
        where = f"presets.{p}.wavelet_models.{model}.parts.{part}.shared"
        owner = models[model]["parts"][part]["shared"]
        self._ref(p, where, "wavelet_models", owner, "wavelet model")
        theirs = models[owner]["parts"].get(part)
        if theirs is None or theirs["shared"] is not None:
            self._fail(where, f"wavelet model {owner!r} must train a part {part!r} itself, found "
                              f"{'none' if theirs is None else 'shared: ' + repr(theirs['shared'])}")
        for key in ("dataset", "levels"):
            if models[owner][key] != models[model][key]:
                self._fail(where, f"{owner!r} has {key} {models[owner][key]!r}, {model!r} {models[model][key]!r}; "
                                  "a shared part needs both equal")

    def wavelet_part(self, model: str, part: str, preset: str | None = None) -> tuple[str, dict]:
        """(the model that trains `model`'s part, that part's {net, training}), following `shared`."""
        models = self.raw["presets"][preset or self.preset]["wavelet_models"]
        owner = models[model]["parts"][part]["shared"] or model
        return owner, models[owner]["parts"][part]

    def _check_references(self, p: str) -> None:
        pre, k = self.raw["presets"][p], f"presets.{p}"
        for r, run in pre["runs"].items():
            for field, section, what in (("dataset", "datasets", "dataset"), ("model", "models", "model"),
                                         ("training", "training", "training recipe")):
                self._ref(p, f"{k}.runs.{r}.{field}", section, run[field], what)
        clash = sorted(set(pre["assets"]) & set(pre["datasets"]))
        if clash:
            self._fail(f"{k}.assets.{clash[0]}", "also a dataset name; both live in data/<preset>/raw/")
        if pre["wavelet_models"] and pre["wavelet"] is None:
            self._fail(f"{k}.wavelet", "missing; wavelet_models need it")
        if pre["wavelet"]:
            w = pre["wavelet"]
            self._ref(p, f"{k}.wavelet.fid.weights", "assets", w["fid"]["weights"], "asset")
            self._ref(p, f"{k}.wavelet.th2.dataset", "datasets", w["th2"]["dataset"], "dataset")
            if w["w1_steps"] not in w["steps"]:
                self._fail(f"{k}.wavelet.w1_steps", f"expected one of wavelet.steps {w['steps']}, found {w['w1_steps']}")
        for m, wm in pre["wavelet_models"].items():
            where = f"{k}.wavelet_models.{m}"
            self._ref(p, f"{where}.dataset", "datasets", wm["dataset"], "dataset")
            if (wm["method"] == "sgm") != (wm["levels"] == 0):
                self._fail(f"{where}.levels", f"expected 0 for sgm and >= 1 for wsgm / wmgm, found {wm['levels']}")
            want = wavelet_parts(wm["method"], wm["levels"])
            if sorted(wm["parts"]) != sorted(want):
                self._fail(f"{where}.parts", f"a {wm['method']} model with {wm['levels']} levels needs parts {want}, "
                                             f"found {sorted(wm['parts'])}")
            size = pre["datasets"][wm["dataset"]]["image_size"]
            if size % 2 ** max(wm["levels"], 1):
                self._fail(f"{where}.levels", f"image_size {size} is not divisible by 2^{wm['levels']}")
            for part, pd in wm["parts"].items():
                if pd["shared"] is not None:
                    self._check_shared(p, m, part)
                    continue
                self._ref(p, f"{where}.parts.{part}.net", "wavelet_nets", pd["net"], "wavelet net")
                self._ref(p, f"{where}.parts.{part}.training", "wavelet_training", pd["training"], "wavelet training")
                kind = pre["wavelet_nets"][pd["net"]]["kind"]
                if (part == "gan") != (kind == "gan"):
                    self._fail(f"{where}.parts.{part}.net", f"names a {kind} network; part {part} needs a "
                                                            f"{'gan' if part == 'gan' else 'score'} network")
                tr = pre["wavelet_training"][pd["training"]]
                if part == "gan" and (tr["lr_d"] is None or tr["losses"] is None):
                    self._fail(f"{where}.parts.gan.training", f"{pd['training']!r} needs lr_d and losses")
        names = {"runs": "run", "datasets": "dataset", "wavelet_models": "wavelet model"}
        for e, ex in pre["experiments"].items():
            section = VARIANT_SECTION.get(ex["kind"], "runs")
            if ex["kind"] in WAVELET_KINDS and pre["wavelet"] is None:
                self._fail(f"{k}.wavelet", f"missing; experiment {e} ({ex['kind']}) needs it")
            if ex["kind"] in FIGURE_KINDS and ex["figure"] is None:
                self._fail(f"{k}.experiments.{e}.figure",
                           f"missing; a {ex['kind']} experiment is drawn and needs {{width, height, dpi}}")
            for panel, pdef in ex["panels"].items():
                for v, name in pdef["variants"].items():
                    self._ref(p, f"{k}.experiments.{e}.panels.{panel}.variants.{v}", section, name, names[section])
                for v in pdef["paper_variants"]:
                    if v not in pdef["variants"]:
                        self._fail(f"{k}.experiments.{e}.panels.{panel}.paper_variants.{v}",
                                   f"names variant {v!r}, which the panel's variants do not define")

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

    def model_keys(self, model: str, preset: str | None = None) -> list[str]:
        """The params keys a model's values come from: its entry and every base it inherits."""
        preset = preset or self.preset
        keys, name = [], model
        while name is not None:
            keys.append(f"presets.{preset}.models.{name}")
            name = self.params.presets[preset].models[name].base
        return keys

    def model_config(self, run: str) -> dict:
        """A run's network: its model entry plus the image geometry and likelihood of its dataset."""
        r = self.run(run)
        ds = self.p["datasets"][r["dataset"]]
        return {**self.p["models"][r["model"]], "image_size": ds["image_size"], "image_channels": ds["channels"],
                "likelihood": ds["likelihood"], "crop": ds["pad"]}

    def lookup(self, dotted: str):
        """A resolved value by dotted key (model entries come resolved over their base)."""
        return _at(self.raw, dotted)

    def written_at(self, dotted: str):
        """The value params.yaml writes at a dotted key (what DVC tracks)."""
        return _at(self.written, dotted)

    def tracked(self, dotted: str) -> str:
        """The params key DVC tracks for `dotted`: itself if params.yaml writes it, else its nearest written
        parent (a key left at its default has no entry to track; its parent changes when it is written)."""
        node, parts = self.written, dotted.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                return ".".join(parts[:i])
            node = node[part]
        return dotted

    def for_preset(self, preset: str) -> Spec:
        """The same params with another preset selected (no re-validation)."""
        other = object.__new__(Spec)
        other.__dict__.update(self.__dict__, preset=preset, paths=Paths(preset))
        if preset not in self.raw["presets"]:
            raise SpecError(f"{self.source}: preset: expected one of {sorted(self.raw['presets'])}, found {preset!r}")
        return other


def load(path: str | Path = DEFAULT, preset: str | None = None) -> Spec:
    path = Path(path)
    shown = path.name if path == DEFAULT else path
    raw = read_yaml(path, shown)
    spec = Spec(raw if raw is not None else {}, preset, source=shown)
    spec.path = path
    return spec
