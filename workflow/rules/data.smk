rule fetch:
    input: deps("fetch")
    output: outputs(SPEC.fetch_stage("{name}"))
    params: spec=params_json("fetch")
    wildcard_constraints: name=names("fetch")
    resources: runtime=240, mem_mb=2000
    shell: shell_cmd("fetch")


rule prepare:
    input: deps("prepare")
    output: outputs(SPEC.prepare_stage("{name}"))
    params: spec=params_json("prepare")
    wildcard_constraints: name=names("prepare")
    threads: 8
    resources: runtime=240, mem_mb=16000
    shell: shell_cmd("prepare")
