"""The reproduction report page (mrgen.report.page, the `report` stage): made from metrics and records only,
a verdict per cell, every string escaped, and the committed tiny results' page loaded in a real headless
Chromium (Debian's package) over the DevTools protocol: no console errors, every image decoded, a screenshot
kept at work/test-output/report.png."""
import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from test_report import fake_results, spec_with

from mrgen.config.schema import FIGURE_KINDS, TABLE_KINDS
from mrgen.config.spec import Spec, load
from mrgen.errors import DataError
from mrgen.lineage import graph
from mrgen.registry import report_inputs, stage
from mrgen.report import page, t1, th2, w1

COMMITTED = ["params.yaml", "results/tiny", "models/tiny", "data/tiny"]     # git-tracked: results and records
SCREENSHOT = ROOT / "work" / "test-output" / "report.png"
VIEWPORT = {"width": 1280, "height": 900}


def fake_audit(spec, g, target_id, root):
    """record_status's answer, made up: one problem for t2's table, clean elsewhere."""
    bad = target_id == "table@t2"
    return {"ok": not bad, "checked": 10, "problems": ["train@digits-x4: <made up> problem"] if bad else []}


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """The committed tiny results and records as of HEAD (the workspace may be mid-build)."""
    root = tmp_path_factory.mktemp("committed")
    tar = subprocess.run(["git", "archive", "--format=tar", "HEAD", "--", *COMMITTED], cwd=ROOT,
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(root, filter="data")
    return root


@pytest.fixture
def audited(monkeypatch):
    monkeypatch.setattr("mrgen.audit.record_status", fake_audit)


def committed_spec(root: Path, edit=None) -> Spec:
    raw = yaml.safe_load((root / "params.yaml").read_text())
    if edit:
        edit(raw)
    return Spec(raw, "tiny")


# ---------------------------------------------------------------- the stage reads metrics and records only
def test_report_stage_reads_metrics_figures_and_records_only():
    spec = load(preset="tiny")
    st = stage(spec, "report", "tiny")
    g = graph(spec)
    ex = spec.p["experiments"]
    tables = {f for e in ex if ex[e]["kind"] in TABLE_KINDS for f in report_inputs(spec, e)}
    figures = {spec.paths.figure(e, "png") for e in ex if ex[e]["kind"] in FIGURE_KINDS}
    upstream = set().union(*(g.upstream(t) for t in g.targets()))
    records = {g.stages[i].record for i in upstream}
    data = [d for d in st.deps if not d.endswith(".py")]
    assert set(data) == tables | figures | records
    assert not [d for d in data if d.endswith((".pt", ".npz")) or d.startswith(("data/", "models/"))
                and not d.endswith("provenance.json")]                          # no checkpoint, no data
    assert [o.path for o in st.outs] == ["results/tiny/report.html", "results/tiny/report.md",
                                         "results/tiny/report.provenance.json"]
    assert "tolerances.paper" in st.params and "published.t1" in st.params
    assert g.parents("report@tiny") == [i for i in g.stages if i in upstream]      # every target's chain


# ---------------------------------------------------------------- verdicts
def test_a_cell_is_reproduced_not_reproduced_or_not_comparable(tmp_path):
    tol = spec_with("paper").params.tolerances.paper
    paper = spec_with("paper")
    root = fake_results(tmp_path / "paper", paper, nll={"t1-mnist-ws": 80.5, "t1-mnist-vdvae": 82.0},
                        params={"t1-mnist-ws": 232_129, "t1-mnist-vdvae": 400_000})
    cells = {(c["row"], c["quantity"]): c for c in page.cells("t1", t1.table(paper, "t1", root).data, tol)
             if c["panel"] == "MNIST 28x28"}
    ws, vdvae = cells[("ws", "test NLL (nats)")], cells[("vdvae", "test NLL (nats)")]
    assert (ws["verdict"], ws["paper"], ws["delta"]) == (page.REPRODUCED, "79.98", pytest.approx(80.5 - 79.98))
    assert ws["basis"] == "|Δ| ≤ 0.01·|paper|"                                 # 0.52 ≤ 0.7998
    assert vdvae["verdict"] == page.NOT_REPRODUCED                              # 1.86 > 0.8014
    assert cells[("ws", "#params (paper-scale config)")]["verdict"] == page.REPRODUCED         # 232k
    assert cells[("vdvae", "#params (paper-scale config)")]["verdict"] == page.NOT_REPRODUCED  # 400k ≠ 339k
    tiny = spec_with("tiny")
    root = fake_results(tmp_path / "tiny", tiny)
    digits = [c for c in page.cells("t1", t1.table(tiny, "t1", root).data, tol) if "NLL" in c["quantity"]]
    assert digits and all(c["verdict"] == page.NOT_COMPARABLE and c["delta"] is None for c in digits)
    assert "dataset ours digits, paper mnist" in digits[0]["basis"]


def test_fid_and_theorem2_cells(tmp_path):
    spec = spec_with("paper")
    tol = spec.params.tolerances.paper
    root = fake_results(tmp_path, spec, ms={"wmgm-celebahq": 4200.0, "wsgm-celebahq": 20000.0})
    cells = page.cells("w1", w1.table(spec, "w1", root).data, tol)
    ms = {c["row"]: c["verdict"] for c in cells if c["quantity"] == "ms/image" and c["panel"] == "CelebA-HQ 128"}
    assert ms == {"wmgm, 1024 steps": page.REPRODUCED, "wsgm, 1024 steps": page.NOT_REPRODUCED}
    assert not [c for c in cells if c["quantity"] == "FID"]                     # the paper's FIDs are not public
    tiny = spec_with("tiny")
    rows = th2.table(tiny, "th2", fake_results(tmp_path / "tiny", tiny)).data
    verdicts = {c["verdict"] for c in page.cells("th2", rows, tol)}
    assert verdicts == {page.REPRODUCED} and page.cells("w5", rows, tol) == []


def test_claim_outcome_compares_our_verdict_with_the_papers():
    line = {"ours": "yes (ws 1 < vdvae 2 nats)", "paper": "yes (ws 79.98 < vdvae 80.14 nats)"}
    assert page.outcome(line) == page.AGREES
    assert page.outcome({**line, "ours": "no (ws 3 > vdvae 2 nats)"}) == page.DIFFERS
    assert page.outcome({**line, "paper": "not printed"}) == page.SILENT


def test_gpu_hours_count_the_gpus_a_stage_used():
    assert page.gpus_used({"device": "cuda", "world_size": 4}) == 4 and page.gpus_used({"device": "cuda:0"}) == 1
    assert page.gpus_used({"device": "cpu (x86_64, 1 threads)"}) == page.gpus_used({}) == 0
    assert page.device_text({"environment": {}}) == "unknown"                  # a record older than the block
    assert page.device_text({"environment": {"device": {"cpu_threads": 2, "gpus": [], "cuda": None}}}) == "cpu, 2 threads"


# ---------------------------------------------------------------- the committed results' page
def test_page_of_the_committed_results(committed, audited, tmp_path):
    report = page.collect(committed_spec(committed), committed)
    assert [t.exp for t in report.targets] == list(committed_spec(committed).p["experiments"])
    by = {t.exp: t for t in report.targets}
    assert by["t1"].paper == "hvae" and by["w1"].paper == "wavelet" and by["th2"].paper == "wavelet"
    assert by["t2"].provenance["audit"] == {"ok": False, "checked": 10,
                                            "problems": ["train@digits-x4: <made up> problem"]}
    assert by["f4"].provenance["audit"]["checked"] == 20                      # its table's and its figure's
    assert by["t1"].claims and all(c["outcome"] in page.OUTCOMES for t in report.targets for c in t.claims)
    prov = by["w1"].provenance
    assert any(p == "data/tiny/prepared/photos" for p, _ in prov["data"]) and prov["stages"] > 5
    assert prov["gpu_hours"] == 0 and prov["cpu_hours"] > 0
    md = page.markdown_page(report)
    assert "![Figure f4](figures/f4.png)" in md and "## t1: " in md and page.NOT_COMPARABLE in md


def test_every_string_is_escaped(committed, audited):
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    spec = committed_spec(committed, lambda raw: raw["presets"]["tiny"]["experiments"]["t1"].update(caption=evil))
    text = page.html_page(page.collect(spec, committed))
    assert "<script" not in text and "<img src=x" not in text and "onerror=alert(1)>" not in text
    assert html_text(evil) in text and "&lt;made up&gt;" in text


def html_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_missing_figure_is_one_line_naming_it(committed, audited, tmp_path):
    root = tmp_path / "r"
    shutil.copytree(committed, root)
    (root / "results/tiny/figures/w5.png").unlink()
    with pytest.raises(DataError, match=r"^results/tiny/figures/w5.png: figure missing; run `mrgen figure "):
        page.collect(committed_spec(root), root)


# ---------------------------------------------------------------- in a real browser
def browser_or_skip() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("MRGEN_BROWSER") == "required":
            pytest.fail("chromium is missing but MRGEN_BROWSER=required (scripts/setup.sh installs Debian's package)")
        pytest.skip("chromium is not installed (Debian's package; scripts/setup.sh installs it as root)")
    return found


class DevTools:
    """A page's DevTools session: commands by id, events kept, the page's errors collected."""

    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    async def until(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(await self.ws.receive_json())

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:300])
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append(json.dumps(p["args"])[:300])
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}")
        return out


