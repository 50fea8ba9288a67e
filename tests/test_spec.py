"""params.yaml validation: every malformed spec stops with an error naming the key and expected form."""
import copy
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, env
from mrgen.spec import Spec, SpecError, load

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def spec_with(edit):
    raw = copy.deepcopy(RAW)
    edit(raw)
    return Spec(raw)


def test_params_yaml_is_valid_for_both_presets():
    for preset in RAW["presets"]:
        assert load(preset=preset).stages()


def test_unknown_key():
    with pytest.raises(SpecError, match=r"params\.presets\.tiny\.training\.tiny\.lrr: unknown key; expected one of"):
        spec_with(lambda r: r["presets"]["tiny"]["training"]["tiny"].update(lrr=1))


def test_wrong_type():
    with pytest.raises(SpecError, match=r"params\.presets\.tiny\.training\.tiny\.iters: expected an integer, found str"):
        spec_with(lambda r: r["presets"]["tiny"]["training"]["tiny"].update(iters="many"))
    with pytest.raises(SpecError, match=r"\.pad: expected an integer, found bool"):
        spec_with(lambda r: r["presets"]["tiny"]["datasets"]["digits"].update(pad=True))


def test_missing_required_key():
    with pytest.raises(SpecError, match=r"params\.presets\.tiny\.models\.f4_digits_x1\.zdim: missing required key"):
        spec_with(lambda r: r["presets"]["tiny"]["models"]["f4_digits_x1"].pop("zdim"))


def test_run_naming_a_missing_dataset_or_model():
    with pytest.raises(SpecError, match=r"runs\.f4-digits-x1\.dataset: names dataset 'cifar99', which "
                                        r"params\.presets\.tiny\.datasets does not define"):
        spec_with(lambda r: r["presets"]["tiny"]["runs"]["f4-digits-x1"].update(dataset="cifar99"))
    with pytest.raises(SpecError, match=r"runs\.f4-digits-x1\.model: names model 'nope'"):
        spec_with(lambda r: r["presets"]["tiny"]["runs"]["f4-digits-x1"].update(model="nope"))


def test_experiment_naming_a_missing_run():
    with pytest.raises(SpecError, match=r"variants\.x1: names run 'ghost'"):
        spec_with(lambda r: r["presets"]["tiny"]["experiments"]["f4"]["panels"]["mnist"]["variants"].update(x1="ghost"))


@pytest.mark.parametrize("bad", ["Digits", "a b", "../x", "x.y"])
def test_unsafe_names(bad):
    with pytest.raises(SpecError, match=r"unsafe name; names must match \[a-z0-9_-\]\+"):
        spec_with(lambda r: r["presets"]["tiny"]["datasets"].update({bad: r["presets"]["tiny"]["datasets"]["digits"]}))


def test_bad_choice_and_layer_string_and_preset():
    with pytest.raises(SpecError, match=r"likelihood: expected one of \['bernoulli', 'dmol'\], found 'gauss'"):
        spec_with(lambda r: r["presets"]["tiny"]["datasets"]["digits"].update(likelihood="gauss"))
    with pytest.raises(SpecError, match=r"f4_digits_x1\.dec_blocks: bad dec layer token '8d2'"):
        spec_with(lambda r: r["presets"]["tiny"]["models"]["f4_digits_x1"].update(dec_blocks="8d2"))
    with pytest.raises(SpecError, match=r"params\.preset: expected one of \['paper', 'tiny'\], found 'huge'"):
        spec_with(lambda r: r.update(preset="huge"))


def test_stage_refuses_another_presets_command_with_one_line():
    r = subprocess.run([sys.executable, "-m", "stages.train", "--preset", "paper", "f4-mnist-x1"], cwd=ROOT,
                       env=env(), capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: params.yaml selects preset 'tiny' but this command is for "
                                             "'paper'; run `python -m stages.preset tiny` to regenerate dvc.yaml"]


def test_describe_prints_every_run():
    r = subprocess.run([sys.executable, "-m", "stages.describe", "--preset", "paper"], cwd=ROOT, env=env(),
                       capture_output=True, text=True, check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "run,dataset,model,params,stochastic_depth,kind,model_name"
    assert "f4-cifar10-x1,cifar10,f4_cifar10_x1,8744356,9,hvae,f4-cifar10-x1" in lines
    assert "f4-mnist-r20,mnist,f4_mnist_r20,106689,104,hvae,f4-mnist-r20" in lines
    # the wavelet paper: WSGM 52.5M + 142.1M + 156.3M = 351.0M, the shared generator 14.25M, SGM 160.3M
    assert "wsgm-celebahq-hf1,celebahq128,hf_64,156317961,,wavelet,wsgm-celebahq" in lines
    assert "wmgm-celebahq-gan,celebahq128,gano_40,14253102,,wavelet,wmgm-celebahq" in lines
    assert "sgm-afhqcat-full,afhq_cat128,sgm_128,160299267,,wavelet,sgm-afhqcat" in lines
    spec = load(preset="paper")
    assert len(lines) == 1 + len(spec.p["runs"]) + len(spec.wavelet_parts())


def test_wavelet_models_need_their_methods_parts_and_network_kinds():
    tiny = lambda r: r["presets"]["tiny"]
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


def test_wavelet_stage_instances_and_paths():
    spec = load(preset="tiny")
    assert spec.wavelet_parts()["wsgm-photos-hf1"] == ("wsgm-photos", "hf1")
    assert spec.wavelet_settings()["wmgm-photos-n16"] == ("wmgm-photos", 16)
    st = spec.stage("wsample", "wmgm-photos-n4")
    assert {"models/wmgm-photos-ll/ema.pt", "models/wmgm-photos-gan/ema.pt", "results/analysis/wavelet/photos.json"} <= set(st.deps)
    assert [o.path for o in st.outs][0] == "results/samples/wmgm-photos-n4"
    fid = spec.stage("fid", "sgm-photos-n4")
    assert {"results/samples/sgm-photos-n4", "results/metrics/fidref/photos.npz", "data/raw/inception"} <= set(fid.deps)
    assert "results/analysis/wavelet/photos.json" not in spec.stage("wtrain", "sgm-photos-full").deps
    paper = load(preset="paper")
    assert len(paper.wavelet_settings()) == 6 * 10 and paper.stage("fidref", "afhq_cat128")
