"""params: params.yaml as JSON -> pipelines/<preset>/params.json, the file this preset's DVC stages read
their `params` keys from. The same keys and values the stages read (the strict loader's), so `dvc params
diff` and dvc.lock show what params.yaml says; DVC parses it in milliseconds instead of re-reading the
YAML once per stage (README, "Where the time goes")."""
import json


def body(ctx):
    mirror = ctx.stage.outs[0].path
    ctx.out(mirror).write_text(json.dumps(ctx.spec.written, indent=1, ensure_ascii=False) + "\n")
