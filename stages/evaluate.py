"""evaluate: a run's EMA weights -> results/metrics/<run>/nll.json.

Single-sample ELBO on val and test (VDVAE's protocol); for Bernoulli datasets also the importance-weighted
bound on test with evaluation.iw_samples samples (NVAE's MNIST protocol), reported separately."""
import torch

from mrgen.data.loader import Batches
from mrgen.data.prepared import Prepared
from mrgen.io import write_json
from mrgen.metrics.nll import elbo_nll, iw_nll
from mrgen.models.hvae import count_params, load_checkpoint
from mrgen.paths import ROOT


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    run, ev = spec.run(name), spec.p["evaluation"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_checkpoint(ROOT / spec.paths.model_dir(name) / "ema.pt", device)
    cfg = model.cfg
    data = Prepared.open(ROOT / spec.paths.prepared(run["dataset"]))
    batches = {s: Batches(data.split(s), data.meta, ev["batch_size"]) for s in ("val", "test")}
    result = {s: elbo_nll(model, b, ev["seed"], cfg.likelihood_dims, desc=s) for s, b in batches.items()}
    if cfg.likelihood == "bernoulli" and ev["iw_samples"] > 0:
        result["test_iw"] = iw_nll(model, batches["test"], ev["iw_samples"], ev["seed"], cfg.likelihood_dims,
                                   limit=ev["iw_images"], desc="test IW")
    write_json(ctx.out(f"{spec.paths.metrics_dir(name)}/nll.json"), {
        "run": name, "dataset": run["dataset"], "likelihood": cfg.likelihood, "weights": "ema",
        "estimator": "single-sample ELBO", "train_steps": model.step, "n_params": count_params(model),
        "stochastic_depth": model.stochastic_depth, **result})
    ctx.info.update(seed=ev["seed"], device=device)

