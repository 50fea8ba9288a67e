"""states: a run's EMA weights -> results/metrics/<run>/states.json (Fig 5: state norms, backward error)."""
import torch

from mrgen.data.loader import Batches
from mrgen.data.prepared import Prepared
from mrgen.io import write_json
from mrgen.metrics.states import state_norms
from mrgen.models.hvae import load_checkpoint
from mrgen.paths import ROOT


def body(ctx):
    spec, name = ctx.spec, ctx.stage.name
    run, ev = spec.run(name), spec.p["evaluation"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_checkpoint(ROOT / spec.paths.model_dir(name) / "ema.pt", device)
    data = Prepared.open(ROOT / spec.paths.prepared(run["dataset"]))
    st = ev["states"]
    out = state_norms(model, Batches(data.split("test"), data.meta, st["batch_size"]), st["batches"], ev["seed"])
    write_json(ctx.out(f"{spec.paths.metrics_dir(name)}/states.json"),
               {"run": name, "dataset": run["dataset"], "split": "test", "weights": "ema",
                "batches": st["batches"], "batch_size": st["batch_size"], **out})
    ctx.info.update(seed=ev["seed"], device=device)

