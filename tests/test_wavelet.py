"""The wavelet paper's pieces: Haar transforms vs pywavelets, Theorem 2, parameter counts against the
reference configs, the OU sampler on a Gaussian with its exact score, SSIM, the cascades, FID through
clean-fid's own code with a stand-in feature extractor, and the W5 / W6 statistics."""
import math

import numpy as np
import pytest
import pywt
import torch
from PIL import Image
from recipes import train_part, wavelet_recipe

from mrgen.analysis.theorem2 import theorem2
from mrgen.analysis.wavelet_stats import analyse, gaussian_kl
from mrgen.metrics import fid as fidm
from mrgen.models.wavelet import diffusion, methods
from mrgen.models.wavelet.gan import Discriminator, GANConfig, Generator, count, ssim
from mrgen.models.wavelet.haar import dwt2, idwt2, wavedec, waverec
from mrgen.models.wavelet.unet import ScoreUNet, UNetConfig


def meta_count(module_fn):
    with torch.device("meta"):
        return count(module_fn())


# ---------------------------------------------------------------- transforms
@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
def test_haar_equals_pywavelets_and_inverts(levels):
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(levels))
    ours = wavedec(x, levels)
    ref = pywt.wavedec2(x.numpy(), "haar", level=levels, axes=(-2, -1))
    assert np.abs(ours[0].numpy() - ref[0]).max() < 1e-6
    for d, (ch, cv, cd) in zip(ours[1:], ref[1:]):
        assert np.abs(d.numpy() - np.concatenate([ch, cv, cd], axis=1)).max() < 1e-6
    assert torch.allclose(waverec(ours), x, atol=1e-12)
    back = pywt.waverec2([ours[0].numpy()] + [tuple(np.split(d.numpy(), 3, axis=1)) for d in ours[1:]], "haar",
                         axes=(-2, -1))
    assert np.abs(back - x.numpy()).max() < 1e-6
    energy = sum((c ** 2).sum() for c in ours)                     # orthonormal
    assert math.isclose(energy.item(), (x ** 2).sum().item(), rel_tol=1e-12)


def test_haar_rejects_odd_sizes_and_mismatched_bands():
    with pytest.raises(ValueError, match="even"):
        dwt2(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="do not match"):
        idwt2(torch.zeros(1, 3, 4, 4), torch.zeros(1, 6, 4, 4))


def test_theorem2_errors_are_float_roundoff():
    real = np.random.RandomState(0).randint(0, 256, (6, 32, 32, 3)).astype(np.uint8)
    t = theorem2(real, n_random=3, random_size=64, levels=5, seed=0)
    for src in ("random", "real"):
        for e in t[src]["float64"].values():
            assert max(e.values()) < 1e-13
        for e in t[src]["float32"].values():
            assert max(e.values()) < 1e-5
    assert t["real"]["levels"] == 5 and set(t["random"]["float64"]) == {"1", "2", "3", "4", "5"}
    # the check can fail: a transform scaled by 1/2 per level (plain averaging) is not the Haar LL band
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    assert not torch.allclose(torch.nn.functional.avg_pool2d(x, 2), dwt2(x)[0])


# ---------------------------------------------------------------- parameter counts (wavelet_reference.md)
@pytest.mark.parametrize("size,cin,cout,mult,expected", [
    (128, 3, 3, (1, 2, 2, 4, 4), "160.3"),        # SGM baseline at 128 px
    (32, 3, 3, (1, 2, 2, 2), "52.5"),             # WSGM unconditional LL_2
    (32, 12, 9, (2, 4, 4), "142.1"),              # WSGM conditional HF_2 | LL_2
    (64, 12, 9, (2, 2, 4, 4), "156.3"),           # WSGM conditional HF_1 | LL_1
])
def test_score_unet_counts_equal_the_wsgm_configs(size, cin, cout, mult, expected):
    n = meta_count(lambda: ScoreUNet(UNetConfig(size, cin, cout, 128, mult, 3, (16, 8))))
    assert f"{n / 1e6:.1f}" == expected


def test_wsgm_total_is_351m_and_the_gan_is_14_25m_at_width_40():
    parts = [(32, 3, 3, (1, 2, 2, 2)), (32, 12, 9, (2, 4, 4)), (64, 12, 9, (2, 2, 4, 4))]
    total = sum(meta_count(lambda p=p: ScoreUNet(UNetConfig(*p[:3], 128, p[3], 3, (16, 8)))) for p in parts)
    assert f"{total / 1e6:.1f}" == "351.0"
    assert f"{meta_count(lambda: Generator(GANConfig(width=40))) / 1e6:.2f}" == "14.25"
    assert f"{meta_count(lambda: Generator(GANConfig(width=64))) / 1e6:.2f}" == "36.47"
    assert f"{meta_count(lambda: Discriminator(GANConfig(width=40))) / 1e6:.2f}" == "16.66"
    assert f"{meta_count(lambda: Discriminator(GANConfig(width=64))) / 1e6:.2f}" == "42.63"


