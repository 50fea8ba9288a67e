"""Tables and figures (mrgen.report) from synthetic metrics files in a scratch repository root: LaTeX escaping,
Markdown / CSV round trips, Δ only for like with like, the claims' verdicts, the paper_variants peer lookup,
and one table / figure per experiment kind through the stages' dispatch."""
import copy
import csv
import io
import json
import re

import numpy as np
import pytest
import yaml
from conftest import ROOT

from mrgen.config.schema import FIGURE_KINDS, TABLE_KINDS
from mrgen.config.spec import Spec
from mrgen.report import f4, g4, t1, t2, t3, th2, w1
from mrgen.report.figures import figure, save
from mrgen.report.render import Block, Document, fmt, tex
from stages.figure import FIGURES
from stages.table import TABLES

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())
REFERENCE = "paper"


def spec_with(preset: str, edit=None) -> Spec:
    raw = copy.deepcopy(RAW)
    if edit:
        edit(raw)
    return Spec(raw, preset)


def write(root, path, obj):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def fake_results(root, spec: Spec, nll: dict | None = None, params: dict | None = None, ms: dict | None = None):
    """Every input a table or figure of `spec`'s preset reads, with made-up numbers: NLL 30 (or `nll[run]`),
    describe counts 1000 (or `params[run]`), FID 100 and 10 ms/image (or `ms[model]`)."""
    nll, params, ms = nll or {}, params or {}, ms or {}
    for preset in dict.fromkeys([spec.preset, REFERENCE]):
        of = spec.for_preset(preset)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["run", "dataset", "model", "params", "stochastic_depth", "kind", "model_name"])
        for r, run in of.p["runs"].items():
            w.writerow([r, run["dataset"], run["model"], params.get(r, 1000), 7, "hvae", r])
        for m, wm in of.p["wavelet_models"].items():
            for part in wm["parts"]:
                w.writerow([f"{m}-{part}", wm["dataset"], part, params.get(m, 1000), "", "wavelet", m])
        write(root, spec.paths.describe_csv(preset), buf.getvalue())
    pa, p = spec.paths, spec.p
    for r, run in p["runs"].items():
        v, ds = nll.get(r, 30.0), p["datasets"][run["dataset"]]
        out = {"run": r, "dataset": run["dataset"], "likelihood": ds["likelihood"],
               "val": {"nats": v, "bits_per_dim": v}, "test": {"nats": v, "bits_per_dim": v}}
        if ds["likelihood"] == "bernoulli":
            out["test_iw"] = {"nats": v - 0.25, "bits_per_dim": 0.0}
        write(root, f"{pa.metrics_dir(r)}/nll.json", out)
        res = [8, 8, 4, 1]
        write(root, f"{pa.metrics_dir(r)}/states.json", {
            "run": r, "images": 4, "decoder": {"norm": [{"mean": 1.0 + i, "std": 0.1} for i in range(4)], "res": res,
                                     "backward_error": [{"mean": 0.1, "std": 0.01}] * 4},
            "encoder": {"norm": [{"mean": 2.0, "std": 0.2}] * 4, "res": res[::-1]}})
        temps = p["evaluation"]["samples"]["temperatures"]
        (root / pa.samples_file(r)).parent.mkdir(parents=True, exist_ok=True)
        np.savez(root / pa.samples_file(r), temperatures=np.array(temps),
                 images=np.zeros((len(temps), 4, ds["image_size"], ds["image_size"], ds["channels"]), np.uint8))
    w = p["wavelet"]
    for m, wm in p["wavelet_models"].items():
        for n in w["steps"]:
            write(root, f"{pa.metrics_dir(f'{m}-n{n}')}/fid.json", {
                "model": m, "steps": n, "dataset": wm["dataset"], "fid": 100.0 + n, "n_samples": 48,
                "n_reference": 200, "weights": "test weights"})
            write(root, f"{pa.metrics_dir(f'{m}-n{n}')}/timing.json", {
                "model": m, "steps": n, "network_evaluations": n, "ms_per_image": ms.get(m, 10.0), "device": "cpu"})
    datasets = {d for ex in p["experiments"].values() if ex["kind"] in ("w5", "w6")
                for panel in ex["panels"].values() for d in panel["variants"].values()}
    for d in datasets:
        write(root, pa.wstats_file(d), {
            "dataset": d, "kl_direction": "n0_n1",
            "kl": {str(j): {"size": 16 >> j, "crop": 16 >> j, "dim": 3 * (16 >> j) ** 2, "kl": 100.0 / j,
                            "kl_per_dim": 1.0 / j} for j in (1, 2)},
            "sparsity": {str(j): {b: {"std": 0.1, "kurtosis": 10.0, "hoyer": 0.5, "frac_small": 0.5,
                                      "hist_edges": [-2.0, -1.0, 0.0, 1.0, 2.0], "hist_density": [0.1, 0.4, 0.4, 0.1]}
                                  for b in "HVD"} for j in (1, 2)}})
    for e, ex in p["experiments"].items():
        if ex["kind"] == "th2":
            levels = {str(j): {"ll_error": 0.0 if j == 1 else 1e-16 * j, "proj_error": 1e-16, "pywt_error": 1e-15}
                      for j in (1, 2, 3)}
            write(root, pa.th2_file(e), {"dataset": "photos",
                                         **{s: {"n": 2, "size": 16, "float64": levels, "float32": levels}
                                            for s in ("random", "real")}})
    return root


