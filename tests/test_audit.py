"""`mrgen audit` and `mrgen verify` on real records: each detection of issue 13 is made on a real DAG slice
(Theorem 2's table: fetch → prepare → th2, describe ×2 → table, built by `dvc repro` and recorded in
dvc.lock), then checked to survive `dvc commit -f` (the routine step that would erase the evidence from
dvc.lock). The whole tiny DAG's audit, one number's chain and swapped metrics use the session's Snakemake build."""
import json
import shutil

import pytest
import yaml
from conftest import sh

pytestmark = pytest.mark.slow


@pytest.fixture
def th2(th2_built, tmp_path):
    dst = tmp_path / "repo"
    shutil.copytree(th2_built, dst, symlinks=True)
    return dst


def audit(repo, *args):
    r = sh(["mrgen", "audit", *args], repo, check=False)
    assert "Traceback" not in r.stderr, r.stderr
    return r


SLICE = "table-th2 th2-th2 prepare-photos fetch-photos describe-tiny describe-paper"


def broken(repo, target="table@th2", stages=SLICE):
    """The audit fails on `target`, before and after `dvc commit -f` of its stages; returns its output."""
    r = audit(repo, target)
    assert r.returncode == 1 and "✗" in r.stdout, r.stdout
    sh(f"dvc commit -f -q {stages}", repo, check=False)      # may refuse (a missing output); the records stay
    again = audit(repo, target)
    assert again.returncode == 1 and "✗" in again.stdout, again.stdout
    return again.stdout


def test_a_fresh_slice_audits_clean_and_every_link_is_listed(th2):
    r = audit(th2, "table@th2")
    assert r.returncode == 0, r.stdout
    assert r.stdout.startswith("✓ table@th2: 6 stages")
    verbose = audit(th2, "-v", "table@th2").stdout
    for link in ("data/tiny/raw/photos/china.jpg: sha256", "= presets.tiny.datasets.photos.raw.files.china.jpg.sha256",
                 "data/tiny/prepared/photos: sha256", "= prepare@photos's output", "dvc.lock agrees (table-th2)",
                 "md, csv and tex equal the table re-rendered from its metrics", "code as committed at",
                 "environment: requirements.lock"):
        assert link in verbose, link
    doc = json.loads(audit(th2, "--json", "table@th2").stdout)
    assert {a["status"] for a in doc["targets"]["table@th2"]} == {"ok"}


def test_a_hand_edited_table_is_caught(th2):
    md = th2 / "results/tiny/tables/th2.md"
    md.write_text(md.read_text().replace("|", "| ", 1))
    out = broken(th2)
    assert "results/tiny/tables/th2.md: edited or replaced since its record" in out


def test_a_table_consistent_with_its_record_but_not_its_metrics_is_caught(th2):
    """Someone edits the table and rewrites its record's hash to match: the re-rendering still catches it."""
    from mrgen.io import sha256_path
    csv_ = th2 / "results/tiny/tables/th2.csv"
    csv_.write_text(csv_.read_text() + "forged,row\n")
    rec_path = th2 / "results/tiny/tables/th2.provenance.json"
    rec = json.loads(rec_path.read_text())
    rec["outputs"]["results/tiny/tables/th2.csv"] = sha256_path(csv_)
    rec_path.write_text(json.dumps(rec))
    out = broken(th2)
    assert "csv differ from the table re-rendered from its metrics (hand-edited)" in out


def test_an_edited_metrics_file_is_caught(th2):
    f = th2 / "results/tiny/analysis/th2.json"
    data = json.loads(f.read_text())
    data["levels"] += 1
    f.write_text(json.dumps(data))
    out = broken(th2)
    assert "results/tiny/analysis/th2.json: edited or replaced since its record" in out


def test_stale_params_and_code_are_named(th2):
    p = th2 / "params.yaml"
    raw = yaml.safe_load(p.read_text())
    before = raw["presets"]["tiny"]["wavelet"]["th2"]["seed"]
    raw["presets"]["tiny"]["wavelet"]["th2"]["seed"] = before + 1
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = th2 / "src/mrgen/analysis/theorem2.py"
    code.write_text(code.read_text() + "\n# edited\n")
    out = broken(th2)
    assert f"param presets.tiny.wavelet.th2.seed: ran with {before}, params.yaml now {before + 1}: stale" in out
    assert "src/mrgen/analysis/theorem2.py: code changed since the stage ran" in out


def test_a_result_made_by_uncommitted_code_is_caught(th2):
    stage = th2 / "stages/table.py"
    stage.write_text(stage.read_text() + "\n# an uncommitted edit\n")
    sh("mrgen table --preset tiny th2", th2)                 # the table is remade by code that is not committed
    sh("git -c user.email=t@t -c user.name=t commit -qam later", th2)     # committed only afterwards
    out = broken(th2)
    assert "made by code that differed from commit" in out and "stages/table.py" in out


def test_a_result_from_another_environment_is_caught(th2):
    lock = th2 / "requirements.lock"
    lock.write_text(lock.read_text() + "# another environment\n")
    out = broken(th2)
    assert "made in another environment (requirements.lock sha256" in out


def test_a_missing_record_is_a_broken_link(th2):
    (th2 / "results/tiny/analysis/th2.provenance.json").unlink()
    out = broken(th2)
    assert "record results/tiny/analysis/th2.provenance.json: missing (a broken link" in out


