"""params.yaml, the one spec: typed models (`schema`), loading and cross-references (`spec`)."""
from mrgen.config.spec import Spec, SpecError, load

__all__ = ["Spec", "SpecError", "load"]
