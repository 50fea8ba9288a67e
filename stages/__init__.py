"""Thin stage CLIs: `python -m stages.KIND --preset P NAME`; dvc.yaml and the Snakefile call these."""
