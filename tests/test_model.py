"""The model against openai/vdvae's structure and the papers' parameter counts."""
import math

import pytest
import torch
import torch.nn.functional as F

from mrgen.config.spec import load
from mrgen.models.hvae import VAE, DecBlock, HVAEConfig, Layer, count_params, parse_layers
from mrgen.report.collect import matches_shown

PAPER = load(preset="paper")


def model_from_params(name, size, channels=3, likelihood="dmol"):
    cfg = {**PAPER.p["models"][name], "image_size": size, "image_channels": channels, "likelihood": likelihood}
    with torch.device("meta"):
        return VAE(HVAEConfig.from_dict(cfg))


@pytest.mark.parametrize("name,size,expected", [("vdvae_cifar10", 32, 39_145_700),
                                                ("vdvae_imagenet32", 32, 119_280_868),
                                                ("vdvae_imagenet64", 64, 125_005_860)])
def test_vdvae_parameter_counts_are_exact(name, size, expected):
    assert count_params(model_from_params(name, size)) == expected


def test_vdvae_cifar10_block_counts():
    m = model_from_params("vdvae_cifar10", 32)
    assert m.stochastic_depth == 43 and len(m.encoder.blocks) == 33


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_every_rk_has_exactly_the_x1_count(preset):
    spec = load(preset=preset)
    for panel in spec.p["experiments"]["f4"]["panels"].values():
        counts = {}
        for variant, run in panel["variants"].items():
            with torch.device("meta"):
                counts[variant] = count_params(VAE(HVAEConfig.from_dict(spec.model_config(run))))
        assert {counts[v] for v in counts if v.startswith("r")} == {counts["x1"]}
        assert counts["x1"] < counts["x2"] < counts["x3"] < counts["x4"]


@pytest.mark.parametrize("exp", ["f4", "t1", "t3"])
def test_paper_configs_match_the_papers_digits(exp):
    """Fig 4, Table 1 and Table 3: every paper-preset config has the paper's parameter count."""
    published = PAPER.raw["published"][exp]
    for panel, pdef in PAPER.p["experiments"][exp]["panels"].items():
        for variant, run in pdef["variants"].items():
            with torch.device("meta"):
                n = count_params(VAE(HVAEConfig.from_dict(PAPER.model_config(run))))
            assert matches_shown(n, published[panel][variant]["params"]), (run, n, published[panel][variant])


def test_ws_vdvae_stochastic_depths_are_the_papers():
    depths = {}
    for panel, pdef in PAPER.p["experiments"]["t1"]["panels"].items():
        with torch.device("meta"):
            depths[panel] = {VAE(HVAEConfig.from_dict(PAPER.model_config(r))).stochastic_depth
                             for v, r in pdef["variants"].items() if v.startswith("ws")}
    assert depths == {"mnist": {57}, "cifar10": {105}, "imagenet32": {235}, "celeba64": {125}}


def test_exact_counts_of_the_table_configs():
    """The counts as found (docs/decisions.md), so an accidental change to a block string shows."""
    counts = {}
    for r in ("t1-mnist-vdvae", "t1-mnist-ws", "t1-cifar10-ws25m", "t1-cifar10-ws39m", "t1-imagenet32-ws55m",
              "t1-imagenet32-ws85m", "t1-celeba64-vdvae", "t1-celeba64-ws", "t3-mnist-single", "t3-cifar10-single",
              "t3-imagenet32-single"):
        with torch.device("meta"):
            counts[r] = count_params(VAE(HVAEConfig.from_dict(PAPER.model_config(r))))
    assert counts == {"t1-mnist-vdvae": 339_161, "t1-mnist-ws": 232_129, "t1-cifar10-ws25m": 25_293_924,
                      "t1-cifar10-ws39m": 38_922_980, "t1-imagenet32-ws55m": 54_881_892,
                      "t1-imagenet32-ws85m": 84_864_740, "t1-celeba64-vdvae": 125_005_860,
                      "t1-celeba64-ws": 75_196_324, "t3-mnist-single": 327_793, "t3-cifar10-single": 39_167_812,
                      "t3-imagenet32-single": 119_232_996}


