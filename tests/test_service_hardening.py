"""Hardening (issue 12): a hung model must not starve the API (D9), every bad input is a 4xx in the one
error shape with its limits declared (D10), and the service shows and logs no more than it must (D15).

Servers here are real (uvicorn, http.server) on 127.0.0.1 ports; every loop is bounded and stops by itself.
"""

from __future__ import annotations

import json
import logging
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from common.settings import Settings, is_loopback_url
from core.errors import CoreError
from core.guard import Bulkhead, Busy, CircuitBreaker, CircuitOpen, DeadlineExceeded
from core.validate import MAX_OFFSET, check_text
from service.app import create_app
from service.posture import DropQueryString, uvicorn_log_config
from service.server import running_server, uvicorn_config
from tests.test_service_api import make_engine

QUESTION = "how many foster carers did the recruitment campaign add?"


def _error(r: Any, status: int, code: str) -> dict:  # an httpx (or TestClient) response
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


@pytest.fixture(scope="module")
def client(tiny_index_dir: Path) -> Iterator[TestClient]:
    engine = make_engine(tiny_index_dir)
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        yield c


# -- D9: a hung language model -----------------------------------------------------------------------


@pytest.fixture()
def hung_model() -> Iterator[tuple[str, dict[str, int]]]:
    """A chat endpoint that accepts every request and never answers (until the test ends, 15 s at most)."""
    release = threading.Event()
    counts = {"now": 0, "peak": 0, "total": 0}
    lock = threading.Lock()

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            with lock:
                counts["now"] += 1
                counts["total"] += 1
                counts["peak"] = max(counts["peak"], counts["now"])
            try:
                release.wait(15)  # bounded: the handler gives up by itself
            finally:
                with lock:
                    counts["now"] -= 1

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", counts
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_hung_model_does_not_starve_health_and_search(tiny_index_dir: Path, hung_model: tuple[str, dict],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    url, counts = hung_model
    engine = make_engine(tiny_index_dir, llm_base_url=url, llm_model="m", llm_api_key="secret-key",
                         llm_timeout_s=3.0, llm_max_concurrent=2, llm_breaker_failures=2, llm_breaker_cooldown_s=60)
    caplog.set_level(logging.INFO, logger="councilqa.llm")
    app = create_app(engine.settings, engine)
    latencies: list[tuple[str, float]] = []
    with running_server(app, engine.settings) as base, ThreadPoolExecutor(45) as pool:
        def ask() -> tuple[float, dict]:
            with httpx.Client(base_url=base, timeout=30) as c:
                t0 = time.perf_counter()
                r = c.post("/ask", json={"question": QUESTION})
                assert r.status_code == 200, r.text
                return time.perf_counter() - t0, r.json()

        asks = [pool.submit(ask) for _ in range(45)]
        time.sleep(0.3)  # the asks are in: every one either waits on the model or has fallen back
        with httpx.Client(base_url=base, timeout=30) as c:
            end = time.monotonic() + 2.0
            for _ in range(40):  # bounded in count and time
                if time.monotonic() > end:
                    break
                for path, params in (("/health", {}), ("/search", {"q": "library", "k": "3"})):
                    t0 = time.perf_counter()
                    assert c.get(path, params=params).status_code == 200
                    latencies.append((path, time.perf_counter() - t0))
        answers = [f.result(timeout=30) for f in asks]
        # The two timed-out calls opened the breaker: the next answer skips the model at once.
        with httpx.Client(base_url=base, timeout=30) as c:
            t0 = time.perf_counter()
            after = c.post("/ask", json={"question": QUESTION}).json()
            after_s = time.perf_counter() - t0
    # Nothing waited on the hung model (that takes its 3 s timeout); the 45 fallback answers computed at the
    # same time on 2 cores may slow one request past a second, so the bound on the worst is the timeout,
    # and the typical request stays fast.
    worst = max(latencies, key=lambda x: x[1])
    assert worst[1] < 3.0, f"{worst[0]} took {worst[1]:.2f}s while the model hung"
    assert statistics.median(s for _, s in latencies) < 0.5, latencies
    assert counts["peak"] <= 2, counts  # the model never saw more than llm_max_concurrent calls at once
    assert all(a["mode"] == "extractive" and a["found"] and a["citations"] for _, a in answers)
    reasons = {a["llm_error"].split(":")[0] for _, a in answers}
    assert reasons <= {"busy", "timeout"} and "timeout" in reasons, reasons
    # None waited much past the 3 s deadline (45 answers computed on 2 busy cores take a few seconds too).
    assert max(s for s, _ in answers) < 3.0 + 7.0
    assert after["llm_error"].startswith("circuit open") and after_s < 1.0, (after, after_s)
    logged = [r.getMessage() for r in caplog.records if r.name == "councilqa.llm"]
    assert any("failed: timeout" in m for m in logged) and any("circuit open" in m for m in logged), logged
    assert not any("secret-key" in m for m in logged)


def test_circuit_breaker_opens_cools_down_and_closes() -> None:
    now = [100.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=lambda: now[0])
    for _ in range(2):
        breaker.before_call()
        assert breaker.record_failure() is False
    assert breaker.state == "closed"
    assert breaker.record_failure() is True and breaker.state == "open"
    with pytest.raises(CircuitOpen, match="3 failures in a row"):
        breaker.before_call()
    now[0] += 31
    assert breaker.state == "half_open"
    breaker.before_call()  # the trial goes through ...
    assert breaker.record_failure() is True  # ... fails, and opens it again at once
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    now[0] += 31
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.failures == 0


def test_bulkhead_bounds_calls_and_waits_at_most_the_deadline() -> None:
    gate = Bulkhead(slots=2, name="test")
    release = threading.Event()
    try:
        with ThreadPoolExecutor(2) as callers:
            hung = [callers.submit(gate.run, lambda: release.wait(5), 0.3) for _ in range(2)]
            time.sleep(0.1)
            t0 = time.perf_counter()
            with pytest.raises(Busy):
                gate.run(lambda: "never", 5)
            assert time.perf_counter() - t0 < 0.1  # refused at once, not queued
            for f in hung:
                with pytest.raises(DeadlineExceeded):
                    f.result(timeout=5)
        assert gate.in_flight == 2  # the hung calls still hold their slots after their callers gave up
        release.set()
        for _ in range(100):  # bounded wait for the pool threads to finish
            if gate.in_flight == 0:
                break
            time.sleep(0.02)
        assert gate.run(lambda: 42, 1) == 42
    finally:
        release.set()
        gate.close()


# -- D10: every bad input a 4xx, every limit declared --------------------------------------------------


def test_lone_surrogate_is_a_422_not_a_500(client: TestClient) -> None:
    raw = b'{"question": "\\ud800 youth"}'  # valid JSON; decodes to a str no encoder or tokenizer takes
    err = _error(client.post("/ask", content=raw, headers={"content-type": "application/json"}), 422, "invalid_text")
    assert "U+D800" in err["message"] and err["details"] == {"field": "question", "position": 0}
    with pytest.raises(CoreError) as exc:
        check_text("ok \udfff", 100)
    assert exc.value.code == "invalid_text" and exc.value.details["position"] == 3


@pytest.mark.parametrize("name", ["council", "speaker", "doc_type", "date_from"])
def test_lone_surrogate_in_a_filter_is_a_422(client: TestClient, name: str) -> None:
    # Its "unknown value" error echoed it, and the error body itself failed to encode: a 500.
    raw = b'{"question": "library", "%s": "x\\udc80"}' % name.encode()
    err = _error(client.post("/ask", content=raw, headers={"content-type": "application/json"}), 422, "invalid_text")
    assert err["details"] == {"field": name, "position": 1}


def test_error_bodies_render_whatever_they_echo() -> None:
    from service.errors import ErrorJSONResponse

    body = json.loads(ErrorJSONResponse({"error": {"message": "bad \ud800", "details": {}}}).body)
    assert body["error"]["message"] == "bad \ud800"


def test_body_that_is_not_utf8_is_a_422_like_malformed_json(client: TestClient) -> None:
    # Found by schemathesis: FastAPI answered an undeclared 400 "error parsing the body".
    for raw in (b"\xff", b'{"question": "caf\xe9"}'):
        err = _error(client.post("/ask", content=raw, headers={"content-type": "application/json"}), 422,
                     "invalid_request")
        assert "UTF-8" in err["message"] and err["details"]["errors"][0]["field"] == "body"


@pytest.mark.parametrize("offset", ["9223372036854775808", str(10**20)])
def test_offset_beyond_sqlite_integer_is_a_422(client: TestClient, offset: str) -> None:
    err = _error(client.get("/documents", params={"offset": offset}), 422, "invalid_paging")
    assert err["details"]["max_offset"] == MAX_OFFSET
    page = client.get("/documents", params={"offset": str(MAX_OFFSET)})
    assert page.status_code == 200 and page.json()["documents"] == []


def test_openapi_declares_the_limits_the_core_enforces(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir, max_query_chars=50, max_k=7)
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        schema = c.get("/openapi.json").json()
        search = {p["name"]: p["schema"] for p in schema["paths"]["/search"]["get"]["parameters"]}
        docs = {p["name"]: p["schema"] for p in schema["paths"]["/documents"]["get"]["parameters"]}
        ask = schema["components"]["schemas"]["AskRequest"]["properties"]
        for text in (search["q"], ask["question"]):
            assert (text["minLength"], text["maxLength"]) == (1, 50)
        for k in (search["k"], ask["k"]):
            assert (k["minimum"], k["maximum"]) == (1, 7)
        assert (docs["limit"]["minimum"], docs["limit"]["maximum"]) == (1, 1000)
        assert (docs["offset"]["minimum"], docs["offset"]["maximum"]) == (0, MAX_OFFSET)
        assert {"413", "422", "503"} <= set(schema["paths"]["/ask"]["post"]["responses"])
        # The declared bounds are exactly where the core refuses, with its own codes.
        assert c.get("/search", params={"q": "x" * 50, "k": 7}).status_code == 200
        _error(c.get("/search", params={"q": "x" * 51}), 422, "query_too_long")
        _error(c.get("/search", params={"q": "library", "k": 8}), 422, "invalid_k")
        _error(c.post("/ask", json={"question": "q" * 51}), 422, "query_too_long")
        _error(c.get("/search", params={"q": ""}), 422, "empty_query")
        _error(c.get("/documents", params={"limit": 1001}), 422, "invalid_paging")


def test_request_body_over_the_limit_is_a_413(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir, max_body_bytes=2048)
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        big = json.dumps({"question": "library " * 400}).encode()
        err = _error(c.post("/ask", content=big, headers={"content-type": "application/json"}), 413, "too_large")
        assert err["details"] == {"max_bytes": 2048}

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"question": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}'

        _error(c.post("/ask", content=chunks(), headers={"content-type": "application/json"}), 413, "too_large")
        assert c.post("/ask", json={"question": QUESTION}).status_code == 200


