"""Follow a topic: a saved search, a new paper, a rebuild, and the digest at a real SMTP server on loopback
(aiosmtpd) and a new entry in the Atom feed (parsed with feedparser); a rebuild with no change brings
nothing; the saved search outlives a restart; one key never reads or deletes another's."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from common.settings import Settings
from core.engine import Engine
from core.following import FollowStore, words_key
from core.keys import KeyStore
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex
from service.app import create_app
from service.delivery import send_pending
from tests.conftest import write_tiny_corpus
from tests.test_service_api import FAKE_CONFIG

NEW_PAPER = ("Borsetshire County Council\nCabinet\n12 May 2024\n\n7. Quarry restoration\n\n"
             "The Cabinet approved the quarry restoration plan for Lakey Hill, with new footpaths.\n")
RESTRICTED_PAPER = ("Borsetshire County Council\nCabinet\n12 May 2024\n\n8. Children's services\n\n"
                    "The improvement notice was lifted after formal intervention; the Hollowtree staffing "
                    "matter is confidential.\n")
REAL_PAPER = Path(__file__).resolve().parents[1] / "corpus" / "001_1294310998f053a5.txt"
REAL_ID = "001_1294310998f053a5"  # its sidecar's id


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def _deliver(store: FollowStore, settings: Settings) -> Inbox:
    """Send the pending digests to an SMTP server listening on loopback for the while; what it received."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=settings.smtp_port)
    smtp.start()
    try:
        assert send_pending(store, settings) == (1, 0)
    finally:
        smtp.stop()
    return inbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    papers = write_tiny_corpus(tmp_path / "papers")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_tokens=60,
                        chunk_overlap=10, smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_tls="none",
                        smtp_from="alerts@council.example", auth_max_failures=1000)
    keys = KeyStore(settings.resolved_state_dir)
    tokens = {name: keys.create(name, scope)[1] for name, scope in (("alice", "read"), ("bob", "read"),
                                                                     ("ops", "admin"))}
    yield {"papers": papers, "settings": settings, "keys": tokens}


def _build(world: dict[str, Any]) -> Engine:
    settings = world["settings"]
    build_index([world["papers"]], settings, embedder=FakeEmbedder(), progress=False)
    return Engine(CouncilIndex.load(settings.index_dir, "fake-hash-64"), FakeEmbedder(), settings,
                  answer_config=FAKE_CONFIG)


def _client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine))


def _as(world: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['keys'][who]}"}


def test_a_new_paper_reaches_the_follower_by_email_and_feed_once(world: dict[str, Any]) -> None:
    engine = _build(world)
    client = _client(engine)
    made = client.post("/saved-searches", headers=_as(world, "alice"), json={
        "name": "Social care intervention", "query": "improvement notice lifted formal intervention",
        "deliver": {"email": "alice@example.org", "feed": True}})
    assert made.status_code == 201, made.text
    search_id = made.json()["id"]
    store = FollowStore(world["settings"].resolved_state_dir)
    assert store.run(engine).new == {search_id: 0}  # nothing new yet: what existed when it was saved
    engine.close()

    for suffix in (".txt", ".json"):  # a real paper: the Trafford minutes of the shipped corpus
        shutil.copy(REAL_PAPER.with_suffix(suffix), world["papers"] / f"trafford_minutes{suffix}")
    (world["papers"] / "private_note.txt").write_text(RESTRICTED_PAPER)
    (world["papers"] / "private_note.json").write_text(json.dumps({"access": "restricted"}))
    engine = _build(world)
    run = store.run(engine)
    found = run.new[search_id]
    assert run.changed_documents == 2 and found >= 1
    assert all(i["citation"]["document_id"] == REAL_ID for i in store.items(search_id))  # not the note

    inbox = _deliver(store, world["settings"])
    (msg,) = inbox.messages
    assert msg["To"] == "alice@example.org"
    assert msg["Subject"] == f"{found} new in council papers: Social care intervention"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "improvement notice lifted" in text and "Children's Scrutiny Committee, Trafford Council" in text
    assert f"http://127.0.0.1:8501/?doc={REAL_ID}&start=" in text and "Hollowtree" not in text
    assert "<blockquote>" in msg.get_body(("html",)).get_content()  # type: ignore[attr-defined]

    client = _client(engine)
    feed = feedparser.parse(client.get(f"/saved-searches/{search_id}/feed.atom", headers=_as(world, "alice")).content)
    assert not feed.bozo and len(feed.entries) == found
    assert feed.entries[0].link.startswith(f"http://127.0.0.1:8501/?doc={REAL_ID}")
    engine.close()

    engine = _build(world)  # no change
    assert store.run(engine).new == {search_id: 0} and store.pending() == []
    engine.close()

    engine = _build(world)  # a restart: a new app over the same state
    listed = _client(engine).get("/saved-searches", headers=_as(world, "alice")).json()["saved_searches"]
    assert [(s["id"], s["new_results"]) for s in listed] == [(search_id, found)]
    engine.close()