def md_tables(text: str) -> list[list[list[str]]]:
    """The pipe tables of a Markdown text as lists of cell rows (separator lines dropped, \\| unescaped)."""
    tables, inside = [], False
    for ln in text.splitlines():
        if not ln.startswith("|"):
            inside = False
            continue
        if not inside:
            tables.append([])
            inside = True
        cells = [c.strip().replace(r"\|", "|") for c in re.split(r"(?<!\\)\|", ln)[1:-1]]
        if not all(set(c) <= set(":-") for c in cells):
            tables[-1].append(cells)
    return tables


def claim(lines: list[dict], panel_label_part: str, text_part: str = "") -> dict:
    [hit] = [x for x in lines if panel_label_part in x["panel_label"] and text_part in x["claim"]]
    return hit


# ---------------------------------------------------------------- rendering


def test_latex_escapes_every_special_in_caption_headers_and_cells():
    nasty = r"50% of a_b & c #1 costs $2 {x} ~y ^z \w"
    want = r"50\% of a\_b \& c \#1 costs \$2 \{x\} \textasciitilde{}y \textasciicircum{}z \textbackslash{}w"
    assert tex(nasty) == want
    assert tex("Δ NLL ours − paper ≤ ‖x‖₂") == r"$\Delta$ NLL ours $-$ paper $\le$ $\|$x$\|$$_2$"
    doc = Document.single(nasty, [{"a": nasty, "b": 1234567, "c": 0.001234, "d": None}],
                          [("a", nasty), ("b", "n_#"), ("c", "x^2"), ("d", "{d}")])
    out = doc.latex()
    assert rf"\caption{{{want}}}" in out
    assert rf"{want} & n\_\# & x\textasciicircum{{}}2 & \{{d\}} \\" in out
    assert rf"{want} & 1,234,567 & 1.23e-03 & --- \\" in out
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{llll}"):
        assert rule in out
    # nothing special is left bare in the caption or any cell once our escapes are taken out
    escapes = re.compile(r"\\(textasciitilde|textasciicircum|textbackslash|textless|textgreater|textbar)\{\}"
                         r"|\\[&%$#_{}]|\$[^$]*\$")
    caption = re.search(r"\\caption\{(.*)\}\n", out).group(1)
    lines = out.split("\\midrule\n")[1].split("\\bottomrule")[0].splitlines() + [out.split("\\toprule\n")[1].split("\n")[0]]
    cells = [c for ln in lines for c in ln.removesuffix(" \\\\").split(" & ")]
    assert len(cells) == 8
    for text in [caption, *cells]:
        assert not set(escapes.sub("", text)) & set("&%$#_{}~^\\"), text