def test_generator_maps_ll_and_noise_to_details_within_the_level_range():
    g = Generator(GANConfig(width=8, levels=3)).eval()
    for level, size in ((1, 8), (2, 4)):
        ll = torch.rand(2, 3, size, size) * 2 ** level
        d = g(ll, torch.randn_like(ll), level)
        assert d.shape == (2, 9, size, size) and d.abs().max() <= 2 ** (level - 1)
    with pytest.raises(ValueError, match="divisible"):
        g(torch.rand(1, 3, 6, 6), torch.rand(1, 3, 6, 6), 1)


def test_score_unet_conditions_on_extra_channels_and_depends_on_time():
    net = ScoreUNet(UNetConfig(8, 12, 9, 32, (1, 2), 1, (4,), heads=2))
    for p in net.parameters():                                      # leave the zero-initialised outputs non-zero
        torch.nn.init.normal_(p, std=0.05)
    x, c = torch.randn(2, 9, 8, 8), torch.randn(2, 3, 8, 8)
    a, b = net(x, torch.tensor([0.1, 0.1]), c), net(x, torch.tensor([4.0, 4.0]), c)
    assert a.shape == (2, 9, 8, 8) and not torch.allclose(a, b)
    assert not torch.allclose(a, net(x, torch.tensor([0.1, 0.1]), torch.zeros_like(c)))


# ---------------------------------------------------------------- diffusion
def exact_eps(s):
    """The noise predictor of data N(0, s^2 I) under the OU process (its exact score)."""
    def net(x, t, cond, horizon):
        abar = torch.exp(-2 * t).view(-1, *([1] * (x.dim() - 1)))
        return x * torch.sqrt(1 - abar) / (abar * s * s + 1 - abar)
    return net


@pytest.mark.parametrize("schedule,steps", [("uniform", 1024), ("quadratic", 256)])
def test_the_ancestral_sampler_with_the_exact_score_recovers_the_data_law(schedule, steps):
    """The last step returns the posterior mean, so the residual noise scale sqrt(1 - e^{-2 t_1}) of the
    first grid point is the sampler's bias: small for the quadratic grid, needs more uniform steps."""
    g = torch.Generator().manual_seed(0)
    x = diffusion.sample(exact_eps(0.5), (20000, 1), steps, 5.0, schedule, generator=g)
    assert abs(x.std().item() - 0.5) < 0.02 and abs(x.mean().item()) < 0.02
    few = diffusion.sample(exact_eps(0.5), (20000, 1), 2, 5.0, schedule, generator=g)
    assert abs(few.std().item() - 0.5) > abs(x.std().item() - 0.5)      # few steps: coarser


def test_forward_process_and_time_grid():
    grid = diffusion.time_grid(4, 5.0, "quadratic")
    assert grid[0] == 0 and grid[-1] == 5.0 and torch.allclose(grid, 5.0 * torch.linspace(0, 1, 5, dtype=torch.float64) ** 2)
    x0, eps = torch.ones(3, 2), torch.zeros(3, 2)
    xt = diffusion.diffuse(x0, torch.tensor([0.0, 1.0, 5.0]), eps)
    assert torch.allclose(xt[:, 0], torch.exp(-torch.tensor([0.0, 1.0, 5.0])))
    with pytest.raises(ValueError, match="schedule"):
        diffusion.time_grid(4, 5.0, "cosine")


def test_ssim_is_one_for_equal_images_and_lower_for_noise():
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(x, (x + 0.3 * torch.randn_like(x)).clamp(0, 1)).item() < 0.9


# ---------------------------------------------------------------- methods
STATS = None


def toy_stats(x, levels):
    out = {"ll": {}, "hf": {}}
    ll = x
    for j in range(1, levels + 1):
        ll, d = dwt2(ll)
        out["ll"][str(j)] = {"mean": ll.mean(dim=(0, 2, 3)).tolist(), "std": ll.std(dim=(0, 2, 3)).tolist()}
        out["hf"][str(j)] = {"mean": d.mean(dim=(0, 2, 3)).tolist(), "std": d.std(dim=(0, 2, 3)).tolist()}
    return out