async def load_in_page(port: int, url: str) -> tuple[list[str], list[dict], bytes]:
    """Open `url`; (errors, each image's state, a screenshot of the first screen)."""
    import aiohttp
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/json/list") as r:
            target = next(t for t in await r.json() if t["type"] == "page")
        async with s.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            dt = DevTools(ws)
            for domain in ("Runtime", "Log", "Page"):
                await dt.call(f"{domain}.enable")
            await dt.call("Emulation.setDeviceMetricsOverride", deviceScaleFactor=1, mobile=False, **VIEWPORT)
            await dt.call("Page.navigate", url=url)
            await asyncio.wait_for(dt.until("Page.loadEventFired"), 20)
            images = await dt.call("Runtime.evaluate", returnByValue=True, awaitPromise=True, expression=(
                "Promise.all([...document.images].map(i => i.decode().then(() => 0, () => 0)))"
                ".then(() => [...document.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth})))"))
            shot = await dt.call("Page.captureScreenshot", format="png")
            return dt.errors(), images["result"]["value"], base64.b64decode(shot["data"])


def devtools_port(profile: Path, proc: subprocess.Popen, timeout: float = 20) -> int:
    """The port Chromium picked (--remote-debugging-port=0 writes it to <profile>/DevToolsActivePort)."""
    f, end = profile / "DevToolsActivePort", time.monotonic() + timeout
    while time.monotonic() < end:
        if f.is_file() and f.read_text().strip():
            return int(f.read_text().split()[0])
        if proc.poll() is not None:
            raise AssertionError(f"chromium exited with status {proc.returncode}")
        time.sleep(0.1)
    raise AssertionError("chromium did not open its DevTools port")


