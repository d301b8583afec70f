"""The language-model answer path, against a real local HTTP server standing in for the endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.llm import LlmError, build_prompt, check_answer, supported
from indexer.tokens import count_tokens
from service.app import create_app
from tests.test_service_api import make_engine

QUESTION = "how many foster carers did the recruitment campaign add?"


class FakeLlm:
    """What the next POST /v1/chat/completions replies: (status, body) or a callable."""

    def __init__(self) -> None:
        self.reply: tuple[int, Any] = (200, {})
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[FakeLlm, str]]:
    state = FakeLlm()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if state.delay:
                threading.Event().wait(state.delay)
            status, payload = state.reply(body) if callable(state.reply) else state.reply
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            kind = "application/json"
            if body.get("stream") and status == 200 and isinstance(payload, dict) and payload.get("choices"):
                raw, kind = sse_chunks(payload["choices"][0]["message"]["content"]), "text/event-stream"
            self.send_response(status if self.path == "/v1/chat/completions" else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def sse_chunks(content: str) -> bytes:
    """An OpenAI-style streamed completion of `content`, a few characters per chunk."""
    pieces = [content[i : i + 7] for i in range(0, len(content), 7)]
    lines = [f"data: {json.dumps({'choices': [{'delta': {'content': p}}]})}\n\n" for p in pieces]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def chat(content: str) -> tuple[int, dict]:
    return 200, {"choices": [{"message": {"role": "assistant", "content": content}}]}


@pytest.fixture(scope="module")
def client(llm: tuple[FakeLlm, str], tiny_index_dir: Path) -> Iterator[TestClient]:
    _, url = llm
    engine = make_engine(tiny_index_dir, llm_base_url=url, llm_model="test-model", llm_api_key="k3y",
                         llm_timeout_s=1.0)
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        yield c


def test_llm_answer_is_used_and_citations_renumbered(client: TestClient, llm: tuple[FakeLlm, str]) -> None:
    state, _ = llm
    state.delay = 0.0

    def answer(body: dict) -> tuple[int, dict]:
        prompt = body["messages"][1]["content"]
        blocks = prompt.split("\n\n[")
        n = next(b.split("]")[0] for b in blocks if "35 foster carers" in b)
        return chat(f"The campaign added 35 foster carers [{n}]. Carers also get leisure membership [{n}][99]. "
                    "This sentence has no marker.")

    state.reply = answer
    data = client.post("/ask", json={"question": QUESTION}).json()
    assert data["mode"] == "llm" and data["found"] and data["llm_error"] is None
    assert data["answer"] == "The campaign added 35 foster carers [1]. Carers also get leisure membership [1]."
    assert len(data["citations"]) == 1 and data["citations"][0]["n"] == 1
    c = data["citations"][0]
    assert c["quote"] in c["text"] and "35 foster carers" in c["quote"]
    req = state.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k3y"
    assert req["body"]["model"] == "test-model"
    assert "[1]" in req["body"]["messages"][1]["content"] and QUESTION in req["body"]["messages"][1]["content"]


@pytest.mark.parametrize(("reply", "reason"), [
    ((500, {"error": "down"}), "HTTP 500"),
    ((200, b"not json"), "unreadable"),
    ((200, {"choices": []}), "unreadable"),
    (chat(""), "empty answer"),
    (chat("The campaign added 35 carers [77]."), "no sentence cites"),
    (chat("NOT FOUND"), "found no answer"),
])
def test_llm_failures_fall_back_to_extractive(client: TestClient, llm: tuple[FakeLlm, str],
                                              reply: tuple[int, Any], reason: str) -> None:
    state, _ = llm
    state.delay = 0.0
    state.reply = reply
    data = client.post("/ask", json={"question": QUESTION}).json()
    assert data["mode"] == "extractive" and data["found"]
    assert reason in data["llm_error"]
    assert any("35 foster carers" in c["quote"] for c in data["citations"])


def test_llm_timeout_falls_back(client: TestClient, llm: tuple[FakeLlm, str]) -> None:
    state, _ = llm
    state.reply, state.delay = chat("Added 35 [1]."), 1.5
    data = client.post("/ask", json={"question": QUESTION}).json()
    state.delay = 0.0
    assert data["mode"] == "extractive" and "timeout" in data["llm_error"]


def test_llm_not_called_when_abstaining(client: TestClient, llm: tuple[FakeLlm, str]) -> None:
    state, _ = llm
    before = len(state.requests)
    data = client.post("/ask", json={"question": "What colour are the dragons on Mars?"}).json()
    assert data["found"] is False and len(state.requests) == before


def test_unreachable_endpoint_falls_back(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir, llm_base_url="http://127.0.0.1:9", llm_model="m", llm_timeout_s=1.0)
    data = engine.ask(QUESTION).to_dict()
    assert data["mode"] == "extractive" and data["llm_error"].startswith("request failed")


def test_prompt_respects_the_token_budget(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir)
    passages = engine.index.passages.get(list(range(engine.index.passages.count())))
    messages, used = build_prompt("question?", passages, 300)
    assert 1 <= used < len(passages)
    assert count_tokens(messages[0]["content"] + messages[1]["content"]) <= 300
    _, all_used = build_prompt("question?", passages, 100_000)
    assert all_used == len(passages)


PASSAGES = ["The panel heard about first things.", "Second items were listed.", "First and second, both here."]


def test_check_answer_rules() -> None:
    got = check_answer("First [3]. Second [1][3]. Third, uncited. Fourth [99].", PASSAGES)
    assert got.answer == "First [1]. Second [2][1]."
    assert [i for i, _ in got.cited] == [2, 0]
    assert got.dropped == ("Third, uncited.", "Fourth [99].")
    with pytest.raises(LlmError, match="no valid citation"):
        check_answer("Nothing cited here.", PASSAGES)


@pytest.mark.parametrize(("sentence", "ok"), [
    ("The campaign added 35 foster carers [1].", True),
    ("The campaign added 36 foster carers [1].", False),  # a figure the passage does not hold
    ("Carers added by the campaigns [1].", True),  # inflections match on their stems
    ("The bridge repairs cost the county dearly [1].", False),  # another topic
    ("It did [1].", True),  # no content words: nothing to contradict
])  # fmt: skip
def test_a_sentence_is_kept_only_where_its_passage_supports_it(sentence: str, ok: bool) -> None:
    passage = "The recruitment campaign added 35 foster carers; carers get leisure membership."
    assert supported(sentence, [passage]) is ok


def test_every_sentence_unsupported_says_so() -> None:
    with pytest.raises(LlmError, match="every sentence unsupported"):
        check_answer("The bridge cost 9 million [1]. Dragons were seen [2].", PASSAGES)


def events(response: Any) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream."""
    out = []
    for block in response.text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def cited_reply(body: dict) -> tuple[int, dict]:
    prompt = body["messages"][1]["content"]
    n = next(b.split("]")[0] for b in prompt.split("\n\n[") if "35 foster carers" in b)
    return chat(f"The campaign added 35 foster carers [{n}]. It added 90 carers [{n}].")