def test_training_pairs_are_standardised_bands_and_the_cascades_make_images():
    x = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    std = methods.Standardiser(toy_stats(x, 2))
    x0, cond = methods.training_pair("hf1", x, 2, std)
    assert x0.shape == (16, 9, 8, 8) and cond.shape == (16, 3, 8, 8)
    assert torch.allclose(x0.mean(dim=(0, 2, 3)), torch.zeros(9), atol=1e-5)
    assert torch.allclose(x0.std(dim=(0, 2, 3)), torch.ones(9), atol=1e-5)
    ll, _ = methods.training_pair("ll", x, 2, std)
    assert ll.shape == (16, 3, 4, 4)
    assert methods.parts("wsgm", 2) == ["ll", "hf2", "hf1"] and methods.parts("wmgm", 2) == ["ll", "gan"]
    small = {"channels": 32, "channel_mult": [1, 2], "res_blocks": 1, "attention": [], "heads": 1}
    nets = {p: methods.build(methods.net_config(p, small, 16, 3, 2)).eval() for p in ("ll", "hf2", "hf1", "full")}
    nets["gan"] = methods.build(methods.net_config("gan", {"width": 8, "levels": 3}, 16, 3, 2)).eval()
    for method in methods.METHODS:
        img = methods.generate(method, nets, 3, 2, 16, 3, 0 if method == "sgm" else 2, std, 5.0, "quadratic",
                               torch.Generator().manual_seed(0))
        assert img.shape == (3, 3, 16, 16) and 0 <= img.min() and img.max() <= 1
    pairs = methods.gan_pairs(x, 2)
    assert [(j, ll.shape[-1], d.shape[1]) for j, ll, d in pairs] == [(1, 8, 9), (2, 4, 9)]
    assert torch.allclose(idwt2(pairs[1][1], pairs[1][2]), pairs[0][1], atol=1e-6)   # teacher forcing targets


# ---------------------------------------------------------------- FID
class StandIn:
    """A documented stand-in for Inception: the mean of each 299x299 colour plane's 8 horizontal bands
    (24 features), so FID runs clean-fid's real loader, resizer and Frechet code without the weights."""

    def __call__(self, x):
        b = x.shape[0]
        return x[:, :, :296].reshape(b, 3, 8, 37, 299).mean(dim=(3, 4)).reshape(b, 24) / 255.0


