"""Small training recipes for tests, completed with the schema's defaults (mrgen.config.schema), and the
two ways tests train: an HVAE and a wavelet part through the one loop."""
from mrgen.config.schema import Training, WaveletTraining
from mrgen.models.wavelet import methods
from mrgen.train.dist import Dist
from mrgen.train.hvae import HVAE
from mrgen.train.loop import fit
from mrgen.train.wavelet import GAN, Score


def hvae_recipe(**kw) -> dict:
    base = dict(iters=8, batch_size=8, lr=3e-3, wd=0.01, warmup_iters=0, grad_clip=200.0, skip_threshold=1e9,
                ema_rate=0.5, ckpt_every=3, log_every=1, val_every=1000)
    return Training.model_validate({**base, **kw}).model_dump()


def wavelet_recipe(**kw) -> dict:
    base = dict(iters=6, batch_size=8, lr=1e-3, wd=0.0, warmup_iters=2, grad_clip=1.0, ema_rate=0.9, ckpt_every=3,
                log_every=1)
    return WaveletTraining.model_validate({**base, **kw}).model_dump()


def train_hvae(cfg, t, train_b, val_b, work, fingerprint="fp", seed=0, dist=Dist()):
    """(family, state): family.model and family.ema are the trained modules."""
    family = HVAE(cfg, t, val_b, seed, dist)
    return family, fit(family, train_b, t, work, fingerprint, dist)


def train_part(part, net, batches, t, work, levels=0, std=None, seed=0, fingerprint="fp"):
    family = (GAN(net, t, levels, net.cfg, seed) if part == "gan"
              else Score(part, net, t, levels, std, 5.0, "quadratic", seed))
    return family, fit(family, batches, t, work, fingerprint)


__all__ = ["hvae_recipe", "wavelet_recipe", "train_hvae", "train_part", "methods"]
