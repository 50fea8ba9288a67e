# Cheap stages: they read metrics files only, so they run on the submitting node (localrules).
localrules: describe, table, figure


rule describe:
    input: deps("describe")
    output: outputs(SPEC.describe_stage("{name}"))
    params: spec=params_json("describe")
    wildcard_constraints: name=names("describe")
    shell: SPEC.describe_stage("{wildcards.name}").cmd


rule table:
    input: deps("table")
    output: [o.path for o in SPEC.report_outs("table", "{name}")]
    params: spec=params_json("table")
    wildcard_constraints: name=names("table")
    shell: shell_cmd("table")


rule figure:
    input: deps("figure")
    output: [o.path for o in SPEC.report_outs("figure", "{name}")]
    params: spec=params_json("figure")
    wildcard_constraints: name=names("figure")
    shell: shell_cmd("figure")
