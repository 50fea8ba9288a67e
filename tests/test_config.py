"""params.yaml validation (mrgen.config): every malformed spec stops with one line naming the key, what was
expected and what was found; names can never become shell code or escape their folders."""
import copy
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, env

from mrgen.config.spec import Spec, SpecError, load
from mrgen.registry import stage, stages, wavelet_parts, wavelet_settings

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def spec_with(edit):
    raw = copy.deepcopy(RAW)
    edit(raw)
    return Spec(raw)


def tiny(r):
    return r["presets"]["tiny"]


def test_params_yaml_is_valid_for_both_presets():
    for preset in RAW["presets"]:
        assert stages(load(preset=preset))


def test_unknown_key_wrong_type_missing_key():
    with pytest.raises(SpecError, match=r"^params.yaml: presets\.tiny\.training\.tiny\.lrr: unknown key$"):
        spec_with(lambda r: tiny(r)["training"]["tiny"].update(lrr=1))
    with pytest.raises(SpecError, match=r"presets\.tiny\.training\.tiny\.iters: Input should be a valid integer, found 'ma"):
        spec_with(lambda r: tiny(r)["training"]["tiny"].update(iters="many"))
    with pytest.raises(SpecError, match=r"\.pad: Input should be a valid integer, found True"):
        spec_with(lambda r: tiny(r)["datasets"]["digits"].update(pad=True))
    with pytest.raises(SpecError, match=r"presets\.tiny\.training\.tiny\.lr: missing required key"):
        spec_with(lambda r: tiny(r)["training"]["tiny"].pop("lr"))


@pytest.mark.parametrize("key,value,expected", [
    ("batch_size", -32, "greater than or equal to 1, found -32"),
    ("iters", 0, "greater than or equal to 1, found 0"),
    ("lr", 0.0, "greater than 0, found 0.0"),
    ("ema_rate", 1.0, "less than 1, found 1.0"),
    ("ckpt_every", -5, "greater than or equal to 1, found -5"),
])
def test_numbers_are_range_checked(key, value, expected):
    with pytest.raises(SpecError, match=rf"presets\.tiny\.training\.tiny\.{key}: Input should be {expected}"):
        spec_with(lambda r: tiny(r)["training"]["tiny"].update({key: value}))


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_infinite_and_nan_numbers_are_refused(value):
    with pytest.raises(SpecError, match=r"presets\.tiny\.training\.tiny\.lr: Input should be a finite number"):
        spec_with(lambda r: tiny(r)["training"]["tiny"].update(lr=value))


def test_default_and_empty_presets_are_checked():
    with pytest.raises(SpecError, match=r"^params.yaml: preset: expected one of \['paper', 'tiny'\], found 'nope'$"):
        Spec({**RAW, "preset": "nope"}, preset="tiny")
    with pytest.raises(SpecError, match=r"found ''$"):
        Spec(RAW, preset="")


def test_odd_keys_stay_on_one_line():
    with pytest.raises(SpecError, match=r"presets\.tiny\.runs\.'abc\\n': unsafe name") as e:
        spec_with(lambda r: tiny(r)["runs"].update({"abc\n": tiny(r)["runs"]["digits-x1"]}))
    assert "\n" not in str(e.value)
    with pytest.raises(SpecError, match=r"presets\.tiny\.runs\.123: expected a name \(a string\), found 123"):
        spec_with(lambda r: tiny(r)["runs"].update({123: tiny(r)["runs"]["digits-x1"]}))


