"""describe: every run of a preset as CSV `run,dataset,model,params,stochastic_depth,kind,model_name`
(models built on the meta device, nothing trained): HVAE runs (kind hvae), and each part of each wavelet
model (kind wavelet, run `<model>-<part>`, model = its network; a GAN part counts the generator only; a
part shared with another model counts in both).
`mrgen describe --preset P` prints it; the DAG stage describe@P writes results/<dag preset>/describe/P.csv."""
import csv
import io

import torch

from mrgen.config.spec import Spec
from mrgen.models.hvae import VAE, HVAEConfig, count_params
from mrgen.models.wavelet import methods

FIELDS = ("run", "dataset", "model", "params", "stochastic_depth", "kind", "model_name")


def describe(spec: Spec) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    with torch.device("meta"):
        for r, run in spec.p["runs"].items():
            m = VAE(HVAEConfig.from_dict(spec.model_config(r)))
            w.writerow([r, run["dataset"], run["model"], count_params(m), m.stochastic_depth, "hvae", r])
        for model, wm in spec.p["wavelet_models"].items():
            ds = spec.p["datasets"][wm["dataset"]]
            for part in wm["parts"]:                # a shared part counts in every model that uses it
                net = spec.wavelet_part(model, part)[1]["net"]
                cfg = methods.net_config(part, spec.p["wavelet_nets"][net], ds["image_size"], ds["channels"], wm["levels"])
                w.writerow([f"{model}-{part}", wm["dataset"], net, count_params(methods.build(cfg)), "", "wavelet", model])
    return buf.getvalue()


def show(spec: Spec) -> None:
    """`mrgen describe --preset P`: print the counts."""
    print(describe(spec), end="")


def body(ctx):
    """describe@P in a DAG: the counts of preset P (the DAG's own, or the paper-scale reference)."""
    ctx.out(ctx.spec.paths.describe_csv(ctx.stage.name)).write_text(describe(ctx.spec.for_preset(ctx.stage.name)))