def test_markdown_escapes_pipes_and_round_trips_with_csv():
    rows = [{"k": "a|b", "n": 1234, "x": 0.5, "tiny": 1e-5, "flag": True, "none": None, "neg": -3.25},
            {"k": "c", "n": -7, "x": 1234.5678, "tiny": 0.0, "flag": False, "none": None, "neg": 2.0}]
    cols = [("k", "key | with pipe"), ("n", "n"), ("x", "x"), ("tiny", "tiny"), ("flag", "flag"), ("none", "none"),
            ("neg", "neg")]
    doc = Document([Block("caption", rows, cols, ["a note"])], rows)
    md = doc.markdown()
    assert md.startswith("caption\n\n|") and "\na note\n" in md
    [table] = md_tables(md)
    assert table[0] == [h for _, h in cols]
    assert table[1:] == [[fmt(r[k]) for k, _ in cols] for r in rows]
    assert table[1][1:] == ["1,234", "0.500", "1.00e-05", "yes", "—", "-3.250"]
    back = list(csv.DictReader(io.StringIO(doc.csv())))
    assert list(back[0]) == list(rows[0])
    for r, b in zip(rows, back):
        for k, v in r.items():
            if v is None:
                assert b[k] == ""
            elif isinstance(v, bool):
                assert b[k] == str(v)
            elif isinstance(v, (int, float)):
                assert type(v)(b[k]) == v               # exact: ints as ints, floats round-trip
            else:
                assert b[k] == v


def test_t1_markdown_and_csv_carry_the_rows_values(tmp_path):
    spec = spec_with("tiny")
    root = fake_results(tmp_path, spec, nll={"digits-x4": 29.209, "digits-r10": 28.595})
    doc = t1.table(spec, "t1", root)
    main = doc.blocks[0]
    [table, *_] = md_tables(doc.markdown())
    assert table[1:] == main.cells()
    back = list(csv.DictReader(io.StringIO(doc.csv())))
    assert [b["run"] for b in back] == [r["run"] for r in main.rows]
    assert [float(b["nll"]) for b in back] == [r["nll"] for r in main.rows]
    assert [b["delta_nll"] for b in back] == [""] * len(back)


# ---------------------------------------------------------------- like with like


def test_delta_is_suppressed_when_our_dataset_is_not_the_papers(tmp_path):
    spec = spec_with("tiny")
    root = fake_results(tmp_path, spec)
    doc = t1.table(spec, "t1", root)
    rows = doc.data
    assert {(r["dataset"], r["paper_dataset"]) for r in rows} == {("digits", "mnist"), ("photos", "cifar10")}
    assert all(r["paper_nll"] is not None and r["delta_nll"] is None and not r["comparable"] for r in rows)
    assert all(r["params_match"] is not None for r in rows)            # parameter counts stay: like with like
    [note] = doc.blocks[0].notes
    assert "ours digits, paper mnist" in note and "ours photos, paper cifar10" in note and "claims" in note
    md = doc.markdown()
    assert note in md and "Δ NLL ours − paper" in md
    # FID tables: our photos at 16 steps are not the paper's CelebA-HQ at its W1 setting
    w = w1.table(spec, "w1", fake_results(tmp_path, spec, ms={"wmgm-photos": 3.0, "wsgm-photos": 14.0}))
    assert all(r["delta_ms_per_image"] is None and r["delta_fid"] is None for r in w.data)
    assert [r["paper_ms_per_image"] for r in w.data] == [None, 11097, 4175]
    assert "ours photos, paper celebahq128" in w.blocks[0].notes[0]


def test_delta_is_filled_when_our_dataset_is_the_papers(tmp_path):
    spec = spec_with(REFERENCE)
    root = fake_results(tmp_path, spec, nll={"t1-mnist-ws": 79.5, "t1-mnist-vdvae": 80.5},
                        ms={"wmgm-celebahq": 4000.0, "wsgm-celebahq": 12000.0})
    doc = t1.table(spec, "t1", root)
    by_run = {r["run"]: r for r in doc.data}
    assert by_run["t1-mnist-ws"]["comparable"] and by_run["t1-mnist-ws"]["delta_nll"] == pytest.approx(79.5 - 79.98)
    assert by_run["t1-mnist-vdvae"]["delta_nll"] == pytest.approx(80.5 - 80.14)
    assert by_run["t1-cifar10-ws25m"]["delta_nll"] == pytest.approx(30.0 - 2.88)
    assert doc.blocks[0].notes == []
    [table, *_] = md_tables(doc.markdown())
    col = table[0].index("Δ NLL ours − paper")
    assert [row[col] for row in table[1:] if row[2] == "t1-mnist-ws"] == ["-0.480"]
    w = {r["model"]: r for r in w1.table(spec, "w1", root).data}
    assert w["wmgm-celebahq"]["delta_ms_per_image"] == pytest.approx(4000.0 - 4175)
    assert w["sgm-celebahq"]["delta_ms_per_image"] is None            # nothing published for SGM