def test_duplicate_yaml_key_is_an_error(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("        iters: 250\n", "        iters: 250\n        iters: 5\n", 1)
    p = tmp_path / "params.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match=r"params.yaml: line \d+, column 9: duplicate key 'iters' \(first at line \d+\)"):
        load(p)


def test_a_params_file_dvc_cannot_parse_is_refused_before_any_engine_runs(tmp_path):
    """PyYAML's libyaml reads an unquoted URL in a flow list; DVC's parser (ruamel's C one) stops on it."""
    from dvc.utils.serialize import YAMLFileCorruptedError, parse_yaml

    from mrgen.config.spec import check_dvc_readable
    from mrgen.dag import refresh_params_files
    text = (ROOT / "params.yaml").read_text()
    check_dvc_readable(ROOT / "params.yaml")
    assert 'urls: ["https://' in text
    p = tmp_path / "params.yaml"
    p.write_text(text.replace('urls: ["https://', 'urls: [https://', 1).replace('.gz", "https', ".gz, https", 1))
    spec = load(p, preset="tiny")                         # the stages' loader reads it ...
    with pytest.raises(YAMLFileCorruptedError):           # ... DVC does not
        parse_yaml(p.read_text(), str(p))
    with pytest.raises(SpecError, match=r"params.yaml: line \d+, column \d+: DVC's YAML parser refuses it "
                                        r"\(found unexpected ':'\); quote the value$"):
        refresh_params_files(spec, root=tmp_path)
    assert not (tmp_path / "pipelines").exists()          # nothing written


@pytest.mark.parametrize("bad", ["x;touch FILE", "../x", "--help", "-x", "Digits", "a b", "x.y", "$(id)"])
def test_unsafe_run_names(bad):
    with pytest.raises(SpecError, match=rf"presets\.tiny\.runs\.{__import__('re').escape(bad)}: unsafe name; names must "
                                        r"match \[a-z0-9\]\[a-z0-9_-\]\*"):
        spec_with(lambda r: tiny(r)["runs"].update({bad: tiny(r)["runs"]["digits-x1"]}))


def test_raw_file_names_cannot_escape_their_folder():
    with pytest.raises(SpecError, match=r"raw\.files\.\.\./evil: unsafe name"):
        spec_with(lambda r: tiny(r)["datasets"]["digits"]["raw"]["files"].update(
            {"../evil": {"sha256": "0" * 64}}))


def test_cross_references():
    with pytest.raises(SpecError, match=r"presets\.tiny\.runs\.digits-x1\.dataset: names dataset 'cifar99', which "
                                        r"presets\.tiny\.datasets does not define"):
        spec_with(lambda r: tiny(r)["runs"]["digits-x1"].update(dataset="cifar99"))
    with pytest.raises(SpecError, match=r"runs\.digits-x1\.model: names model 'nope'"):
        spec_with(lambda r: tiny(r)["runs"]["digits-x1"].update(model="nope"))
    with pytest.raises(SpecError, match=r"variants\.x1: names run 'ghost'"):
        spec_with(lambda r: tiny(r)["experiments"]["f4"]["panels"]["mnist"]["variants"].update(x1="ghost"))
    with pytest.raises(SpecError, match=r"presets\.tiny\.resources\.trian: expected a stage kind"):
        stages(spec_with(lambda r: tiny(r)["resources"].update(trian={"cpus": 1})))


def test_bad_choice_layer_string_and_preset():
    with pytest.raises(SpecError, match=r"likelihood: Input should be 'bernoulli' or 'dmol', found 'gauss'"):
        spec_with(lambda r: tiny(r)["datasets"]["digits"].update(likelihood="gauss"))
    with pytest.raises(SpecError, match=r"presets\.tiny\.models\.digits_x1\.dec_blocks: bad dec layer token '8d2'"):
        spec_with(lambda r: tiny(r)["models"]["digits_x1"].update(dec_blocks="8d2"))
    with pytest.raises(SpecError, match=r"preset: expected one of \['paper', 'tiny'\], found 'huge'"):
        Spec(RAW, preset="huge")


def test_model_inheritance():
    spec = load()
    norm, x4 = spec.p["models"]["digits_x4_normalised"], spec.p["models"]["digits_x4"]
    assert norm == {**x4, "normalize_state": True}
    assert spec.model_keys("digits_x4_normalised") == [
        "presets.tiny.models.digits_x4_normalised", "presets.tiny.models.digits_x4", "presets.tiny.models.digits_x1"]
    # the base's keys are tracked by every stage reading the model, so editing a base reruns its variants
    assert "presets.tiny.models.digits_x1" in stage(spec, "train", "digits-x4-normalised").params
    with pytest.raises(SpecError, match=r"models\.digits_x1\.base: inheritance cycle digits_x1 -> digits_x2 -> digits_x1"):
        spec_with(lambda r: tiny(r)["models"]["digits_x1"].update(base="digits_x2"))
    with pytest.raises(SpecError, match=r"models\.digits_x2\.base: names model 'ghost'"):
        spec_with(lambda r: tiny(r)["models"]["digits_x2"].update(base="ghost"))
    with pytest.raises(SpecError, match=r"models\.digits_x2\.width: Input should be greater than or equal to 1"):
        spec_with(lambda r: tiny(r)["models"]["digits_x2"].update(width=0))


def test_wavelet_models_need_their_methods_parts_and_network_kinds():
    with pytest.raises(SpecError, match=r"wavelet_models\.wsgm-photos\.parts: a wsgm model with 2 levels needs parts "
                                        r"\['ll', 'hf2', 'hf1'\], found \['hf2', 'll'\]"):
        spec_with(lambda r: tiny(r)["wavelet_models"]["wsgm-photos"]["parts"].pop("hf1"))
    with pytest.raises(SpecError, match=r"wmgm-photos\.parts\.gan\.net: names a score network; part gan needs a gan network"):
        spec_with(lambda r: tiny(r)["wavelet_models"]["wmgm-photos"]["parts"]["gan"].update(net="score_tiny"))
    with pytest.raises(SpecError, match=r"sgm-photos\.levels: expected 0 for sgm"):
        spec_with(lambda r: tiny(r)["wavelet_models"]["sgm-photos"].update(levels=2))
    with pytest.raises(SpecError, match=r"wmgm-photos\.parts\.gan\.training: 'tiny_score' needs lr_d and losses"):
        spec_with(lambda r: tiny(r)["wavelet_models"]["wmgm-photos"]["parts"]["gan"].update(training="tiny_score"))
    with pytest.raises(SpecError, match=r"wmgm-photos\.levels: image_size 16 is not divisible by 2\^5"):
        spec_with(lambda r: tiny(r)["wavelet_models"]["wmgm-photos"].update(levels=5))
    with pytest.raises(SpecError, match=r"variants\.sgm: names wavelet model 'ghost'"):
        spec_with(lambda r: tiny(r)["experiments"]["w1"]["panels"]["celebahq"]["variants"].update(sgm="ghost"))
    with pytest.raises(SpecError, match=r"wavelet\.fid\.weights: names asset 'nope'"):
        spec_with(lambda r: tiny(r)["wavelet"]["fid"].update(weights="nope"))
    with pytest.raises(SpecError, match=r"assets\.photos: also a dataset name"):
        spec_with(lambda r: tiny(r)["assets"].update(photos=tiny(r)["assets"]["inception"]))


def test_a_shared_part_is_trained_once_by_its_owner():
    for preset, (wsgm, wmgm) in {"tiny": ("wsgm-photos", "wmgm-photos"), "paper": ("wsgm-celebahq", "wmgm-celebahq")}.items():
        spec = load(preset=preset)
        assert f"{wsgm}-ll" in wavelet_parts(spec) and f"{wmgm}-ll" not in wavelet_parts(spec)
        assert spec.wavelet_part(wmgm, "ll") == (wsgm, spec.p["wavelet_models"][wsgm]["parts"]["ll"])
        assert not any(st.name == f"{wmgm}-ll" for st in stages(spec))


@pytest.mark.parametrize("part, expected", [
    ({"shared": "ghost"}, r"wmgm-photos\.parts\.ll\.shared: names wavelet model 'ghost'"),
    ({"shared": "sgm-photos"}, r"ll\.shared: wavelet model 'sgm-photos' must train a part 'll' itself, found none"),
    ({"shared": "wsgm-photos", "net": "score_tiny"}, r"wmgm-photos\.parts\.ll: .*either net and training, or shared"),
    ({"net": "score_tiny"}, r"wmgm-photos\.parts\.ll: .*either net and training, or shared"),
])
def test_shared_parts_are_checked(part, expected):
    with pytest.raises(SpecError, match=expected):
        spec_with(lambda r: tiny(r)["wavelet_models"]["wmgm-photos"]["parts"].update(ll=part))


def test_a_shared_part_needs_the_same_dataset_and_levels():
    def edit(r):
        tiny(r)["wavelet_models"]["wsgm-photos"]["parts"]["ll"] = {"shared": "wmgm-photos"}
        tiny(r)["wavelet_models"]["wmgm-photos"]["parts"]["ll"] = {"net": "score_tiny", "training": "tiny_score"}
        tiny(r)["wavelet_models"]["wmgm-photos"]["levels"] = 1
        tiny(r)["wavelet_models"]["wmgm-photos"]["parts"]["gan"] = {"net": "gan_tiny", "training": "tiny_gan"}
    with pytest.raises(SpecError, match=r"wsgm-photos\.parts\.ll\.shared: 'wmgm-photos' has levels 1, 'wsgm-photos' 2"):
        spec_with(edit)


def test_wavelet_stage_instances_and_paths():
    spec = load(preset="tiny")
    assert wavelet_parts(spec)["wsgm-photos-hf1"] == ("wsgm-photos", "hf1")
    assert wavelet_settings(spec)["wmgm-photos-n16"] == ("wmgm-photos", 16)
    st = stage(spec, "wsample", "wmgm-photos-n4")
    assert {"models/tiny/wsgm-photos-ll/ema.pt", "models/tiny/wmgm-photos-gan/ema.pt",      # WSGM's LL, shared
            "results/tiny/analysis/wavelet/photos.json"} <= set(st.deps)
    assert st.outs[0].path == "results/tiny/samples/wmgm-photos-n4" and st.record.endswith("sample.provenance.json")
    fid = stage(spec, "fid", "sgm-photos-n4")
    assert {"results/tiny/samples/sgm-photos-n4", "results/tiny/metrics/fidref/photos.npz",
            "data/tiny/raw/inception"} <= set(fid.deps)
    assert "results/tiny/analysis/wavelet/photos.json" not in stage(spec, "wtrain", "sgm-photos-full").deps
    paper = load(preset="paper")
    assert len(wavelet_settings(paper)) == 6 * 10 and stage(paper, "fidref", "afhq_cat128")


def test_tiny_dag_does_not_depend_on_paper_training_recipes():
    """Only what parameter counts depend on: a paper recipe change must not make tiny results stale."""
    keys = [k for st in stages(load(preset="tiny")) for k in st.params if k.startswith("presets.paper.")]
    assert keys and not any(".training" in k or ".evaluation" in k or ".wavelet_training" in k for k in keys)


def test_building_the_dag_imports_neither_torch_nor_the_models():
    code = ("import sys; from mrgen.config.spec import load; from mrgen.registry import stages; from mrgen.dag import render;"
            "s = load(); [render(s.for_preset(p)) for p in s.raw['presets']];"
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('mrgen.models.hvae', 'mrgen.models.wavelet.m'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env(ROOT), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_unknown_instance_and_kind_give_one_line():
    mrgen = lambda *a: subprocess.run(["mrgen", *a], cwd=ROOT, env=env(ROOT), capture_output=True, text=True)
    r = mrgen("train", "--preset", "tiny", "nope")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [r.stderr.strip()] and r.stderr.startswith(
        "error: params.yaml: preset 'tiny' has no train stage named 'nope'; expected one of ['digits-x1'")
    r = mrgen("train", "--preset", "huge", "digits-x1")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: params.yaml: preset: expected one of ['paper', 'tiny'], found 'huge'"


def test_describe_prints_every_run():
    r = subprocess.run(["mrgen", "describe", "--preset", "paper"], cwd=ROOT, env=env(ROOT),
                       capture_output=True, text=True, check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "run,dataset,model,params,stochastic_depth,kind,model_name"
    assert "f4-cifar10-x1,cifar10,f4_cifar10_x1,8744356,9,hvae,f4-cifar10-x1" in lines
    assert "f4-mnist-r20,mnist,f4_mnist_r20,106689,104,hvae,f4-mnist-r20" in lines
    # the wavelet paper: WSGM 52.5M + 142.1M + 156.3M = 351.0M, the shared generator 14.25M, SGM 160.3M
    assert "wsgm-celebahq-hf1,celebahq128,hf_64,156317961,,wavelet,wsgm-celebahq" in lines
    assert "wmgm-celebahq-gan,celebahq128,gano_40,14253102,,wavelet,wmgm-celebahq" in lines
    assert "sgm-afhqcat-full,afhq_cat128,sgm_128,160299267,,wavelet,sgm-afhqcat" in lines
    # inherited models count exactly as their full strings did (Table 2 = VDVAE* + normalisation)
    assert "t2-mnist-norm,mnist,norm_mnist,339161,43,hvae,t2-mnist-norm" in lines
    spec = load(preset="paper")
    assert "wmgm-celebahq-ll,celebahq128,ll_32,52542979,,wavelet,wmgm-celebahq" in lines       # WSGM's LL, shared
    parts = sum(len(wm["parts"]) for wm in spec.p["wavelet_models"].values())
    assert len(lines) == 1 + len(spec.p["runs"]) + parts and parts > len(wavelet_parts(spec))
