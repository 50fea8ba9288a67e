# Shared helpers: every rule is one stage kind; its instances, inputs, outputs, params and command
# come from mrgen.spec, the same builders that generate dvc.yaml.
import json

from mrgen.spec import Stage, load

SPEC = load()
STAGES = {(s.kind, s.name): s for s in SPEC.stages()}


def names(kind):
    """Wildcard constraint: exactly this preset's instances of a stage kind."""
    return "|".join(sorted(n for k, n in STAGES if k == kind)) or "^$"


def deps(kind):
    return lambda wc: STAGES[(kind, wc.name)].deps


def params_json(kind):
    """The stage's declared params as one string, so Snakemake's params trigger sees any change."""
    return lambda wc: json.dumps(SPEC.stage_params(STAGES[(kind, wc.name)]), sort_keys=True)


def outputs(stage):
    """Output patterns of a template instance (name '{name}'), directories marked for Snakemake."""
    return [directory(o.path) if o.directory else o.path for o in stage.outs]


def shell_cmd(kind):
    """The command of instance {wildcards.name}: the same string dvc.yaml runs."""
    return SPEC.cmd(kind, "{wildcards.name}")


def train_gpus(wc):
    """GPUs of a training job = the DDP processes its training recipe asks for (training.gpus)."""
    return SPEC.p["training"][SPEC.run(wc.name)["training"]]["gpus"]


def wavelet_outputs(kind):
    """Output patterns of a wtrain / wsample / fid instance."""
    return outputs(Stage(kind, "{name}", "", [], SPEC.wavelet_outs(kind, "{name}")))