def test_a_producer_rerun_since_breaks_the_consumers_link(th2):
    """The consumer's recorded input is no longer what the producer's record says it wrote."""
    rec_path = th2 / "results/tiny/analysis/th2.provenance.json"
    rec = json.loads(rec_path.read_text())
    rec["outputs"]["results/tiny/analysis/th2.json"] = "0" * 64
    rec_path.write_text(json.dumps(rec))
    out = broken(th2)
    assert "results/tiny/analysis/th2.json: read sha256" in out and "th2@th2's record says it wrote 000000000000" in out


def test_a_lock_with_two_hashes_for_one_path_is_rejected(th2):
    lock = yaml.safe_load((th2 / "dvc.lock").read_text())
    deps = lock["stages"]["th2-th2"]["deps"]
    prepared = next(d for d in deps if d["path"] == "data/tiny/prepared/photos")
    prepared["md5"] = "0" * 32 + ".dir"
    (th2 / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    r = audit(th2, "table@th2")
    assert r.returncode == 1
    assert "✗ dvc.lock holds 2 hashes for data/tiny/prepared/photos" in r.stdout


def test_a_raw_file_not_matching_params_checksum_is_caught(th2):
    p = th2 / "params.yaml"
    raw = yaml.safe_load(p.read_text())
    raw["presets"]["tiny"]["datasets"]["photos"]["raw"]["files"]["china.jpg"]["sha256"] = "a" * 64
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = audit(th2, "table@th2").stdout
    assert "data/tiny/raw/photos/china.jpg: sha256 8378025ad251, params.yaml declares aaaaaaaaaaaa" in out


def test_outputs_only_in_dvc_cache_are_verified_there_and_missing_ones_say_dvc_pull(th2):
    shutil.rmtree(th2 / "data/tiny/prepared/photos")
    r = audit(th2, "-v", "table@th2")
    assert r.returncode == 0, r.stdout
    assert "data/tiny/prepared/photos: sha256" in r.stdout and "(in DVC's cache)" in r.stdout
    shutil.rmtree(th2 / ".dvc/cache")
    r = audit(th2, "table@th2")
    assert r.returncode == 1 and "✗" not in r.stdout
    assert "○ data/tiny/prepared/photos: not in the workspace nor DVC's cache (run `dvc pull`)" in r.stdout


def test_unknown_target_and_bad_cell_are_one_line(th2):
    r = audit(th2, "nope")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nope: no such target" in r.stderr
    r = audit(th2, "--explain", "results/tiny/tables/th2.md", "nocolon")
    assert r.returncode == 2 and "expected ROW:COLUMN" in r.stderr
    r = audit(th2, "--explain", "params.yaml", "1:x")
    assert r.returncode == 2 and "not a table" in r.stderr


# ---------------------------------------------------------------- the whole tiny DAG
def test_the_built_tiny_dag_audits_clean(smk_built):
    r = audit(smk_built)
    assert r.returncode == 0, r.stdout[-3000:]
    tops = [line for line in r.stdout.splitlines() if not line.startswith((" ", "└", "├", "│"))]
    assert len(tops) == 18 and all(line.startswith("✓ ") for line in tops), tops


def test_one_number_is_explained_back_to_the_raw_bytes(smk_built):
    out = audit(smk_built, "--explain", "results/tiny/tables/t1.md", "photos-ws:nll").stdout
    nll = json.loads((smk_built / "results/tiny/metrics/photos-ws/nll.json").read_text())
    assert out.splitlines()[0].startswith("results/tiny/tables/t1.md [photos-ws:nll] = ")
    assert "← results/tiny/metrics/photos-ws/nll.json ['test']['bits_per_dim']" in out
    assert str(nll["test"]["bits_per_dim"])[:8] in out.splitlines()[0]
    for link in ("✓ evaluate@photos-ws", "✓ train@photos-ws", "✓ prepare@photos", "✓ fetch@photos",
                 "models/tiny/photos-ws/ema.pt: sha256", "= presets.tiny.datasets.photos.raw.files.china.jpg.sha256"):
        assert link in out, link


def test_swapped_metrics_are_caught_by_the_audit_and_refused_by_the_table(smk_copy):
    a, b = (smk_copy / f"results/tiny/metrics/{r}/nll.json" for r in ("photos-ws", "photos-vdvae"))
    ta, tb = a.read_text(), b.read_text()
    a.write_text(tb)
    b.write_text(ta)
    r = sh("mrgen table --preset tiny t1", smk_copy, check=False)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "results/tiny/metrics/photos-vdvae/nll.json: its run field is 'photos-ws', expected 'photos-vdvae'" in r.stderr
    out = broken(smk_copy, "t1", "dvc.yaml")
    assert "nll.json: says {'run': 'photos-vdvae'}, expected {'run': 'photos-ws'} (swapped" in out


def test_verify_reruns_a_target_within_tolerance_and_flags_an_edited_number(th2):
    r = sh("mrgen verify th2", th2, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("reproduced: "))
    n, m = line.split()[1].split("/")
    assert n == m and int(m) > 100                       # th2.json's errors and both describe tables' counts
    assert "reran th2@th2" in r.stdout and "reran describe@paper" in r.stdout
    f = th2 / "results/tiny/analysis/th2.json"
    data = json.loads(f.read_text())
    data["random"]["float32"]["2"]["ll_error"] += 0.5
    f.write_text(json.dumps(data))
    r = sh("mrgen verify th2", th2, check=False)
    assert r.returncode == 1
    assert "✗ results/tiny/analysis/th2.json [random][float32][2][ll_error]: committed 0.5" in r.stdout
    assert (th2 / "results/tiny/analysis/th2.json").read_text() == json.dumps(data)      # this checkout untouched