def test_layer_strings():
    assert parse_layers("8x2,8d2,4r3,1", "enc") == [Layer(8), Layer(8), Layer(8, down=2), Layer(4, repeat=3), Layer(1)]
    assert parse_layers("1x1,4m1", "dec") == [Layer(1), Layer(4, mixin=1)]
    assert parse_layers("4x2r3", "dec") == [Layer(4, repeat=3), Layer(4, repeat=3)]
    with pytest.raises(ValueError, match="bad dec layer token '4m1r2'"):
        parse_layers("4m1r2", "dec")
    with pytest.raises(ValueError, match="bad enc layer token '4m1'"):
        parse_layers("4m1", "enc")


TINY = dict(image_size=8, image_channels=3, width=16, zdim=4, likelihood="dmol",
            enc_blocks="8x1,8d2,4r2,4d4,1x1", dec_blocks="1x1,4m1,4r2,8m4,8x1")


def test_weight_sharing_reuses_one_block_with_own_latents():
    m = VAE(HVAEConfig(**TINY))
    assert len(m.decoder.blocks) == 5 and m.stochastic_depth == 6
    sched = m.decoder.schedule()
    assert sched[2][0] is sched[3][0] and [s[2:] for s in sched[2:4]] == [(1, 3), (2, 3)]
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    _, kls = m.decoder(m.encoder(x))
    assert len(kls) == 6


def test_init_scalings_and_zero_prior():
    cfg = HVAEConfig(**TINY)
    torch.manual_seed(0)
    plain = DecBlock(Layer(8), cfg, n_blocks=1)
    torch.manual_seed(0)
    scaled = DecBlock(Layer(8), cfg, n_blocks=4)
    assert torch.allclose(scaled.z_proj.weight, plain.z_proj.weight * 0.5)
    assert torch.allclose(scaled.resnet.c4.weight, plain.resnet.c4.weight * 0.5)
    assert torch.equal(scaled.posterior.c4.weight, plain.posterior.c4.weight)      # posterior not scaled
    assert not scaled.prior.c4.weight.any() and not scaled.prior.c4.bias.any()
    assert all(not c.bias.any() for b in (scaled.posterior, scaled.resnet) for c in (b.c1, b.c2, b.c3, b.c4))
    m = VAE(HVAEConfig(**TINY))
    enc_scale = math.sqrt(1 / 6)          # 6 encoder applications (4r2 counts twice)
    assert m.encoder.blocks[0].c4.weight.abs().max() <= enc_scale * 1.0 + 1e-6
    # at init the prior is N(0, I) and adds nothing to the state
    out = scaled.prior(torch.randn(2, 16, 8, 8))
    assert not out.any()


def test_block_is_preactivation_and_pools_after_residual():
    from mrgen.models.hvae import Block
    b = Block(8, 2, 8, down=2, residual=True)
    x = torch.randn(1, 8, 4, 4)
    h = b.c4(F.gelu(b.c3(F.gelu(b.c2(F.gelu(b.c1(F.gelu(x))))))))
    assert torch.allclose(b(x), F.avg_pool2d(x + h, 2))
    assert Block(8, 2, 8, use_3x3=False).c2.kernel_size == (1, 1)


def _logistic_logprob(x, m, log_s):
    """Reference: one channel of a discretised logistic, written independently in float64."""
    s = math.exp(log_s)
    cdf = lambda v: 1 / (1 + math.exp(-(v - m) / s))
    if x < -0.999:
        return math.log(cdf(x + 1 / 255))
    if x > 0.999:
        return math.log(1 - cdf(x - 1 / 255))
    return math.log(cdf(x + 1 / 255) - cdf(x - 1 / 255))


def test_dmol_matches_an_independent_reference():
    from mrgen.models.hvae import DmolNet
    net = DmolNet(4, 1)
    torch.nn.init.normal_(net.out_conv.weight)
    h = torch.randn(1, 4, 1, 1)
    l = net.out_conv(h)[0, :, 0, 0]
    coeff_free = l.clone()
    # with one mixture component and coefficients forced to 0 the channels are independent
    with torch.no_grad():
        net.out_conv.weight[[3, 6, 9]] = 0
        net.out_conv.bias[[3, 6, 9]] = 0
        l = net.out_conv(h)[0, :, 0, 0].double()
    for x in ([-1.0, 0.2, 1.0], [0.5, -0.3, 0.0]):
        xt = torch.tensor(x).view(1, 3, 1, 1)
        ours = net.nll(h, xt).item() * 3
        ref = -sum(_logistic_logprob(x[c], l[1 + 3 * c].item(), max(l[2 + 3 * c].item(), -7)) for c in range(3))
        assert ours == pytest.approx(ref, rel=1e-4)
    assert coeff_free.shape[0] == 10


