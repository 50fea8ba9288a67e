"""The one training loop: VDVAE fidelity (EMA, skip rule, constants, float64), every speed option against
eager fp32, and checkpoint-and-stop on SIGTERM / SIGUSR1 with a bit-identical resume, for both families."""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from conftest import ROOT, env, sh
from recipes import hvae_recipe, train_hvae, train_part, wavelet_recipe

from mrgen.config.schema import Training
from mrgen.config.spec import load
from mrgen.data.loader import Batches, prefetched
from mrgen.errors import Preempted
from mrgen.io import write_curve
from mrgen.models import noise
from mrgen.models.hvae import VAE, HVAEConfig
from mrgen.models.wavelet import methods
from mrgen.train.loop import LIVE_CURVE
from mrgen.train.recipe import Update, adamw, update_ema, warmup

CFG = HVAEConfig(image_size=8, image_channels=3, width=16, zdim=4, likelihood="dmol",
                 enc_blocks="8x1,8d2,4r2,4d4,1x1", dec_blocks="1x1,4m1,4r2,8m4,8x1")
META = {"likelihood": "dmol", "input_shift": -127.5, "input_scale": 1 / 64}
IMAGES = np.random.RandomState(0).randint(0, 256, size=(64, 8, 8, 3), dtype=np.uint8)
SMALL_UNET = {"channels": 16, "channel_mult": [1, 2], "res_blocks": 1, "attention": [], "heads": 1, "width": 4,
              "levels": 2, "disc_blocks": 2}
GAN_T = dict(lr_d=1e-4, d_every=2, losses={"adv": 0.1, "mse": 20.0, "ssim": 0.5})


def hvae(tmp_path, name="run", train_b=None, **recipe):
    t = hvae_recipe(**recipe)
    family, state = train_hvae(CFG, t, train_b or Batches(IMAGES, META, 8, seed=3), Batches(IMAGES[:8], META, 8),
                               tmp_path / name)
    return family, state


def part(tmp_path, which="full", name="run", batches=None, **recipe):
    t = wavelet_recipe(**({**GAN_T, **recipe} if which == "gan" else recipe))
    torch.manual_seed(0)
    net = methods.build(methods.net_config(which, SMALL_UNET, 8, 3, 1))
    return train_part(which, net, batches or Batches(IMAGES, {**META, "input_shift": 0.0, "input_scale": 1.0}, 8, seed=1),
                      t, tmp_path / name, levels=1 if which == "gan" else 0)


@functools.cache
def reference(which: str = "hvae"):
    """The eager fp32 run every speed option is held against: trained once per session, not once per option."""
    tmp = Path(tempfile.mkdtemp(prefix="mrgen-reference-"))
    try:
        return (hvae(tmp, "ref") if which == "hvae" else part(tmp, which, "ref"))[1]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def weights(module) -> list[torch.Tensor]:
    return [v for v in module.state_dict().values() if v.is_floating_point()]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(weights(a), weights(b)))


# ---------------------------------------------------------------- fidelity
def test_ema_coefficients_sum_to_exactly_one_in_float32():
    """An EMA of a constant stays that constant at rate 0.9999; rate*x + (1-rate)*x rounded apart drifts."""
    torch.manual_seed(0)
    model, ema = torch.nn.Linear(64, 64), torch.nn.Linear(64, 64)
    ema.load_state_dict(model.state_dict())
    for _ in range(1000):
        update_ema(ema, model, 0.9999)
    assert same(ema, model)
    drift = [p.detach().clone() for p in model.parameters()]
    for _ in range(1000):
        for d, p in zip(drift, model.parameters()):
            d.mul_(0.9999).add_(p.detach(), alpha=1 - 0.9999)       # the old update: it does not hold the constant
    assert not all(torch.equal(d, p) for d, p in zip(drift, model.parameters()))


def test_a_skipped_step_leaves_the_ema_bit_identical():
    torch.manual_seed(0)
    model, ema = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    before = [p.detach().clone() for p in ema.parameters()]
    update_ema(ema, model, 0.9, torch.tensor(False))
    assert all(torch.equal(a, b) for a, b in zip(before, ema.parameters()))
    update_ema(ema, model, 0.9, torch.tensor(True))
    assert not all(torch.equal(a, b) for a, b in zip(before, ema.parameters()))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("threshold, loss, skipped", [(-1.0, 1.0, False), (1e-9, 1.0, True), (1e9, 1.0, False),
                                                      (-1.0, float("nan"), True), (1e9, float("inf"), True)])
