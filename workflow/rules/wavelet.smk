# The wavelet paper's stages: statistics and Theorem 2 (data only), each model part's training (GPU),
# sampling per number of steps (GPU), reference statistics and FID.
rule wstats:
    input: deps("wstats")
    output: outputs(SPEC.wstats_stage("{name}"))
    params: spec=params_json("wstats")
    wildcard_constraints: name=names("wstats")
    threads: 1
    resources: runtime=120, mem_mb=16000
    shell: shell_cmd("wstats")


rule th2:
    input: deps("th2")
    output: outputs(SPEC.th2_stage("{name}"))
    params: spec=params_json("th2")
    wildcard_constraints: name=names("th2")
    threads: 1
    resources: runtime=30, mem_mb=4000
    shell: shell_cmd("th2")


rule wtrain:
    input: deps("wtrain")
    output: wavelet_outputs("wtrain")
    params: spec=params_json("wtrain")
    wildcard_constraints: name=names("wtrain")
    threads: 1
    resources: runtime=2880, mem_mb=16000, gpu=1
    shell: shell_cmd("wtrain")


rule wsample:
    input: deps("wsample")
    output: wavelet_outputs("wsample")
    params: spec=params_json("wsample")
    wildcard_constraints: name=names("wsample")
    threads: 1
    resources: runtime=720, mem_mb=8000, gpu=1
    shell: shell_cmd("wsample")


rule fidref:
    input: deps("fidref")
    output: outputs(SPEC.fidref_stage("{name}"))
    params: spec=params_json("fidref")
    wildcard_constraints: name=names("fidref")
    threads: 1
    resources: runtime=240, mem_mb=16000, gpu=1
    shell: shell_cmd("fidref")


rule fid:
    input: deps("fid")
    output: wavelet_outputs("fid")
    params: spec=params_json("fid")
    wildcard_constraints: name=names("fid")
    threads: 1
    resources: runtime=240, mem_mb=16000, gpu=1
    shell: shell_cmd("fid")