def open_in_chromium(file: Path, scratch: Path) -> tuple[list[str], list[dict], bytes]:
    """`file` loaded by a headless Chromium of its own (a fresh profile, DevTools on 127.0.0.1 only)."""
    exe = browser_or_skip()
    profile = Path(tempfile.mkdtemp(dir=scratch))
    proc = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return asyncio.run(load_in_page(devtools_port(profile, proc), file.as_uri()))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_page_renders_in_headless_chromium(committed, audited, tmp_path):
    report = page.collect(committed_spec(committed), committed)
    html_file = tmp_path / "report.html"
    html_file.write_text(page.html_page(report))
    errors, images, shot = open_in_chromium(html_file, tmp_path)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(shot)
    print(f"screenshot: {SCREENSHOT}")
    assert errors == []
    assert len(images) == len([t for t in report.targets if t.figure]) == 7
    assert all(i["complete"] and i["w"] > 0 for i in images), images
    assert shot.startswith(b"\x89PNG")


def test_the_page_may_load_nothing_else(tmp_path):
    """The CSP that keeps the page self-contained is enforced: an external image is refused, with an error."""
    f = tmp_path / "x.html"
    f.write_text(f'<html><head><meta http-equiv="Content-Security-Policy" content="{page.CSP}"></head>'
                 '<body><img src="http://127.0.0.1:9/x.png" alt="external"></body></html>')
    errors, images, _ = open_in_chromium(f, tmp_path)
    assert any("Content Security Policy" in e for e in errors) and images[0]["w"] == 0