def test_skip_rule(fused, threshold, loss, skipped):
    """-1 never skips on the norm (VDVAE); a norm >= threshold or a non-finite loss skips the step: weights
    and the optimizer's state stay as they were, and the schedule still advances."""
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 4)
    t = hvae_recipe(skip_threshold=threshold, fused_adam=fused, warmup_iters=10)
    opt = adamw(net.parameters(), t)
    update = Update(net.parameters(), opt, warmup(opt, 10), t)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.full_like(p, 3.0)
    for _ in range(2):                            # the first step has lr 0 (VDVAE's warm-up)
        norm, ok = update(torch.tensor(loss))
    assert bool(ok) is not skipped and norm.item() == pytest.approx(3 * 20 ** 0.5)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters())) is skipped
    assert opt.param_groups[0]["lr"] == pytest.approx(2 * 1e-3 * 3 / 10)


def test_skip_threshold_is_minus_one_or_positive():
    base = {k: v for k, v in hvae_recipe().items() if k != "skip_threshold"}
    for bad in (0.0, -0.5, -2.0):
        with pytest.raises(pydantic.ValidationError, match="expected -1 .never skip. or a positive"):
            Training.model_validate({**base, "skip_threshold": bad})


def test_vdvae_input_constants_are_the_references_at_full_precision():
    d = load(preset="paper").p["datasets"]
    assert d["cifar10"]["input_scale"] == 1 / 64.16736 and d["cifar10"]["input_shift"] == -120.63838
    assert d["imagenet32"]["input_scale"] == 1 / 69.37404 and d["imagenet64"]["input_scale"] == 1 / 69.37404


@pytest.mark.parametrize("likelihood, channels", [("dmol", 3), ("bernoulli", 1)])
def test_the_hvae_runs_in_float64(monkeypatch, likelihood, channels):
    """Same weights, zero latent noise: the float64 ELBO is float64 and equals float32's to its precision."""
    monkeypatch.setattr(noise, "normal_like", torch.zeros_like)
    cfg = HVAEConfig(**{**CFG.__dict__, "likelihood": likelihood, "image_channels": channels, "fourier_features": 2})
    torch.manual_seed(0)
    m32 = VAE(cfg)
    m64 = VAE(cfg).double()
    m64.load_state_dict(m32.state_dict())
    x = torch.rand(4, channels, 8, 8)
    xt = torch.bernoulli(x) if likelihood == "bernoulli" else x * 2 - 1
    e32, e64 = m32(x, xt)["elbo"], m64(x.double(), xt.double())["elbo"]
    assert e64.dtype == torch.float64 and e32.dtype == torch.float32
    assert torch.allclose(e32.double(), e64, rtol=1e-5, atol=1e-5)
    e64.sum().backward()
    assert all(p.grad.dtype == torch.float64 for p in m64.parameters() if p.grad is not None)


# ---------------------------------------------------------------- speed options against eager fp32
def curve(state, key):
    return np.array([r[key] for r in state.curve])


@pytest.mark.slow                      # trains each option against the eager reference
@pytest.mark.parametrize("option, value, rtol", [
    ("prefetch", 0, 0.0), ("channels_last", True, 1e-4), ("fused_adam", True, 1e-4),
    ("grad_checkpoint", True, 1e-5), ("precision", "bf16", 5e-2)])
def test_hvae_options_keep_the_loss_curve(tmp_path, option, value, rtol):
    ref = reference()
    _, got = hvae(tmp_path, option, **{option: value})
    np.testing.assert_allclose(curve(got, "elbo"), curve(ref, "elbo"), rtol=rtol, atol=0)


@pytest.mark.slow                      # trains each option against the eager reference
@pytest.mark.parametrize("which", ["full", "gan"])
@pytest.mark.parametrize("option, value, rtol", [
    ("prefetch", 0, 0.0), ("channels_last", True, 1e-4), ("fused_adam", True, 1e-4), ("precision", "bf16", 5e-2)])
