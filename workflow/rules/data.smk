rule prepare:
    input: deps("prepare")
    output: outputs(SPEC.prepare_stage("{name}"))
    params: spec=params_json("prepare")
    wildcard_constraints: name=names("prepare")
    resources: runtime=60, mem_mb=8000
    shell: shell_cmd("prepare")
