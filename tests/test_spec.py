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
    assert lines[0] == "run,dataset,model,params,stochastic_depth"
    assert "f4-cifar10-x1,cifar10,f4_cifar10_x1,8744356,9" in lines
    assert "f4-mnist-r20,mnist,f4_mnist_r20,106689,104" in lines
    assert len(lines) == 1 + len(load(preset="paper").p["runs"])