def test_frechet_distance_equals_the_gaussian_closed_form():
    rng = np.random.RandomState(0)
    mu1, mu2 = rng.randn(5), rng.randn(5)
    s1, s2 = np.diag(rng.rand(5) + 0.5), np.diag(rng.rand(5) + 0.5)
    closed = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.sqrt(s1 @ s2))
    assert fidm.frechet(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-9)
    a = rng.randn(5, 5)
    s = a @ a.T + np.eye(5)
    assert fidm.frechet(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("n", [48, 600])
def test_frechet_equals_clean_fids_sqrtm_and_the_low_rank_form(n):
    """Few samples in many dimensions (tiny: 48 in 2048) make S1 singular; the eigen form agrees with
    clean-fid's sqrtm there too (to 1e-7), and with tr (A S2 A^T)^(1/2), A the n x d centred features / sqrt(n-1)."""
    from cleanfid import fid as cf
    rng = np.random.default_rng(0)
    d = 512
    x = rng.standard_normal((n, d)) @ (0.05 * rng.standard_normal((d, d)))
    y = rng.standard_normal((300, d)) @ (0.05 * rng.standard_normal((d, d))) + 0.1
    (mu1, s1), (mu2, s2) = fidm.statistics(x), fidm.statistics(y)
    ours = fidm.frechet(mu1, s1, mu2, s2)
    assert ours == pytest.approx(cf.frechet_distance(mu1, s1, mu2, s2), rel=1e-7)
    a = (x - mu1) / np.sqrt(n - 1)
    if n < d:
        low = np.sqrt(np.clip(np.linalg.eigvalsh(a @ s2 @ a.T), 0, None)).sum()
        diff = mu1 - mu2
        assert ours == pytest.approx(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * low, rel=1e-7)


def test_our_fid_path_equals_clean_fid_compute_fid_on_the_same_folders(tmp_path):
    from cleanfid import fid as cf
    rng = np.random.RandomState(0)
    a = rng.randint(0, 256, (24, 16, 16, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.randint(-60, 60, a.shape), 0, 255).astype(np.uint8)
    fidm.write_pngs(a, tmp_path / "a")
    fidm.write_pngs(b, tmp_path / "b")
    f = StandIn()
    mu_a, s_a = fidm.statistics(fidm.array_features(a, f, 8))            # the fidref path (array -> PNG -> clean-fid)
    mu_b, s_b = fidm.statistics(fidm.folder_features(tmp_path / "b", f, 8))
    ours = fidm.frechet(mu_b, s_b, mu_a, s_a)
    theirs = cf.compute_fid(str(tmp_path / "b"), str(tmp_path / "a"), mode="clean", custom_feat_extractor=f,
                            device=torch.device("cpu"), num_workers=0, batch_size=8, verbose=False,
                            use_dataparallel=False)
    assert ours == pytest.approx(theirs, abs=1e-6) and ours > 1e-3
    assert fidm.frechet(mu_a, s_a, mu_a, s_a) == pytest.approx(0.0, abs=1e-6)
    assert Image.open(tmp_path / "a" / "000000.png").mode == "RGB"


def test_fid_extractor_names_the_weights_format(tmp_path):
    with pytest.raises(ValueError, match="weights_format"):
        fidm.Extractor(tmp_path / "w.pt", "other")
    with pytest.raises(ValueError, match="inception-2015-12-05.pt"):
        fidm.Extractor(tmp_path / "w.pt", "nvidia")


# ---------------------------------------------------------------- W5 / W6
def test_gaussian_kl_is_zero_for_standard_normal_data_and_grows_with_correlation():
    rng = np.random.RandomState(0)
    white = rng.randn(20000, 6)
    assert gaussian_kl(white, "n0_n1") < 0.01 and gaussian_kl(white, "n1_n0") < 0.01
    mixed = white @ np.linalg.cholesky(0.9 * np.ones((6, 6)) + 0.1 * np.eye(6)).T
    assert gaussian_kl(mixed, "n0_n1") > 1.0


def test_wavelet_statistics_of_smooth_images_have_sparse_heavy_tailed_details():
    yy, xx = np.mgrid[0:16, 0:16]
    rng = np.random.RandomState(0)
    imgs = []
    for _ in range(200):                                             # smooth ramps with a few hard edges
        a = (rng.rand() * xx + rng.rand() * yy) * 6 + 40 + 80 * (xx > rng.randint(2, 14))
        imgs.append(np.repeat(a[..., None], 3, axis=2))
    st = analyse(np.clip(imgs, 0, 255).astype(np.uint8), 2, 192, "n0_n1", 21, 6.0)
    assert set(st["kl"]) == {"1", "2"} and st["kl"]["1"]["dim"] == 192
    v = st["sparsity"]["1"]["V"]
    assert v["kurtosis"] > 3 and v["frac_small"] > 0.08
    assert sum(np.diff(v["hist_edges"]) * np.asarray(v["hist_density"])) == pytest.approx(1.0, abs=0.05)
    assert len(st["ll"]["2"]["mean"]) == 3 and len(st["hf"]["2"]["std"]) == 9


# ---------------------------------------------------------------- training
def tiny_batches(n=64, size=8):
    from mrgen.data.loader import Batches
    imgs = np.random.RandomState(0).randint(0, 256, (n, size, size, 3)).astype(np.uint8)
    return Batches(imgs, {"likelihood": "dmol", "input_shift": 0.0, "input_scale": 1.0}, 8, seed=1)


SCORE_T = wavelet_recipe()


@pytest.mark.parametrize("part", ["full", "gan"])
def test_a_resumed_part_equals_the_uninterrupted_run(tmp_path, part):
    """The first run leaves work/latest.pt at step 3; a fresh process resuming from it ends bit-equal."""
    small = {"channels": 16, "channel_mult": [1, 2], "res_blocks": 1, "attention": [], "heads": 1,
             "width": 4, "levels": 2, "disc_blocks": 2}
    t = wavelet_recipe(lr_d=1e-4, d_every=2, losses={"adv": 0.1, "mse": 20.0, "ssim": 0.5})

    def run():
        torch.manual_seed(0)
        net = methods.build(methods.net_config(part, small, 8, 3, 1))
        family, state = train_part(part, net, tiny_batches(), t, tmp_path, levels=1 if part == "gan" else 0)
        return family.model, family.ema, state

    _, ema_a, state_a = run()
    assert (tmp_path / "latest.pt").exists() and torch.load(tmp_path / "latest.pt", weights_only=True)["step"] == 3
    _, ema_b, state_b = run()
    assert state_b.curve == state_a.curve and len(state_a.curve) == 6
    assert all(torch.equal(a, b) for a, b in zip(ema_a.state_dict().values(), ema_b.state_dict().values()))
    key = "loss_g" if part == "gan" else "loss"
    assert all(math.isfinite(r[key]) for r in state_a.curve)


def test_frechet_refuses_statistics_it_cannot_use():
    mu, s = np.zeros(3), np.eye(3)
    bad = np.eye(3)
    bad[0, 1] = 0.5
    with pytest.raises(ValueError, match="second Gaussian: expected a symmetric covariance"):
        fidm.frechet(mu, s, mu, bad)
    with pytest.raises(ValueError, match=r"second Gaussian: expected mu of shape \(3,\)"):
        fidm.frechet(mu, s, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="first Gaussian: expected finite statistics"):
        fidm.frechet(mu, np.full((3, 3), np.nan), mu, s)
