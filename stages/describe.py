"""describe: every run of a preset as CSV `run,dataset,model,params,stochastic_depth,kind,model_name`
(models built on the meta device, nothing trained): HVAE runs (kind hvae), and each part of each wavelet
model (kind wavelet, run `<model>-<part>`, model = its network; a GAN part counts the generator only).
Prints to stdout, or with --output is the DAG stage describe@PRESET."""
import argparse
import csv
import io

import torch

from mrgen import stage
from mrgen.models.hvae import VAE, HVAEConfig, count_params
from mrgen.models.wavelet import methods
from mrgen.spec import Spec, load

FIELDS = ("run", "dataset", "model", "params", "stochastic_depth", "kind", "model_name")


def describe(spec: Spec) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    with torch.device("meta"):
        for r, run in spec.p["runs"].items():
            m = VAE(HVAEConfig.from_dict(spec.model_config(r)))
            w.writerow([r, run["dataset"], run["model"], count_params(m), m.stochastic_depth, "hvae", r])
        for name, (model, part) in spec.wavelet_parts().items():
            wm = spec.p["wavelet_models"][model]
            ds = spec.p["datasets"][wm["dataset"]]
            net = wm["parts"][part]["net"]
            cfg = methods.net_config(part, spec.p["wavelet_nets"][net], ds["image_size"], ds["channels"], wm["levels"])
            w.writerow([name, wm["dataset"], net, count_params(methods.build(cfg)), "", "wavelet", model])
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m stages.describe", description=__doc__)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--output", help="write CSV here plus a provenance record (the DAG stage)")
    args = ap.parse_args(argv)

    def go():
        spec = load(preset=args.preset)
        if not args.output:
            print(describe(spec), end="")
            return
        dag = load()          # the instance belongs to the DAG of the selected preset

        def body(ctx):
            ctx.out(args.output).write_text(describe(spec))
        stage.execute(dag, "describe", args.preset, body)
    stage.guarded(go)


if __name__ == "__main__":
    main()
