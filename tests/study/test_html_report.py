"""The study report (issue 13, "A shareable report"): one self-contained ``report.html`` built
from a study folder alone, checked on its HTML and in a real headless browser (Debian chromium +
chromedriver driven by selenium): it loads with no console error, a header click sorts the table,
the filter box filters it, every plot renders; a screenshot lands in the test's tmp_path."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.study.html_report import report_html, table_payload, write_report
from hwsim.study.store import ResultsStore

from .conftest import LLM_TOML, write_llm_study

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EVIL = "</script><script>alert('x')</script>"


def _payload(text: str) -> dict:
    m = re.search(r'<script id="points-data" type="application/json">(.*?)</script>', text, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


def write_big_study(folder: Path, n: int = 12_000) -> Path:
    """A 10^4-row store (cost and accuracy columns, made up), written in three parts."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.toml").write_text(LLM_TOML)
    rng = np.random.default_rng(0)
    fmts = np.array(["mxfp4", "nvfp4", "int8_g32", "fp16"])
    w = fmts[np.arange(n) % 4]
    side = 8 * (1 + np.arange(n) // 8 % 16)
    frame = pd.DataFrame({
        "key": [f"{i:016x}" for i in range(n)], "status": "ok", "error": "", "hwsim_version": "0.1.0",
        "task_wall_s": 1.0, "task_points": 100, "finished_at": "2026-12-05T16:00:00+00:00",
        "model": "smollm2", "weights": w, "activations": w, "accelerator": "mx-systolic-32",
        "dataflow": np.where(np.arange(n) % 2 == 0, "ws", "os"), "rows": side, "cols": side,
        "metric_name": "perplexity", "metric": 20 + rng.random(n) * 5, "baseline_metric": 19.9,
        "higher_is_better": False, "cycles": 1e6 / side, "latency_s": 1e-3 / side,
        "energy_pj": 1e9 + 1e5 * rng.integers(0, 2000, n),  # 6 digits, as the table keeps
        "area_um2": side * side * 900.0, "macs": 1e9,
        "dram_bytes": 1e7, "peak_macs_per_cycle": (side * side).astype(float), "dram_bytes_per_cycle": 64.0})
    store = ResultsStore.of(folder)
    for part in np.array_split(np.arange(n), 3):
        store.write(frame.iloc[part])
    return folder


# ---- the HTML itself ------------------------------------------------------------------------
@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests about the page's text and table skip drawing the plots (seconds each)."""
    import hwsim.study.html_report as report

    monkeypatch.setattr(report, "study_figures", lambda points, layers: report.StudyPlots())


def test_report_from_the_store_alone(llm_study: Path) -> None:
    path = write_report(llm_study)
    assert path == llm_study / "report.html"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>tiny-pareto: hwsim study report</title>" in text
    # description escaped, never raw markup
    assert "SmolLM2 perplexity vs area &amp; energy &lt;test&gt; (synthetic results)" in text
    assert "<test>" not in text
    # every plot embedded as a PNG data URI
    srcs = re.findall(r"<img class='plot' alt='[^']*' src='([^']*)'>", text)
    assert len(srcs) == 6  # every plot but qsnr_vs_bits (no qsnr metric)
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    # nothing to fetch: no external src/href, no CDN
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script src" not in text and "@import" not in text
    # the table holds every point, the TOML and the versions are there
    data = _payload(text)
    assert data["total"] == len(data["rows"]) == 32
    assert data["columns"][:2] == ["key", "status"]
    assert {"weights", "dataflow", "rows", "metric", "energy_pj", "area_um2"} <= set(data["columns"])
    assert sorted(r[0] for r in data["rows"]) == sorted(ResultsStore.of(llm_study).points()["key"])
    assert '<pre id="study-toml">name = &quot;tiny-pareto&quot;' in text
    for name in ("Python", "numpy", "matplotlib", "hwsim"):
        assert f"<dt>{name}</dt>" in text
    # summary counts and the failure with its (escaped) error
    assert "<dt>finished</dt><dd>31</dd>" in text and "<dt>failed</dt><dd>1</dd>" in text
    assert "HwsimError: &lt;boom&gt; &amp; fail" in text
    assert "<dt>design points in the study&#x27;s grid</dt><dd>32</dd>" in text


def test_report_escapes_everything(tmp_path: Path, no_plots: None) -> None:
    folder = write_llm_study(tmp_path / "evil")
    (folder / "study.toml").write_text(LLM_TOML.replace('description = "', f'description = "{EVIL} '))
    points = ResultsStore.of(folder).points()
    bad = points[points["status"] == "failed"].assign(error=EVIL, finished_at="2027-01-01T00:00:00+00:00")
    ResultsStore.of(folder).write(bad, digest="evil")
    text = report_html(folder)
    assert EVIL not in text
    assert text.count("<script") == 2  # the data block and the table's script, nothing injected
    data = _payload(text)
    assert EVIL in [c for r in data["rows"] for c in r]  # the value itself travels intact


def test_report_of_a_study_that_no_longer_validates(llm_study: Path, no_plots: None) -> None:
    (llm_study / "study.toml").write_text(LLM_TOML.replace('"fp16"]', '"fp16", "no_such_format"]'))
    text = report_html(llm_study)
    assert "<h1>tiny-pareto</h1>" in text and "no_such_format" in text
    assert "grid</dt>" not in text


def test_table_payload_caps_rows_and_says_so(tmp_path: Path, no_plots: None) -> None:
    folder = write_big_study(tmp_path / "big", n=3000)
    points = ResultsStore.of(folder).points()
    payload = table_payload(points, max_rows=500)
    assert payload["total"] == 3000 and len(payload["rows"]) == 500
    assert [r[0] for r in payload["rows"]] == list(points["key"][:500])
    text = report_html(folder, max_rows=500)
    assert "The table holds the first 500 of 3000 points" in text
    assert "--csv" in text


def test_cells_are_json_values(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    payload = table_payload(points)
    col = payload["columns"]
    failed = next(r for r in payload["rows"] if r[col.index("status")] == "failed")
    assert failed[col.index("metric")] is None  # NaN metrics of a failed point
    ok = next(r for r in payload["rows"] if r[col.index("status")] == "ok")
    assert ok[col.index("higher_is_better")] is False
    assert isinstance(ok[col.index("rows")], int)
    assert payload["numeric"][col.index("metric")] and not payload["numeric"][col.index("weights")]
    assert payload["integer"][col.index("rows")] and not payload["integer"][col.index("metric")]


# ---- in a real browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER} absent): "
                    f"apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium 4 (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _open(driver, path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "count").get_attribute("data-matching"))
    return driver


def _column(driver, name: str) -> list[str]:
    """The texts of column ``name`` in the rows the page shows."""
    idx = driver.execute_script(
        "return Array.from(document.querySelectorAll('#points thead th'))"
        ".findIndex(t => t.dataset.col === arguments[0]);", name)
    assert idx >= 0, name
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#points tbody tr')).map(r => r.cells[arguments[0]].textContent);",
        idx)


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _type(driver, text: str) -> int:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "filter")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)  # real key presses: each fires the page's "input" handler
    if text:
        box.send_keys(text)
    return int(driver.find_element(By.ID, "count").get_attribute("data-matching"))