def test_ask_stream_sends_the_model_text_then_the_checked_answer(client: TestClient, llm: tuple[FakeLlm, str],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    state, _ = llm
    state.delay, state.reply = 0.0, cited_reply
    with caplog.at_level("INFO", logger="councilqa.llm"):
        r = client.post("/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r)
    assert [e for e, _ in got[:-1]] == ["delta"] * (len(got) - 1) and len(got) > 3
    raw = "".join(d["text"] for _, d in got[:-1])
    n = raw.split("[")[1].split("]")[0]
    assert raw == f"The campaign added 35 foster carers [{n}]. It added 90 carers [{n}]."  # as the model wrote it
    name, answer = got[-1]
    assert name == "answer" and answer["mode"] == "llm" and answer["llm_error"] is None
    assert answer["answer"] == "The campaign added 35 foster carers [1]."  # 90 is in no passage: dropped
    assert state.requests[-1]["body"]["stream"] is True and state.requests[-1]["body"]["max_tokens"] == 300
    assert "1 sentence(s) dropped" in caplog.text


def test_ask_stream_falls_back_and_says_why(client: TestClient, llm: tuple[FakeLlm, str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    state, _ = llm
    state.delay, state.reply = 0.0, chat("Dragons flew over the bridge in 1850 [1].")
    with caplog.at_level("WARNING", logger="councilqa.llm"):
        got = events(client.post("/ask/stream", json={"question": QUESTION}))
    name, answer = got[-1]
    assert name == "answer" and answer["mode"] == "extractive" and answer["found"]
    assert answer["llm_error"].startswith("every sentence unsupported")
    assert "language model answer not used, extractive answer returned: every sentence unsupported" in caplog.text


def test_ask_stream_bad_question_is_a_plain_error(client: TestClient) -> None:
    r = client.post("/ask/stream", json={"question": "   "})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json")
    assert set(r.json()["error"]) >= {"code", "message"}


def test_ask_stream_without_a_model_is_one_answer_event(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir)
    with TestClient(create_app(engine.settings, engine)) as c:
        got = events(c.post("/ask/stream", json={"question": QUESTION}))
        plain = c.post("/ask", json={"question": QUESTION}).json()
    assert [e for e, _ in got] == ["answer"]
    assert {k: v for k, v in got[0][1].items() if k != "took_ms"} == {k: v for k, v in plain.items()
                                                                      if k != "took_ms"}
