"""The one path convention. Everything a preset makes lives under a folder named after it, so the tiny and
paper DAGs, their locks and their results coexist in one checkout:

    data/<preset>/raw/<dataset>/                        raw files (DVC-tracked), record beside the folder
    data/<preset>/prepared/<dataset>/{train,val,test}.npy + meta.json, record beside the folder
    models/<preset>/<run>/{model.pt, ema.pt, curve.csv, provenance.json}
    work/<preset>/<run>/latest.pt                       resumable state, not a DAG output
    results/<preset>/{metrics,samples,analysis,describe,tables,figures}/...
    logs/<preset>/<kind>/<instance>.log

The repository root is the folder the engines run in: $MRGEN_ROOT, else the nearest folder upwards from
the working directory that holds params.yaml.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def find_root() -> Path:
    if os.environ.get("MRGEN_ROOT"):
        return Path(os.environ["MRGEN_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "params.yaml").is_file():
            return d
    return Path(__file__).resolve().parents[2]


ROOT = find_root()


@dataclass(frozen=True)
class Paths:
    """Where each stage kind of one preset reads and writes; names are validated before they get here."""
    preset: str

    def raw_dir(self, dataset: str) -> str:
        return f"data/{self.preset}/raw/{dataset}"

    def prepared(self, dataset: str) -> str:
        return f"data/{self.preset}/prepared/{dataset}"

    def model_dir(self, run: str) -> str:
        return f"models/{self.preset}/{run}"

    def work_dir(self, run: str) -> str:
        return f"work/{self.preset}/{run}"

    def results(self, *parts: str) -> str:
        return "/".join((f"results/{self.preset}",) + parts)

    def metrics_dir(self, run: str) -> str:
        return self.results("metrics", run)

    def samples_file(self, run: str) -> str:
        return self.results("samples", f"{run}.npz")

    def samples_dir(self, setting: str) -> str:
        return self.results("samples", setting)

    def describe_csv(self, of_preset: str) -> str:
        return self.results("describe", f"{of_preset}.csv")

    def wstats_file(self, dataset: str) -> str:
        return self.results("analysis", "wavelet", f"{dataset}.json")

    def th2_file(self, experiment: str) -> str:
        return self.results("analysis", f"{experiment}.json")

    def fidref_file(self, dataset: str) -> str:
        return self.results("metrics", "fidref", f"{dataset}.npz")

    def table(self, experiment: str, ext: str) -> str:
        return self.results("tables", f"{experiment}.{ext}")

    def figure(self, experiment: str, ext: str) -> str:
        return self.results("figures", f"{experiment}.{ext}")

    def report(self, ext: str, preset: str | None = None) -> str:
        """The reproduction report page of a preset: results/<preset>/report.{html,md} and its record."""
        return f"results/{preset or self.preset}/report.{ext}"

    def params_dir(self, preset: str | None = None) -> str:
        """Where DVC reads stage params: one small JSON file per stage with exactly the params.yaml keys it
        tracks (written by the params stage and by the Snakefile; DVC parses and searches a params file
        per stage, so a small JSON file costs a millisecond where params.yaml cost 0.2 s)."""
        return f"pipelines/{preset or self.preset}/params"

    def params_file(self, kind: str, name: str) -> str:
        return f"{self.params_dir()}/{kind}-{name}.json"

    def code_dir(self, preset: str | None = None) -> str:
        """Where DVC reads each stage kind's code: one JSON file per kind holding the sha256 of every source
        file its numbers depend on (written by the code stage and by the Snakefile). A DVC stage depends on
        its kind's file instead of on each source file: DVC builds, validates and checks one dependency
        per entry of every stage, and code files were 70 % of them."""
        return f"pipelines/{preset or self.preset}/code"

    def code_file(self, kind: str) -> str:
        return f"{self.code_dir()}/{kind}.json"

    def log(self, kind: str, name: str) -> str:
        """Every run of the instance, appended (retries, requeues and successes alike): no engine removes it."""
        return f"logs/{self.preset}/{kind}/{name}.log"

    def attempt_log(self, kind: str, name: str) -> str:
        """The last run's stderr alone: Snakemake's `log:` (it empties it before a run and shows it on failure)."""
        return f"logs/{self.preset}/{kind}/{name}.attempt.log"

    def lock(self, kind: str, name: str) -> str:
        return f"work/{self.preset}/.locks/{kind}-{name}.lock"

    def staging(self) -> str:
        return f"work/{self.preset}/.staging"

    @staticmethod
    def dvc_yaml(preset: str, default: str) -> str:
        """The default preset's DAG is the repository's dvc.yaml; any other one's is pipelines/<p>/dvc.yaml."""
        return "dvc.yaml" if preset == default else f"pipelines/{preset}/dvc.yaml"