def test_bernoulli_scores_the_central_crop_only():
    cfg = HVAEConfig(image_size=8, image_channels=1, width=8, zdim=2, likelihood="bernoulli", crop=2,
                     enc_blocks="8x1,8d2,4x1", dec_blocks="4x1,8m4,8x1")
    m = VAE(cfg)
    h = torch.randn(2, 8, 8, 8)
    x = torch.bernoulli(torch.full((2, 1, 8, 8), 0.5))
    logits = m.out_net.out_conv(h)[..., 2:6, 2:6]
    ref = F.binary_cross_entropy_with_logits(logits, x[..., 2:6, 2:6], reduction="none").flatten(1).mean(1)
    assert torch.allclose(m.out_net.nll(h, x), ref)
    assert cfg.likelihood_dims == 16


def test_forward_backward_and_sampling():
    torch.manual_seed(0)
    m = VAE(HVAEConfig(**TINY))
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    out = m(x, x)
    out["elbo"].mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    assert torch.allclose(out["elbo"], out["distortion"] + out["rate"])
    s = m.sample(4, t=0.7)
    assert s.shape == (4, 3, 8, 8) and s.min() >= -1 and s.max() <= 1


# ---------------------------------------------------------------- switches (Table 2, Table 3, App. G.4)
def tiny(**kw):
    return HVAEConfig(**{**TINY, **kw})


def test_normalised_state_has_unit_norm_after_every_block():
    torch.manual_seed(0)
    m = VAE(tiny(normalize_state=True, dec_blocks="1x1,4m1,4x2,8m4,8x2"))
    trace = {}
    m(torch.randn(2, 3, 8, 8), torch.rand(2, 3, 8, 8) * 2 - 1, trace=trace)
    assert all(torch.allclose(t["norm"], torch.ones(2), atol=1e-4) for t in trace["encoder"])
    # a block's input is the previous block's normalised output, except where a resolution starts (bias
    # map) or mixes in a lower resolution
    inner = [t for i, t in enumerate(trace["decoder"]) if i in (3, 6)]
    assert all(torch.allclose(t["norm"], torch.ones(2), atol=1e-4) for t in inner)
    plain = {}
    VAE(tiny(dec_blocks="1x1,4m1,4x2,8m4,8x2"))(torch.randn(2, 3, 8, 8), torch.rand(2, 3, 8, 8) * 2 - 1, trace=plain)
    assert not torch.allclose(plain["encoder"][1]["norm"], torch.ones(2), atol=1e-2)


def test_single_resolution_runs_every_block_at_full_resolution():
    m = VAE(tiny(single_resolution=True))
    assert m.decoder.resolutions == [8] and all(b.res == 8 and b.mixin is None for b in m.decoder.blocks)
    assert all(b.down is None and b.c2.kernel_size == (3, 3) for b in m.encoder.blocks)
    acts = m.encoder(torch.randn(2, 3, 8, 8))
    assert list(acts) == [8] and len(acts[8]) == 6
    out = m(torch.randn(2, 3, 8, 8), torch.rand(2, 3, 8, 8) * 2 - 1)
    assert out["elbo"].shape == (2,)
    assert m.stochastic_depth == VAE(tiny()).stochastic_depth


def test_fourier_features_start_at_zero_and_cost_one_projection_per_block():
    from mrgen.models.hvae import fourier_map
    f = fourier_map(4, 2, "cpu")
    u = (torch.arange(4) + 0.5) / 4
    assert f.shape == (1, 8, 4, 4)
    assert torch.allclose(f[0, 1, 2, :], torch.sin(2 * math.pi * u[2]).expand(4))     # sin 2^1 pi v, row 2
    assert torch.allclose(f[0, 4, :, 3], torch.sin(math.pi * u[3]).expand(4))         # sin 2^0 pi u, column 3
    torch.manual_seed(0)
    base = VAE(tiny())
    torch.manual_seed(0)
    ff = VAE(tiny(fourier_features=2))
    assert count_params(ff) - count_params(base) == 5 * (8 * 16 + 16)
    ff.load_state_dict(base.state_dict(), strict=False)
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(1)
    a = base(x, x.clamp(-1, 1))["elbo"]
    torch.manual_seed(1)
    b = ff(x, x.clamp(-1, 1))["elbo"]
    assert torch.allclose(a, b)
    torch.nn.init.normal_(ff.decoder.blocks[4].fourier_proj.weight)
    torch.manual_seed(1)
    assert not torch.allclose(ff(x, x.clamp(-1, 1))["elbo"], a)