def test_wavelet_options_keep_the_loss_curve(tmp_path, which, option, value, rtol):
    key = "loss_g" if which == "gan" else "loss"
    ref = reference(which)
    _, got = part(tmp_path, which, option, **{option: value})
    np.testing.assert_allclose(curve(got, key), curve(ref, key), rtol=rtol, atol=0)


def test_score_grad_checkpointing_keeps_the_loss_curve(tmp_path):
    ref = reference("full")
    _, got = part(tmp_path, "full", "ckpt", grad_checkpoint=True)
    np.testing.assert_allclose(curve(got, "loss"), curve(ref, "loss"), rtol=1e-5, atol=0)


@pytest.mark.slow
def test_compiled_training_keeps_the_loss_curve(tmp_path):
    _, ref = hvae(tmp_path, "ref", iters=3)
    _, got = hvae(tmp_path, "compiled", iters=3, compile=True)
    np.testing.assert_allclose(curve(got, "elbo"), curve(ref, "elbo"), rtol=1e-4, atol=0)


def test_prefetched_batches_equal_the_direct_ones_and_the_thread_stops():
    b = Batches(IMAGES, META, 8, seed=3)
    with prefetched(b, range(2, 9), "cpu", 3) as feed:
        got = list(feed)
    assert [s for s, _ in got] == list(range(2, 9))
    assert all(torch.equal(x, y) for (_, pair), s in zip(got, range(2, 9)) for x, y in zip(pair, b.train(s)))
    with prefetched(b, range(0, 100), "cpu", 2) as feed:
        next(feed)                                # left early: the producer must not hang the exit
    assert not [t for t in __import__("threading").enumerate() if t.name == "prefetch"]


# ---------------------------------------------------------------- SIGTERM / SIGUSR1: checkpoint, stop, resume
class SignalAt(Batches):
    """Training batches that deliver `signum` to this process when batch `at` is made."""

    def __init__(self, at: int, signum: int, *args, **kw):
        super().__init__(*args, **kw)
        self.at, self.signum = at, signum

    def train(self, step):
        if step == self.at:
            os.kill(os.getpid(), self.signum)
        return super().train(step)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_a_signal_saves_the_state_and_the_resumed_hvae_is_bit_identical(tmp_path, signum):
    ref, ref_state = hvae(tmp_path, "ref", prefetch=0)
    with pytest.raises(Preempted) as e:
        hvae(tmp_path, "work", SignalAt(4, signum, IMAGES, META, 8, seed=3), prefetch=0)
    assert e.value.signum == signum and e.value.step == 5          # the step in flight finishes first
    assert torch.load(tmp_path / "work/latest.pt", weights_only=False)["step"] == 5
    assert signal.getsignal(signal.SIGTERM) is not None             # the loop's handlers are gone again
    got, state = hvae(tmp_path, "work", prefetch=0)
    assert state.curve == ref_state.curve and same(got.ema, ref.ema) and same(got.model, ref.model)


@pytest.mark.parametrize("which", ["full", "gan"])
def test_a_signal_saves_the_state_and_the_resumed_wavelet_part_is_bit_identical(tmp_path, which):
    ref, ref_state = part(tmp_path, which, "ref")
    meta = {**META, "input_shift": 0.0, "input_scale": 1.0}
    with pytest.raises(Preempted):
        part(tmp_path, which, "work", SignalAt(2, signal.SIGTERM, IMAGES, meta, 8, seed=1))
    got, state = part(tmp_path, which, "work")
    assert state.curve == ref_state.curve and same(got.ema, ref.ema) and same(got.model, ref.model)


class Watched(SignalAt):
    """Training batches that note the live curve file's text when each batch is made (prefetch 0: after the
    steps before it, before its own), and deliver `signum` at batch `at` (-1: never)."""

    def __init__(self, live, at: int = -1, signum: int = signal.SIGUSR1, *args, **kw):
        super().__init__(at, signum, *args, **kw)
        self.live, self.seen = live, {}

    def train(self, step):
        self.seen[step] = self.live.read_text() if self.live.exists() else None
        return super().train(step)


