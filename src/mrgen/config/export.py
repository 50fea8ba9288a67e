"""params.yaml's JSON schema (from the pydantic models), exported to workflow/schemas/ for Snakemake."""
from __future__ import annotations

import json

from mrgen.config.schema import Params


def schema_text() -> str:
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = ("params.yaml of mrgen. GENERATED from mrgen.config.schema by `mrgen dag`; "
                             "do not edit. Cross-references are checked by mrgen.config.")
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"
