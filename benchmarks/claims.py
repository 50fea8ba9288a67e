"""Which of the papers' claims the tiny preset shows, per HVAE training length and seed, and what each
build costs: side by side in one run.

    python benchmarks/claims.py [--iters 250,150] [--seeds 0,1] [--targets f4,t1,t2,t3,g4] [--cores 2]

For each setting (iters x seed): a copy of this checkout without outputs (benchmarks/planning.py's `tree`)
where params.yaml's tiny HVAE recipes train `iters` steps (the warm-up cut in proportion) and every run
that feeds the targets has `seed`; Snakemake builds the targets' tables there from fetch on, with
`--cores`. The claims block of each table is then read back through mrgen.report, as the table stage
writes it. Prints one line per claim with our verdict per setting, the numbers of each claim whose
verdict differs between settings, and each build's wall time with its ratio to the first setting's.

Each build takes minutes: the f4..g4 slice at 250 steps took 10-11 min on this 2-core machine. Use it before
changing the tiny preset's training length, and to see whether a claim holds across seeds at all
(docs/decisions.md, "The tiny preset keeps 250 HVAE steps").
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planning import sh, tree  # noqa: E402

from mrgen.config.schema import TABLE_KINDS  # noqa: E402
from mrgen.config.spec import edit_yaml, load  # noqa: E402
from mrgen.registry import experiment_variants  # noqa: E402

CLAIMS = """
import json, sys
from mrgen.config.spec import load
from mrgen.report.page import claims
from stages.table import TABLES
spec = load(preset="tiny")
out = []
for e in sys.argv[1:]:
    doc = TABLES[spec.p["experiments"][e]["kind"]].table(spec, e)
    out += [{"target": e, "panel": c["panel_label"], "claim": c["claim"], "ours": c["ours"]} for c in claims(doc)]
print(json.dumps(out))
"""


def ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, found {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers >= 0, found {text!r}")
    return values


def configure(repo: Path, runs: list[str], iters: int, seed: int) -> None:
    """The copy's tiny preset: its runs' HVAE recipes at `iters` steps, those runs at `seed`."""
    def edit(raw):
        tiny = raw["presets"]["tiny"]
        for name in {tiny["runs"][r]["training"] for r in runs}:
            t = tiny["training"][name]
            t["warmup_iters"] = round(t["warmup_iters"] * iters / t["iters"])
            t["iters"] = iters
        for r in runs:
            tiny["runs"][r]["seed"] = seed
    edit_yaml(repo / "params.yaml", edit)


def build(base: Path, label: str, runs: list[str], targets: list[str], tables: list[str], iters: int, seed: int,
          cores: int) -> tuple[float, list[dict]]:
    repo = tree(base / label, None)
    configure(repo, runs, iters, seed)
    t0 = time.perf_counter()
    sh(["snakemake", "--profile", "workflow/profiles/local", "--cores", str(cores), *tables], repo)
    wall = time.perf_counter() - t0
    return wall, json.loads(sh([sys.executable, "-c", CLAIMS, *targets], repo).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=ints, default=[250], help="HVAE steps per setting (default 250)")
    ap.add_argument("--seeds", type=ints, default=[0, 1], help="run seeds per setting (default 0,1)")
    ap.add_argument("--targets", default="f4,t1,t2,t3,g4", help="tiny experiments whose claims to test")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    spec = load(preset="tiny")
    targets = args.targets.split(",")
    unknown = [t for t in targets if t not in spec.p["experiments"]]
    if unknown:
        sys.exit(f"--targets: expected experiments of the tiny preset ({', '.join(spec.p['experiments'])}), "
                 f"found {', '.join(map(repr, unknown))}")
    not_hvae = [t for t in targets if spec.p["experiments"][t]["kind"] not in TABLE_KINDS
                or any(r not in spec.p["runs"] for r in experiment_variants(spec, t))]
    if not_hvae:
        sys.exit("--targets: expected HVAE experiments with a table (whose variants are runs), "
                 f"found {', '.join(map(repr, not_hvae))}")
    runs = sorted({r for t in targets for r in experiment_variants(spec, t)})
    if any(i < 1 for i in args.iters):
        sys.exit(f"--iters: expected at least 1 step, found {args.iters}")
    if args.cores < 1:
        sys.exit(f"--cores: expected at least 1, found {args.cores}")
    tables = [spec.paths.table(t, "md") for t in targets]
    settings = [(i, s) for i in args.iters for s in args.seeds]
    base = Path(tempfile.mkdtemp(prefix="mrgen-claims-"))
    results = {}
    try:
        for iters, seed in settings:
            label = f"{iters}/s{seed}"
            print(f"building {', '.join(targets)} at {iters} steps, seed {seed} ...", file=sys.stderr, flush=True)
            results[label] = build(base, f"i{iters}-s{seed}", runs, targets, tables, iters, seed, args.cores)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
    report(results)


def report(results: dict[str, tuple[float, list[dict]]]) -> None:
    labels = list(results)
    lines = {}
    for label, (_, found) in results.items():
        for c in found:
            lines.setdefault((c["target"], c["panel"], c["claim"]), {})[label] = c["ours"]
    width = max(len(f"{t} | {p} | {c}") for t, p, c in lines)
    print(f"{'claim (target | panel | claim)':{width}s}  " + "  ".join(f"{lb:>10s}" for lb in labels))
    for (t, p, c), ours in lines.items():
        print(f"{t} | {p} | {c}".ljust(width) + "  "
              + "  ".join(f"{ours.get(lb, '-').split(' ', 1)[0]:>10s}" for lb in labels))
    walls = [results[lb][0] for lb in labels]
    print(f"{'build wall time (s)':{width}s}  " + "  ".join(f"{w:10.0f}" for w in walls))
    print(f"{'ratio to ' + labels[0]:{width}s}  " + "  ".join(f"{w / walls[0]:10.2f}" for w in walls))
    differing = {k: v for k, v in lines.items() if len({o.split(' ', 1)[0] for o in v.values()}) > 1}
    if differing:
        print("\nclaims whose verdict differs between settings:")
        for (t, p, c), ours in differing.items():
            print(f"- {t} | {p} | {c}")
            for lb, o in ours.items():
                print(f"    {lb:>10s}: {o}")


if __name__ == "__main__":
    main()