def curve_text(tmp_path, fields, rows) -> str:
    """A curve as the train / wtrain stages write the finished models/<p>/<run>/curve.csv."""
    write_curve(tmp_path / "curve-format.csv", fields, rows)
    return (tmp_path / "curve-format.csv").read_text()


# the family's committed curve in the tiny preset, whose header the live curve must have
COMMITTED_CURVE = {"hvae": "models/tiny/digits-x1/curve.csv", "full": "models/tiny/sgm-photos-full/curve.csv",
                   "gan": "models/tiny/wmgm-photos-gan/curve.csv"}


@pytest.mark.parametrize("which", ["hvae", "full", "gan"])
def test_the_live_curve_holds_the_rows_so_far_in_the_finished_format_and_a_resume_continues_it(tmp_path, which):
    """work/<preset>/<run>/curve.csv while training runs: at every log step the rows so far (nothing before
    the first), after SIGUSR1 the rows up to the stop, on resume kept and continued; its header is the
    committed curve's, and at the end its text is the finished curve the stage writes."""
    meta = META if which == "hvae" else {**META, "input_shift": 0.0, "input_scale": 1.0}

    def train(name, batches=None):
        if which == "hvae":
            return hvae(tmp_path, name, batches, prefetch=0, log_every=2)
        return part(tmp_path, which, name, batches, prefetch=0, log_every=2)

    def batches(at=-1):
        return Watched(live, at, signal.SIGUSR1, IMAGES, meta, 8, seed=3 if which == "hvae" else 1)

    family, ref = train("ref")
    fields, iters = family.fields, ref.step
    assert [r["step"] for r in ref.curve] == list(range(2, iters + 1, 2))

    def upto(step):                               # the uninterrupted run's curve up to a step, as text
        return curve_text(tmp_path, fields, [r for r in ref.curve if r["step"] <= step])

    live = tmp_path / "work" / LIVE_CURVE
    with pytest.raises(Preempted) as e:
        train("work", first := batches(at=2))
    assert e.value.step == 3
    assert first.seen == {0: None, 1: None, 2: upto(2)}             # a batch is made before its step runs
    assert live.read_text() == upto(3)                              # the rows up to the stop (logged: 2)
    assert live.read_text().splitlines()[0] == ",".join(fields) == (ROOT / COMMITTED_CURVE[which]).read_text().splitlines()[0]
    _, state = train("work", resumed := batches())
    assert resumed.seen[3] == upto(3)                               # resuming keeps what was written
    assert all(resumed.seen[s] == upto(s) for s in range(3, iters))
    assert live.read_text() == curve_text(tmp_path, fields, state.curve) == curve_text(tmp_path, fields, ref.curve)


@pytest.mark.slow
def test_sigterm_stops_the_train_stage_with_status_75_and_the_rerun_resumes_bit_identically(repo):
    """The real CLI as two torchrun workers (gloo): SIGTERM to the stage goes on to the workers, which agree
    on a step, save the state and stop: exit 75, nothing committed; the same command resumes and ends with
    the uninterrupted run's weights. (One process: the loop tests above, and test_stage for the status.)"""
    gpus = 2
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("iters: 250", f"iters: 120\n        gpus: {gpus}")
                      .replace("ckpt_every: 100", "ckpt_every: 1000"))
    sh("mrgen fetch --preset tiny digits && mrgen prepare --preset tiny digits", repo)
    cmd = ["mrgen", "train", "--preset", "tiny", "digits-x1"]
    out, log = repo / "models/tiny/digits-x1", repo / "logs/tiny/train/digits-x1.log"
    sh(cmd, repo)
    reference = torch.load(out / "ema.pt", weights_only=True)["state_dict"]
    shutil.rmtree(out)
    log.unlink()
    p = subprocess.Popen(cmd, cwd=repo, env=env(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while "train:" not in (log.read_text() if log.exists() else ""):   # the loop answers signals from here
        assert p.poll() is None and time.time() < deadline, p.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 75, err
    assert "training state saved to" in err and "rerun the same command to resume" in err
    assert (repo / "work/tiny/digits-x1/latest.pt").exists() and not out.exists()
    r = sh(cmd, repo)
    assert "resuming from" in r.stderr
    got = torch.load(out / "ema.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(got[k], reference[k]) for k in reference)