def test_delta_follows_the_dataset_not_the_preset(tmp_path):
    """A tiny panel whose run is on the paper's dataset gets its Δ; the others stay empty."""
    def same_name(raw):
        tiny = raw["presets"]["tiny"]
        tiny["datasets"]["mnist"] = tiny["datasets"].pop("digits")
        for run in tiny["runs"].values():
            run["dataset"] = "mnist" if run["dataset"] == "digits" else run["dataset"]
    spec = spec_with("tiny", same_name)
    rows = t2.table(spec, "t2", fake_results(tmp_path, spec)).data
    assert [r["delta_nll"] is not None for r in rows] == [True, True, False, False]
    assert rows[0]["delta_nll"] == pytest.approx(30.0 - 464.68)


# ---------------------------------------------------------------- claims


def test_t1_claim_says_yes_or_no_for_ours_and_the_paper(tmp_path):
    spec = spec_with("tiny")
    root = fake_results(tmp_path, spec, nll={"digits-x4": 29.209, "digits-r10": 28.595,
                                             "photos-vdvae": 6.9, "photos-ws": 7.1},
                        params={"digits-x4": 90561, "digits-r10": 36033, "photos-vdvae": 103364, "photos-ws": 62916})
    lines = t1.claims(t1.table(spec, "t1", root).data)
    digits, photos = claim(lines, "digits"), claim(lines, "photos")
    assert digits["claim"] == "ws (weight-shared) NLL ≤ vdvae NLL with no more parameters"
    assert digits["ours"] == "yes (ws 28.595 < vdvae 29.209 nats; 36,033 < 90,561 params)"
    assert digits["paper"] == "yes (ws 79.98 < vdvae 80.14 nats; 232k < 339k params)"
    assert photos["ours"] == "no (ws 7.100 > vdvae 6.900 bits/dim; 62,916 < 103,364 params)"
    assert photos["paper"] == "yes (ws39m 2.83 < vdvae 2.87 bits/dim; 39m = 39m params)"
    md = t1.table(spec, "t1", root).markdown()
    assert photos["ours"] in md and "Published baselines" in md


def test_claims_of_t2_t3_g4_f4_and_w1(tmp_path):
    spec = spec_with("tiny")
    runs = {"digits-x4": 29.0, "digits-x4-normalised": 28.0, "digits-single-res": 31.0,
            "digits-r5": 28.8, "digits-r5-first-latents": 28.8, "digits-r5-no-residual": 38.7,
            "digits-r5-fourier": 27.8, "digits-r5-sync": 28.8,
            "digits-x1": 29.1, "digits-r2": 29.0, "digits-r3": 28.8, "digits-r10": 28.2, "digits-r20": 28.1}
    root = fake_results(tmp_path, spec, nll=runs, ms={"wmgm-photos": 3.3, "wsgm-photos": 13.8},
                        params={"wmgm-photos": 100, "wsgm-photos": 300})
    two = t2.claims(t2.table(spec, "t2", root).data)
    assert claim(two, "digits")["ours"].startswith("no (normalised 28.000 < plain 29.000 nats")
    assert claim(two, "digits")["paper"] == "yes (normalised 464.68 > plain 81.69 nats)"
    three = t3.claims(t3.table(spec, "t3", root).data)
    assert claim(three, "digits")["claim"] == "single resolution: NLL worse (higher) than multi resolution"
    assert claim(three, "digits")["ours"] == "yes (single 31.000 > multi 29.000 nats)"
    four = g4.claims(g4.table(spec, "g4", root).data)
    assert [x["ours"].split()[0] for x in four] == ["equal", "better", "worse", "equal"]   # latents, fourier, no_res, sync
    assert {x["paper"] for x in four} == {"not printed"}
    trend = f4.claims(f4.table(spec, "f4", root).data)
    assert claim(trend, "digits")["ours"] == "yes (x1 29.100 → r2 29.000 → r3 28.800 → r5 28.800 → r10 28.200 → r20 28.100 nats)"
    assert claim(trend, "digits")["paper"] == "not printed"
    fid = w1.claims(w1.table(spec, "w1", root).data)
    assert claim(fid, "photos", "faster")["ours"] == "yes (wmgm 3.300 < wsgm 13.800 ms/image)"
    assert claim(fid, "photos", "faster")["paper"] == "yes (wmgm 4,175 < wsgm 11,097 ms/image)"
    assert claim(fid, "photos", "fewer")["ours"] == "yes (wmgm 200 < wsgm 900 params)"   # 2 vs 3 parts
    assert claim(fid, "photos", "fewer")["paper"] == "yes (wmgm 89m < wsgm 351m params)"
    rising = fake_results(tmp_path, spec, nll={**runs, "digits-r10": 29.5})
    assert claim(f4.claims(f4.table(spec, "f4", rising).data), "digits")["ours"].startswith("no (")


