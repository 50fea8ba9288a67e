rule train:
    input: deps("train")
    output: outputs(SPEC.train_stage("{name}", "", "", ""))
    params: spec=params_json("train")
    wildcard_constraints: name=names("train")
    threads: 1
    resources: runtime=60, mem_mb=4000
    shell: shell_cmd("train")


rule evaluate:
    input: deps("evaluate")
    output: outputs(SPEC.evaluate_stage("{name}", ""))
    params: spec=params_json("evaluate")
    wildcard_constraints: name=names("evaluate")
    threads: 1
    resources: runtime=60, mem_mb=4000
    shell: shell_cmd("evaluate")
