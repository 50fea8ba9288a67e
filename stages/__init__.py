"""Thin stage CLIs: `python -m stages.KIND --preset P NAME`; dvc.yaml and the Snakefile call these.

The library is imported from this checkout's src/ (not an installed copy), so a stage always runs the
code that dvc.yaml / the Snakefile hash as its dependencies.
"""
import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
