"""No-op planning: `dvc status`, `snakemake -n` and `mrgen status` on a preset's whole DAG with nothing to
do, this checkout against another commit, side by side in one run (A B A B, median of each and their ratio).

    python benchmarks/planning.py [--against REV] [--presets tiny,paper] [--runs 3]

Each tree (this checkout's tracked and untracked files; REV's files from `git archive`) is copied to a
temporary folder, where every output of the preset's DAG is written as a small placeholder by that tree's
own registry (nothing is trained), recorded with `dvc commit -f` and stamped with `snakemake --touch`.
Each stage's provenance record is written as the stage contract would (inputs', outputs' and params'
values), so `mrgen status` (a tree that has it) has nothing to do either. What is timed is planning
alone: reading dvc.yaml, dvc.lock and params, checking every stage; building Snakemake's DAG; reading
the records and hashing (cached) inputs and outputs. Prints one line per preset and command ("-" for a
tree without the command). `dvc st, py YAML` is `dvc status` with ruamel's pure-Python parser (its C
module blocked), as it ran before ruamel.yaml.clib was pinned. Goal (issues 13 and 14): under 5 s each on
this 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE = """
import json
import sys
from pathlib import Path
from mrgen.config.spec import load
from mrgen.registry import stages
spec = load(preset=sys.argv[1])
try:                                    # a tree with folder hashing as the records hold it
    from mrgen.dag import refresh_params_files
    from mrgen.io import sha256_path
    refresh_params_files(spec)
except ImportError:
    sha256_path = None
for st in stages(spec):
    for o in st.outs[:-1]:
        p = Path(o.path)
        if o.directory:
            p.mkdir(parents=True, exist_ok=True)
            (p / "placeholder").write_text(st.id)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(st.id)
    record = Path(st.record)
    record.parent.mkdir(parents=True, exist_ok=True)
    if sha256_path is None:
        record.write_text(st.id)
        continue
    record.write_text(json.dumps({
        "stage": st.kind, "instance": st.name, "preset": spec.preset,
        "inputs": {d: sha256_path(d) for d in st.deps},
        "outputs": {o.path: sha256_path(o.path) for o in st.outs[:-1]},
        "params": {k: spec.lookup(k) for k in st.params}}, indent=2, sort_keys=True))
"""


# `dvc status` with ruamel's pure-Python YAML parser, as before ruamel.yaml.clib was in the lock: blocking
# the C module's import makes ruamel fall back to it (the same files, parsed more slowly)
PURE = "import sys; sys.modules['_ruamel_yaml'] = None; from dvc.cli import main; sys.exit(main(sys.argv[1:]))"
PURE_NAME = "dvc st, py YAML"


def sh(cmd: list[str] | str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=f"{cwd / 'src'}{os.pathsep}{cwd}")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and r.returncode:
        sys.exit(f"{cmd} in {cwd} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return r


def tree(dst: Path, rev: str | None) -> Path:
    dst.mkdir(parents=True)
    if rev is None:
        files = sh(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split()
        skip = ("results/", "models/", "data/", "dvc.lock", "pipelines/paper/dvc.lock", "logs/", "work/")
        listing = "\n".join(f for f in files if not f.startswith(skip) and (ROOT / f).is_file())
        subprocess.run(["tar", "-cf", "-", "-T", "-"], cwd=ROOT, input=listing.encode(), check=True,
                       stdout=open(dst / "t.tar", "wb"))
        subprocess.run(["tar", "-xf", "t.tar"], cwd=dst, check=True)
        (dst / "t.tar").unlink()
    else:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-xf", "-"], cwd=dst, input=archive, check=True)
        for p in ("results", "models", "data", "dvc.lock", "pipelines/paper/dvc.lock"):
            sh(["rm", "-rf", p], dst)
    params = dst / "params.yaml"               # older trees: unquoted URLs, which ruamel's C parser refuses
    params.write_text(re.sub(r"(urls: )\[([^\]\"]*)\]",
                             lambda m: m.group(1) + "[" + ", ".join(f'"{u}"' for u in m.group(2).split(", ")) + "]",
                             params.read_text()))
    ignore = dst / ".dvcignore"                # older trees: DVC hashed Snakemake's marker files (fixed in issue 14)
    if ".snakemake_timestamp" not in (ignore.read_text() if ignore.is_file() else ""):
        with open(ignore, "a") as f:
            f.write("\n.snakemake_timestamp\n")
    sh("git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm tree && dvc init -q -f", dst)
    return dst


def dvc_file(repo: Path, preset: str) -> str:
    return "dvc.yaml" if f"preset: {preset}" in (repo / "params.yaml").read_text() else f"pipelines/{preset}/dvc.yaml"


def built(repo: Path, preset: str) -> dict[str, str]:
    """Fake every output, record them, stamp them; return the two planning commands."""
    sh([sys.executable, "-c", FAKE, preset], repo)
    smk = f"snakemake --profile workflow/profiles/local --config preset={preset}"
    sh(["dvc", "commit", "-f", "-q", dvc_file(repo, preset)], repo)
    sh(f"{smk} --touch", repo)              # `dvc commit` renewed the outputs' mtimes
    cmds = {"dvc status": f"dvc status {dvc_file(repo, preset)}", "snakemake -n": f"{smk} -n",
            PURE_NAME: f"{shlex.quote(sys.executable)} -c {shlex.quote(PURE)} status {dvc_file(repo, preset)}"}
    if (repo / "src/mrgen/status.py").is_file():
        cmds["mrgen status"] = f"mrgen status --preset {preset}"
    for cmd in cmds.values():
        out = sh(cmd, repo).stdout
        if "up to date" not in out and "Nothing to be done" not in out and "nothing to do" not in out:
            sys.exit(f"{repo}: `{cmd}` has work to do after the fake build:\n{out[-2000:]}")
    return cmds


def timed(cmd: str, repo: Path) -> float:
    t0 = time.perf_counter()
    sh(cmd, repo)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", help="a git revision to compare with (default: none, this checkout alone)")
    ap.add_argument("--presets", default="tiny,paper")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mrgen-planning-"))
    try:
        run(args, base)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def run(args, base: Path) -> None:
    trees = {"this checkout": tree(base / "this", None)}
    if args.against:
        trees[args.against] = tree(base / "against", args.against)
    print(f"{'preset':7s} {'command':15s} " + " ".join(f"{name[:14]:>14s}" for name in trees)
          + ("   ratio (this / against)" if args.against else ""))
    for preset in args.presets.split(","):
        cmds = {name: built(repo, preset) for name, repo in trees.items()}
        for what in ("dvc status", PURE_NAME, "snakemake -n", "mrgen status"):
            has = [name for name in trees if what in cmds[name]]
            times: dict[str, list[float]] = {name: [] for name in has}
            for _ in range(args.runs):                      # A B A B: drift hits both alike
                for name in has:
                    times[name].append(timed(cmds[name][what], trees[name]))
            med = {name: statistics.median(t) for name, t in times.items()}
            line = f"{preset:7s} {what:15s} " + " ".join(f"{med[n]:12.2f} s" if n in med else f"{'-':>14s}"
                                                        for n in trees)
            if args.against and len(med) == 2:
                line += f"   {med['this checkout'] / med[args.against]:.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
