"""evaluate: a run's EMA weights -> results/metrics/<run>/nll.json (single-sample ELBO, val and test)."""
import torch

from mrgen import stage
from mrgen.data.loader import Batches
from mrgen.data.prepared import Prepared
from mrgen.io import write_json
from mrgen.metrics.nll import elbo_nll
from mrgen.models.hvae import VAE, HVAEConfig, count_params
from mrgen.spec import ROOT


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    run, ev = spec.run(name), spec.p["evaluation"]
    ck = torch.load(ROOT / spec.model_dir(name) / "ema.pt", map_location="cpu", weights_only=True)
    cfg = HVAEConfig(**ck["config"])
    model = VAE(cfg)
    model.load_state_dict(ck["state_dict"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    data = Prepared.open(ROOT / spec.prepared(run["dataset"]))
    result = {split: elbo_nll(model, Batches(data.split(split), data.meta, ev["batch_size"]), ev["seed"],
                              cfg.likelihood_dims, desc=split) for split in ("val", "test")}
    write_json(ctx.out(f"{spec.metrics_dir(name)}/nll.json"), {
        "run": name, "dataset": run["dataset"], "likelihood": cfg.likelihood, "weights": "ema",
        "estimator": "single-sample ELBO", "train_steps": ck["step"], "n_params": count_params(model),
        "stochastic_depth": model.stochastic_depth, **result})
    ctx.info.update(seed=ev["seed"], device=device)


if __name__ == "__main__":
    stage.run("evaluate", body)