def test_no_residual_cell_drops_the_skip_connection():
    m = VAE(tiny(residual=False))
    assert not any(b.residual for b in m.encoder.blocks) and not any(b.resnet.residual for b in m.decoder.blocks)
    assert all(b.resnet.residual for b in VAE(tiny()).decoder.blocks)
    assert count_params(m) == count_params(VAE(tiny()))


def test_sync_processing_pairs_decoder_and_encoder_states_mirrored_in_time():
    m = VAE(tiny(processing="sync"))
    states = ["e0", "e1", "e2"]
    assert [m.decoder.encoder_state(states, j, 3) for j in range(3)] == ["e2", "e1", "e0"]
    assert [m.decoder.encoder_state(states[:2], j, 4) for j in range(4)] == ["e1", "e1", "e0", "e0"]
    assert [VAE(tiny()).decoder.encoder_state(states, j, 3) for j in range(3)] == ["e2"] * 3
    # the posterior of every application receives exactly the mirrored encoder state
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    acts = m.encoder(x)
    seen = []
    hooks = [b.posterior.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0][:, 16:])) for b in m.decoder.blocks]
    m.decoder(acts)
    for h in hooks:
        h.remove()
    expected = [acts[1][1], acts[4][2], acts[4][1], acts[4][0], acts[8][0], acts[8][0]]
    assert len(seen) == 6 and all(torch.equal(a, b) for a, b in zip(seen, expected))


def test_first_only_latents_keep_depth_but_draw_fewer_latents():
    every, first = VAE(tiny()), VAE(tiny(ws_latents="first"))
    assert count_params(every) == count_params(first)
    assert every.stochastic_depth == 6 and first.stochastic_depth == 5     # 4r2: one latent, two steps
    x = torch.randn(2, 3, 8, 8)
    _, kls = first.decoder(first.encoder(x))
    assert len(kls) == 5 and len(first.decoder.schedule()) == 6


def test_gradient_checkpointing_gives_identical_loss_and_gradients():
    torch.manual_seed(0)
    m = VAE(tiny(dec_blocks="1x1,4m1,4r3,8m4,8x2"))
    x = torch.randn(3, 3, 8, 8)
    results = []
    for on in (False, True):
        m.set_grad_checkpoint(on).zero_grad()
        torch.manual_seed(5)
        loss = m(x, x.clamp(-1, 1))["elbo"].mean()
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in m.parameters()]))
    (l0, g0), (l1, g1) = results
    assert torch.equal(l0, l1)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(g0, g1))


def test_sampled_kl_is_the_log_density_ratio_and_averages_to_the_analytic_kl():
    from mrgen.models.hvae import gaussian_kl, gaussian_log_ratio
    torch.manual_seed(0)
    qm, pm, qv, pv = torch.randn(4), torch.randn(4), torch.randn(4) * 0.3, torch.randn(4) * 0.3
    eps = torch.randn(200_000, 4)
    z = qm + qv.exp() * eps
    ref = torch.distributions.Normal(qm, qv.exp()).log_prob(z) - torch.distributions.Normal(pm, pv.exp()).log_prob(z)
    ours = gaussian_log_ratio(z, eps, pm, qv, pv)
    assert torch.allclose(ours, ref, atol=1e-4)
    assert torch.allclose(ours.mean(0), gaussian_kl(qm, pm, qv, pv), atol=0.02)


def test_bf16_autocast_forward_is_close_to_fp32():
    torch.manual_seed(0)
    m = VAE(tiny())
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(1)
    ref = m(x, x.clamp(-1, 1))["elbo"]
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = m(x, x.clamp(-1, 1))
    assert low["elbo"].dtype == torch.float32 and torch.allclose(low["elbo"], ref, rtol=0.05)
