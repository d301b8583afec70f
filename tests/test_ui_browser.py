"""The real page in headless Chromium: `councilqa serve` on the corpus/ index + the Streamlit app, with Selenium.

The service is the real one (`councilqa serve` in a subprocess on the shipped corpus, real model), or any
running service when COUNCILQA_BROWSER_API_URL is set.
Screenshots go to $COUNCILQA_ARTIFACTS or artifacts/ in the repository root.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "tests")) if p not in sys.path]

from ui_fakes import free_port  # noqa: E402

from ui.launch import streamlit_command, ui_env  # noqa: E402

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
QUESTION = "what did Wolverhampton say about youth zone funding"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian chromium and chromedriver at /usr/bin (apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def api_url(corpus_index_dir: Path) -> Iterator[str]:
    """`councilqa serve` on the corpus/ index, as a user starts it; or COUNCILQA_BROWSER_API_URL if set."""
    if url := os.environ.get("COUNCILQA_BROWSER_API_URL"):
        yield url.rstrip("/")
        return
    port = free_port()
    cmd = [sys.executable, "-m", "councilqa.cli", "serve", "--index-dir", str(corpus_index_dir), "--port", str(port)]
    with _running(cmd, f"http://127.0.0.1:{port}", "/health", "councilqa serve", timeout=120) as url:
        yield url


@contextmanager
def _running(cmd: list[str], url: str, health: str, what: str, timeout: float,
             env: dict[str, str] | None = None) -> Iterator[str]:
    """A server subprocess, yielded once its health URL answers, stopped afterwards."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(url + health, proc, what, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for(url: str, proc: subprocess.Popen, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read() if proc.stdout and proc.poll() is not None else ""
            pytest.fail(f"{what} did not start: {out[-2000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def page_url(api_url: str) -> Iterator[str]:
    port = free_port()
    cmd = streamlit_command(api_url, port)
    with _running(cmd, f"http://127.0.0.1:{port}", "/_stcore/health", "streamlit", 60, ui_env(api_url)) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="councilqa-chromium-")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,2200",
    ):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def artifacts_dir() -> Path:
    path = Path(os.environ.get("COUNCILQA_ARTIFACTS") or ROOT / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_ask_a_question_in_the_browser(driver, page_url: str) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(page_url)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, 'input[aria-label="Your question"]')))
    box.send_keys(QUESTION, Keys.ENTER)

    wait.until(ec.presence_of_element_located((By.XPATH, "//*[contains(text(), 'Download briefing note')]")))
    wait.until(lambda d: "Alison Hinds" in d.find_element(By.TAG_NAME, "body").text)
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Sources" in body and "[1]" in body
    assert "Alison Hinds" in body
    assert "Children & Young People Scrutiny Panel" in body or "Wolverhampton" in body
    assert "Download briefing note (Markdown)" in body
    assert "Traceback" not in body
    time.sleep(0.5)  # let fonts and the last layout settle before the picture
    driver.save_screenshot(str(artifacts_dir() / "ui_answer.png"))

    # Open the first citation in its document: the cited span is highlighted and scrolled into view.
    driver.find_element(By.XPATH, "//button[.//p[text()='Show in document']]").click()
    cited = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "mark#cited")))
    assert "youth zone" in cited.text
    time.sleep(0.5)
    in_view = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;",
        cited,
    )
    assert in_view, "the cited passage was not scrolled into view"
    driver.save_screenshot(str(artifacts_dir() / "ui_document.png"))

    # The sidebar says what the filter chip says: the council read from the question.
    sidebar = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]')
    council = sidebar.find_element(By.CSS_SELECTOR, 'input[aria-label="Council"]').get_attribute("value")
    assert council.startswith("City of Wolverhampton Council") and "Read from your question: Council" in sidebar.text

    # Back to results: the answer again, scrolled back to the source the document was opened from.
    driver.find_element(By.XPATH, "//button[.//p[text()='← Back to results']]").click()
    wait.until(ec.presence_of_element_located((By.ID, "cqa-back-here")))
    wait.until(lambda d: d.execute_script(
        "const r = document.getElementById('cqa-back-here').getBoundingClientRect();"
        "return r.top >= 0 && r.top <= window.innerHeight;"))
    assert "Download briefing note (Word)" in driver.find_element(By.TAG_NAME, "body").text

    # The topic's timeline is drawn under the answer, and a source's meeting opens on its own page.
    chart = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".vega-embed canvas, .vega-embed svg")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", chart)
    time.sleep(0.5)
    assert chart.size["width"] > 100 and chart.size["height"] > 100
    assert "This topic over time" in driver.find_element(By.TAG_NAME, "body").text
    driver.save_screenshot(str(artifacts_dir() / "ui_timeline.png"))
    driver.find_element(By.XPATH, "//button[.//p[text()='Open the meeting']]").click()
    wait.until(lambda d: "Papers" in d.find_element(By.TAG_NAME, "body").text)
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Children & Young People Scrutiny Panel" in body and "27 November 2024" in body
    assert "Our Future Council" in body  # its agenda items, each with what was decided and said
    time.sleep(0.5)
    driver.save_screenshot(str(artifacts_dir() / "ui_meeting.png"))