def test_slow_request_body_is_a_408(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir, body_read_timeout_s=0.5)
    with running_server(create_app(engine.settings, engine), engine.settings) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"question\": ")  # ... and the rest never comes
            t0 = time.perf_counter()
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                got = s.recv(4096)
                if not got:
                    break
                reply += got
            waited = time.perf_counter() - t0
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), reply
    assert json.loads(body)["error"]["code"] == "request_timeout" and waited < 3


def test_uvicorn_runs_with_its_limits() -> None:
    settings = Settings(keep_alive_timeout_s=7, max_connections=64)
    config = uvicorn_config(object(), settings, log_config=None)
    assert config.timeout_keep_alive == 7 and config.limit_concurrency == 64
    assert config.h11_max_incomplete_event_size == 16 * 1024 and config.server_header is False
    # What `councilqa serve` runs with: the access log's query strings dropped unless COUNCILQA_LOG_QUERIES.
    assert uvicorn_log_config(settings)["loggers"]["uvicorn.access"]["filters"] == ["drop_query"]
    assert "filters" not in uvicorn_log_config(Settings(log_queries=True))["loggers"]["uvicorn.access"]


# -- D15: posture --------------------------------------------------------------------------------------


def test_docs_pages_load_nothing_from_outside(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "https://" not in html and "http://" not in html, html
        assets = [part.split('"')[1] for part in html.split("src=")[1:] + html.split("href=")[1:]]
        assert assets, html
        for asset in assets:
            assert asset.startswith("/static/docs/") and client.get(asset).status_code == 200, asset
    assert "SwaggerUIBundle" in client.get("/static/docs/swagger-ui-bundle.js").text[:5000]


@pytest.mark.parametrize("url", ["http://models.example.org:8080/v1", "http://10.0.0.5:11434",
                                 "http://127.0.0.1.example.com/v1"])
def test_plain_http_model_endpoint_elsewhere_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="https://"):
        Settings(llm_base_url=url, llm_model="m")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://127.3.2.1", "http://localhost:11434",
                                 "http://[::1]:8000/v1", "https://models.example.org/v1"])