# ---------------------------------------------------------------- the paper peer of each variant


def test_paper_variants_pick_the_peer_in_the_paper_preset_and_published(tmp_path):
    spec = spec_with("tiny")
    params = {"t1-cifar10-ws39m": 38_922_980, "t1-cifar10-ws25m": 25_293_924}
    rows = t1.table(spec, "t1", fake_results(tmp_path, spec, params=params)).data
    [ws] = [r for r in rows if r["run"] == "photos-ws"]
    assert (ws["variant"], ws["paper_variant"]) == ("ws", "ws39m")
    assert (ws["paper_nll"], ws["paper_params"], ws["paper_config_params"]) == (2.83, "39m", 38_922_980)
    assert ws["params_match"] is True and ws["delta_params"] == 38_922_980 - 39_000_000

    def to_25m(raw):
        raw["presets"]["tiny"]["experiments"]["t1"]["panels"]["cifar10"]["paper_variants"] = {"ws": "ws25m"}
    spec = spec_with("tiny", to_25m)
    [ws] = [r for r in t1.table(spec, "t1", tmp_path).data if r["run"] == "photos-ws"]
    peer = (ws["paper_variant"], ws["paper_nll"], ws["paper_params"], ws["paper_config_params"])
    assert peer == ("ws25m", 2.88, "25m", 25_293_924)

    def unmapped(raw):
        raw["presets"]["tiny"]["experiments"]["t1"]["panels"]["cifar10"].pop("paper_variants")
    spec = spec_with("tiny", unmapped)
    [ws] = [r for r in t1.table(spec, "t1", tmp_path).data if r["run"] == "photos-ws"]
    assert ws["paper_variant"] == "ws" and ws["paper_nll"] is None and ws["paper_config_params"] is None
    assert ws["paper_dataset"] is None and ws["mismatch"] == ""


# ---------------------------------------------------------------- every kind through the stages' dispatch


def test_dispatch_covers_every_kind():
    assert set(TABLES) == set(TABLE_KINDS) and set(FIGURES) == set(FIGURE_KINDS)


@pytest.mark.parametrize("preset", ["tiny", REFERENCE])
def test_every_experiment_renders(tmp_path, preset):
    spec = spec_with(preset)
    root = fake_results(tmp_path, spec)
    for e, ex in spec.p["experiments"].items():
        if ex["kind"] in TABLES:
            doc = TABLES[ex["kind"]].table(spec, e, root)
            for ext in ("md", "csv", "tex"):
                assert doc.render(ext).strip(), (e, ext)
            assert doc.markdown().startswith(ex["caption"])
        if ex["kind"] in FIGURES and preset == "tiny":
            png, pdf = tmp_path / f"{e}.png", tmp_path / f"{e}.pdf"
            save(figure(FIGURES[ex["kind"]], spec, e, root), png, pdf, 40)
            assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"


def test_th2_header_pipes_survive_markdown(tmp_path):
    spec = spec_with("tiny")
    doc = th2.table(spec, "th2", fake_results(tmp_path, spec))
    [table] = md_tables(doc.markdown())
    assert table[0][3] == "max|LL_j − 2^j pool_j| / max|2^j pool_j|"
    assert r"max\textbar{}LL\_j $-$ 2\textasciicircum{}j pool\_j\textbar{}" in doc.latex()
