"""The preset switch: `python -m stages.preset NAME` selects NAME in params.yaml (`preset:`) and
regenerates dvc.yaml from it; Snakemake reads the same key. `--check` only verifies dvc.yaml is fresh."""
import argparse
import re
import sys

from mrgen import stage
from mrgen.dag import render
from mrgen.io import write_text
from mrgen.spec import ROOT, SpecError, load


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m stages.preset", description=__doc__)
    ap.add_argument("name", nargs="?", help="preset to select (default: keep the current one)")
    ap.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is not what params.yaml generates")
    args = ap.parse_args(argv)

    def go():
        params = ROOT / "params.yaml"
        spec = load(params, preset=args.name)
        if args.check:
            if (ROOT / "dvc.yaml").read_text() != render(spec):
                print("dvc.yaml is stale: run `python -m stages.preset` to regenerate it", file=sys.stderr)
                sys.exit(1)
            return
        if args.name and args.name != load(params).preset:
            text, n = re.subn(r"(?m)^preset:\s*\S+", f"preset: {args.name}", params.read_text(), count=1)
            if n != 1:
                raise SpecError(f"{params}: no top-level `preset:` line to switch")
            write_text(params, text)
        write_text(ROOT / "dvc.yaml", render(spec))
        print(f"preset {spec.preset}: dvc.yaml regenerated with {len(spec.stages())} stage instances")
    stage.guarded(go)


if __name__ == "__main__":
    main()