def test_https_or_loopback_model_endpoint_is_accepted(url: str) -> None:
    assert Settings(llm_base_url=url, llm_model="m").llm_base_url == url.rstrip("/")
    assert is_loopback_url(url) is url.startswith("http://")


def test_health_and_stats_show_no_internals_unless_allowed(tiny_index_dir: Path) -> None:
    for expose in (False, True):
        engine = make_engine(tiny_index_dir, expose_details=expose)
        with TestClient(create_app(engine.settings, engine)) as c:
            health, stats = c.get("/health").json(), c.get("/stats").json()
        if expose:
            assert health["index_dir"] == str(tiny_index_dir) and "torch" in json.dumps(stats["manifest"]["versions"])
        else:
            assert health["index_dir"] == tiny_index_dir.name and "versions" not in stats["manifest"]
            assert str(tiny_index_dir.parent) not in json.dumps([health, stats])


def test_access_log_leaves_out_query_strings_unless_asked(tiny_index_dir: Path) -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    for log_queries in (False, True):
        engine = make_engine(tiny_index_dir, log_queries=log_queries)
        access = logging.getLogger("uvicorn.access")
        try:
            with running_server(create_app(engine.settings, engine), engine.settings,
                                log_config=uvicorn_log_config(engine.settings), log_level="info") as base:
                access.addHandler(Keep())
                httpx.get(f"{base}/search", params={"q": "council tax increase"}, timeout=10)
                for _ in range(50):  # the access line is written just after the response
                    if any("/search" in m for m in seen):
                        break
                    time.sleep(0.02)
        finally:
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # undo uvicorn's dictConfig
                logger = logging.getLogger(name)
                logger.handlers.clear()
                logger.filters.clear()
                logger.propagate = True
        line = next(m for m in seen if "/search" in m)
        assert ("council" in line) is log_queries and "GET /search" in line, line
        seen.clear()


def test_drop_query_string_filter_keeps_everything_else() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/search?q=secret", "1.1", 200), None)
    assert DropQueryString().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /search HTTP/1.1" 200'
