rule train:
    input: deps("train")
    output: outputs(SPEC.train_stage("{name}", "", "", ""))
    params: spec=params_json("train")
    wildcard_constraints: name=names("train")
    threads: 1
    resources: runtime=60, mem_mb=4000, gpu=train_gpus
    shell: shell_cmd("train")


rule evaluate:
    input: deps("evaluate")
    output: outputs(SPEC.evaluate_stage("{name}", ""))
    params: spec=params_json("evaluate")
    wildcard_constraints: name=names("evaluate")
    threads: 1
    resources: runtime=60, mem_mb=4000
    shell: shell_cmd("evaluate")


rule states:
    input: deps("states")
    output: outputs(SPEC.states_stage("{name}", ""))
    params: spec=params_json("states")
    wildcard_constraints: name=names("states")
    threads: 1
    resources: runtime=60, mem_mb=4000
    shell: shell_cmd("states")


rule sample:
    input: deps("sample")
    output: outputs(SPEC.sample_stage("{name}"))
    params: spec=params_json("sample")
    wildcard_constraints: name=names("sample")
    threads: 1
    resources: runtime=60, mem_mb=4000
    shell: shell_cmd("sample")