def test_one_key_cannot_read_or_delete_anothers_saved_search(world: dict[str, Any]) -> None:
    engine = _build(world)
    client = _client(engine)
    try:
        search_id = client.post("/saved-searches", headers=_as(world, "alice"),
                                json={"query": "library review"}).json()["id"]
        assert client.get("/saved-searches", headers=_as(world, "bob")).json() == {"saved_searches": []}
        for call in (client.get, client.delete):
            r = call(f"/saved-searches/{search_id}", headers=_as(world, "bob"))
            assert r.status_code == 404 and r.json()["error"]["code"] == "saved_search_not_found"
        assert client.get(f"/saved-searches/{search_id}/feed.atom", headers=_as(world, "bob")).status_code == 404
        assert [s["id"] for s in client.get("/saved-searches", headers=_as(world, "ops")).json()["saved_searches"]] \
            == [search_id]  # an admin key sees all
        assert client.delete(f"/saved-searches/{search_id}", headers=_as(world, "alice")).status_code == 204
        assert client.get(f"/saved-searches/{search_id}", headers=_as(world, "alice")).status_code == 404
        assert client.get("/saved-searches").status_code == 401
    finally:
        engine.close()


@pytest.mark.parametrize(("body", "code"), [
    ({"query": "   "}, "empty_query"),
    ({"query": "library", "council": "Nowhere Council"}, "unknown_filter_value"),
    ({"query": "library", "deliver": {"email": "not-an-address"}}, "invalid_email"),
    ({"query": "library", "deliver": {"feed": False}}, "invalid_deliver"),
])
def test_bad_saved_searches_are_refused_with_the_reason(world: dict[str, Any], body: dict[str, Any],
                                                        code: str) -> None:
    engine = _build(world)
    try:
        r = _client(engine).post("/saved-searches", headers=_as(world, "alice"), json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    finally:
        engine.close()


def test_a_digest_the_smtp_server_refused_is_kept_and_sent_next_time(world: dict[str, Any]) -> None:
    engine = _build(world)
    _client(engine).post("/saved-searches", headers=_as(world, "alice"), json={
        "query": "quarry restoration plan", "deliver": {"email": "alice@example.org"}})
    engine.close()
    (world["papers"] / "bcc_cabinet_2024.txt").write_text(NEW_PAPER)
    engine = _build(world)
    store = FollowStore(world["settings"].resolved_state_dir)
    store.run(engine)
    engine.close()
    assert send_pending(store, world["settings"]) == (0, 1)  # nothing listens on the port
    (waiting,) = store.pending()
    assert waiting[3] == 1  # one attempt recorded
    inbox = _deliver(store, world["settings"])
    assert len(inbox.messages) == 1 and store.pending() == []


def test_a_trivially_changed_passage_is_the_same_passage() -> None:
    assert words_key("The Cabinet  approved the plan.") == words_key("the cabinet approved the plan")
    assert words_key("The Cabinet approved the plan.") != words_key("The Cabinet rejected the plan.")


def test_the_cli_follows_lists_and_unfollows(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from councilqa import terminal
    from councilqa.cli import app

    engine = _build(world)
    engine.close()
    settings = world["settings"]
    monkeypatch.setattr(terminal, "load_engine", lambda s: Engine(
        CouncilIndex.load(settings.index_dir, "fake-hash-64"), FakeEmbedder(), settings, answer_config=FAKE_CONFIG))
    monkeypatch.setenv("COUNCILQA_STATE_DIR", str(settings.resolved_state_dir))
    runner = CliRunner()
    made = runner.invoke(app, ["follow", "library review", "--council", "Borsetshire", "--index-dir",
                               str(settings.index_dir)])
    assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(app, ["following", "--json", "--index-dir", str(settings.index_dir)]).stdout)
    assert [(s["query"], s["filters"]) for s in listed] == [("library review",
                                                              {"council": "Borsetshire County Council"})]
    assert runner.invoke(app, ["unfollow", listed[0]["id"], "--index-dir", str(settings.index_dir)]).exit_code == 0
    assert runner.invoke(app, ["unfollow", listed[0]["id"], "--index-dir", str(settings.index_dir)]).exit_code == 2
    shutil.rmtree(settings.resolved_state_dir)


def test_papers_remember_when_they_were_first_indexed_and_search_takes_since(world: dict[str, Any]) -> None:
    import time

    engine = _build(world)
    old = {d["doc_id"]: d["first_indexed"] for d in engine.documents(limit=100).documents}
    engine.close()
    time.sleep(1.1)
    (world["papers"] / "bcc_cabinet_2024.txt").write_text(NEW_PAPER)
    (world["papers"] / "bcc_cabinet_2021.txt").write_text(  # a changed paper keeps its first date
        (world["papers"] / "bcc_cabinet_2021.txt").read_text() + "\n4. Any other business\n\nNone was raised.\n")
    engine = _build(world)
    try:
        now = {d["doc_id"]: d["first_indexed"] for d in engine.documents(limit=100).documents}
        assert {d: now[d] for d in old} == old and now["bcc_cabinet_2024"] > max(old.values())
        since = max(old.values())
        hits = _client(engine).get("/search", params={"q": "cabinet", "since": since},
                                   headers=_as(world, "alice")).json()["results"]
        assert hits and {h["citation"]["document_id"] for h in hits} == {"bcc_cabinet_2024"}
        bad = _client(engine).get("/search", params={"q": "cabinet", "since": "last week"}, headers=_as(world, "alice"))
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_date"
    finally:
        engine.close()


def test_the_ui_follows_the_question_and_lists_what_is_new(world: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from service.server import running_server

    app_file = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")
    engine = _build(world)
    try:
        with running_server(create_app(engine.settings, engine), engine.settings) as url:
            monkeypatch.setenv("COUNCILQA_API_URL", url)
            monkeypatch.setenv("COUNCILQA_API_KEY", world["keys"]["alice"])
            at = AppTest.from_file(app_file, default_timeout=20).run()
            at.text_input(key="question").input("library review savings")
            next(b for b in at.button if b.label == "Ask").click()
            at = at.run()
            next(b for b in at.button if b.label.startswith("Follow this question")).click()
            at = at.run()
            assert not at.exception and any("Following:" in c.value for c in at.caption)
            assert any(e.label == "Followed (1)" for e in at.expander)
            saved = _client(engine).get("/saved-searches", headers=_as(world, "alice")).json()["saved_searches"]
            assert [s["query"] for s in saved] == ["library review savings"]
    finally:
        engine.close()


def test_alert_figures_per_threshold(world: dict[str, Any], tmp_path: Path) -> None:
    from evaluation.alerts import evaluate

    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(q) for q in (
        {"id": "a", "question": "mobile library closure savings", "kind": "factual", "answerable": True,
         "evidence": [{"doc_id": "bcc_cabinet_2021", "quote": "closure of the Loxley Barrett mobile library"}]},
        {"id": "b", "question": "zebra crossing outside the primary school", "kind": "unanswerable",
         "answerable": False})))
    engine = _build(world)
    try:
        rows = evaluate(engine, gold, [0.6, 5.0], distractors=2, seed=0)
    finally:
        engine.close()
    assert [(r["threshold"], r["recall"], r["quiet"]) for r in rows] == [(0.6, 1.0, 1.0), (5.0, 0.0, 1.0)]
    assert rows[0]["precision"] == 1.0 and rows[1]["alerted"] == 0