def test_report_in_a_browser(browser, llm_study: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    points = ResultsStore.of(llm_study).points()
    driver = _open(browser, write_report(llm_study))
    assert _severe(driver) == []
    assert driver.title == "tiny-pareto: hwsim study report"
    # every plot renders
    imgs = driver.find_elements(By.CSS_SELECTOR, "img.plot")
    assert len(imgs) == 6
    for img in imgs:
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
        assert img.rect["width"] > 0 and img.rect["height"] > 0
    # the table shows every point; a header click sorts it (NaN metrics last), a second reverses
    assert len(_column(driver, "key")) == len(points) == 32
    driver.find_element(By.CSS_SELECTOR, "th[data-col='metric']").click()
    ok = points[points["status"] == "ok"]
    failed = list(points.loc[points["status"] != "ok", "key"])
    assert _column(driver, "key") == list(ok.sort_values("metric")["key"]) + failed
    assert driver.find_element(By.CSS_SELECTOR, "th[data-col='metric']").get_attribute("aria-sort") == "ascending"
    driver.find_element(By.CSS_SELECTOR, "th[data-col='metric']").click()
    assert _column(driver, "key") == list(ok.sort_values("metric", ascending=False)["key"]) + failed
    driver.find_element(By.CSS_SELECTOR, "th[data-col='weights']").click()
    shown = _column(driver, "weights")
    assert shown == sorted(shown)
    # typing filters over every row; every word must match
    assert _type(driver, "int8_g32") == len(_column(driver, "key")) == int((points["weights"] == "int8_g32").sum())
    assert set(_column(driver, "weights")) == {"int8_g32"}
    want = int(((points["weights"] == "nvfp4") & (points["dataflow"] == "ws")).sum())
    assert _type(driver, "NVFP4 ws") == want == 4
    assert _type(driver, "no such thing") == 0
    assert len(_column(driver, "key")) == 0
    assert _type(driver, "") == 32
    assert _severe(driver) == []
    shot = tmp_path / "report.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"
    print(f"screenshot: {shot}")


def test_report_with_ten_thousand_rows_in_a_browser(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    folder = write_big_study(tmp_path / "big")
    points = ResultsStore.of(folder).points()
    driver = _open(browser, write_report(folder))
    assert _severe(driver) == []
    assert int(driver.find_element(By.ID, "count").get_attribute("data-matching")) == 12_000
    assert len(_column(driver, "key")) == 100  # one page at a time
    driver.find_element(By.ID, "next").click()
    assert _column(driver, "key")[0] == points["key"].iloc[100]
    start = time.perf_counter()
    assert _type(driver, "mxfp4") == int((points["weights"] == "mxfp4").sum()) == 3000
    driver.find_element(By.CSS_SELECTOR, "th[data-col='energy_pj']").click()
    elapsed = time.perf_counter() - start
    want = points[points["weights"] == "mxfp4"].sort_values("energy_pj", kind="stable")["key"]
    assert _column(driver, "key") == list(want[:100])
    assert elapsed < 5, f"filter + sort of 12000 rows took {elapsed:.1f} s"
    assert _severe(driver) == []
    shot = tmp_path / "report-big.png"
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def test_report_of_a_study_not_run_yet(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "study.toml").write_text(LLM_TOML)
    text = report_html(folder)
    assert "<dt>points in the store</dt><dd>0</dd>" in text
    assert "The results support no plot yet." in text
    assert _payload(text)["rows"] == []
