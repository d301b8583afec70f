"""Restricted papers never reach a caller without the `restricted` scope, whichever way it asks.

Restricted papers are planted among the tiny corpus three ways (a sidecar's `access`, a folder
manifest's, the paper's own "NOT FOR PUBLICATION"), beside two public papers that must stay public (an
agenda whose exempt item is declared far down, and a marked paper whose sidecar says public). Every
route is then called with no key, a `read` key, a revoked key and a `restricted` key.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from common.settings import Settings
from core.engine import Engine
from core.keys import KeyStore
from indexer.access import declared_restriction
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from service.app import create_app
from service.auth import check_bind
from tests.conftest import served_index, write_tiny_corpus
from tests.test_service_api import FAKE_CONFIG

SECRET = "Kestrelgate"  # a word only restricted papers hold
HIDDEN_COUNCIL = "Loamshire"  # a council only restricted papers name
QUESTION = "What was decided about the quarry land sale?"

RESTRICTED_SIDECAR = (
    "Loamshire District Council\nCabinet\n3 March 2022\n\n1. Quarry land sale\n\n"
    f"RESOLVED: That the {SECRET} quarry land be sold to the preferred bidder for £1.2 million.\n",
    {"council": "Loamshire District Council", "committee": "Cabinet", "date": "2022-03-03", "doc_type": "minutes",
     "title": "Cabinet exempt minutes", "access": "restricted"})
RESTRICTED_TEXT = (
    "NOT FOR PUBLICATION\nBorsetshire County Council\nCabinet\n10 March 2021\n\n4. Quarry land sale\n\n"
    f"The Cabinet agreed the terms for the {SECRET} quarry land sale, commercially sensitive.\n",
    {"council": "Borsetshire County Council", "committee": "Cabinet", "date": "2021-03-10", "doc_type": "report",
     "title": "Quarry land sale terms"})
RESTRICTED_MANIFEST = (
    "Borsetshire County Council\nPlanning Committee\n\n2. Quarry extension\n\n"
    f"Officers advised that the {SECRET} quarry land sale would fund the extension; the Committee agreed.\n")
PUBLIC_AGENDA = (
    "Borsetshire County Council\nPlanning Committee\nAgenda\n\n1. Apologies\n\n2. Quarry land sale: public report\n\n"
    "The public report on the quarry land sale is attached. " + "Members will consider the options. " * 45 +
    "\n\n9. Exclusion of the press and public\n\nThe following item contains exempt information as defined in "
    "paragraph 3 of Part 1 of Schedule 12A to the Local Government Act 1972.\n")
PUBLIC_OVERRIDE = (
    "NOT FOR PUBLICATION until 1 May\nCity of Felpersham Council\nFull Council\n\n7. Quarry land sale\n\n"
    "The Council noted that the quarry land sale was now public.\n",
    {"council": "City of Felpersham Council", "committee": "Full Council", "date": "2023-05-01",
     "doc_type": "minutes", "access": "public"})


def _write(folder: Path, stem: str, text: str, meta: dict[str, str] | None = None) -> None:
    (folder / f"{stem}.txt").write_text(text)
    if meta is not None:
        (folder / f"{stem}.json").write_text(json.dumps(meta))


def _public_papers(folder: Path) -> Path:
    write_tiny_corpus(folder)
    _write(folder, "bcc_planning_agenda", PUBLIC_AGENDA, {"council": "Borsetshire County Council",
           "committee": "Planning Committee", "date": "2022-06-01", "doc_type": "agenda"})
    _write(folder, "fcc_override", *PUBLIC_OVERRIDE)
    return folder


def _restricted_papers(folder: Path) -> Path:
    folder.mkdir(parents=True)
    _write(folder, "loam_exempt", *RESTRICTED_SIDECAR)
    _write(folder, "bcc_terms", *RESTRICTED_TEXT)
    _write(folder, "bcc_planning_private", RESTRICTED_MANIFEST)
    (folder / "manifest.jsonl").write_text(json.dumps({
        "file": "bcc_planning_private.txt", "council": "Borsetshire County Council", "committee": "Planning Committee",
        "date": "2022-06-01", "doc_type": "minutes", "access": "restricted"}) + "\n")
    return folder


def _engine(index_dir: Path, state_dir: Path | None = None, **settings: Any) -> Engine:
    s = Settings(index_dir=index_dir, state_dir=state_dir, **settings)
    return Engine(served_index(index_dir, "fake-hash-64"), FakeEmbedder(), s, answer_config=FAKE_CONFIG)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("access")
    public, restricted = _public_papers(root / "public"), _restricted_papers(root / "restricted")
    both = Settings(index_dir=root / "both" / "index", cache_dir=root / "cache", chunk_tokens=60, chunk_overlap=10)
    report = build_index([public, restricted], both, embedder=FakeEmbedder(), progress=False)
    alone = Settings(index_dir=root / "alone" / "index", cache_dir=root / "cache", chunk_tokens=60, chunk_overlap=10)
    build_index([public], alone, embedder=FakeEmbedder(), progress=False)
    return {"root": root, "report": report, "both": both.index_dir, "alone": alone.index_dir}


def test_the_build_marks_restricted_papers_and_says_why(built: dict[str, Any]) -> None:
    report = built["report"]
    assert sorted(report.restricted) == [
        ("bcc_planning_private", '"access": "restricted" in its manifest'),
        ("bcc_terms", "marked 'not for publication' ('NOT FOR PUBLICATION')"),
        ("loam_exempt", '"access": "restricted" in its sidecar'),
    ]
    assert "3 restricted document(s), served only to keys with the restricted scope:" in report.summary()


def test_declarations_are_read_from_the_head_only() -> None:
    assert declared_restriction(PUBLIC_AGENDA) is None  # its exempt item is announced far below the head
    assert declared_restriction("PART II - PRIVATE\nReport of the Director") is not None
    assert declared_restriction("Report\nThis report contains exempt information under paragraph 3 of Part 1 of "
                                "Schedule 12A to the Local Government Act 1972.") is not None
    assert declared_restriction("The council published the report for consultation.") is None


def test_public_facets_equal_those_of_an_index_without_the_restricted_papers(built: dict[str, Any]) -> None:
    both, alone = _engine(built["both"]), _engine(built["alone"])
    try:
        assert both.facets() == alone.facets()
        assert both.health().passages == alone.health().passages
        full = both.facets(restricted=True)
        assert HIDDEN_COUNCIL in json.dumps(full) and full["documents"] == alone.facets()["documents"] + 3
    finally:
        both.close()
        alone.close()


def _keys(state_dir: Path) -> dict[str, str]:
    store = KeyStore(state_dir)
    keys = {scope: store.create(f"{scope} user", scope)[1] for scope in ("read", "restricted", "admin")}
    revoked_record, keys["revoked"] = store.create("leaver", "restricted")
    store.revoke(revoked_record.key_id)
    return keys


def _calls(client: TestClient, headers: dict[str, str], ids: dict[str, str]) -> dict[str, Any]:
    """Every route that reads papers, called once: route -> response."""
    body = {"question": QUESTION, "auto_filters": False}
    return {
        "search": client.get("/search", params={"q": "quarry land sale", "k": 50, "auto_filters": False},
                             headers=headers),
        "search_council": client.get("/search", params={"q": "quarry land sale", "council": "Loamshire"},
                                     headers=headers),
        "ask": client.post("/ask", json=body, headers=headers),
        "ask_stream": client.post("/ask/stream", json=body, headers=headers),
        "documents": client.get("/documents", params={"limit": 200}, headers=headers),
        "document": client.get(f"/documents/{ids['document']}", headers=headers),
        "facets": client.get("/facets", headers=headers),
        "stats": client.get("/stats", headers=headers),
        "timeline": client.get("/timeline", params={"q": "quarry land sale"}, headers=headers),
        "meetings": client.get("/meetings", params={"limit": 200}, headers=headers),
        "meeting": client.get(f"/meetings/{ids['meeting']}", headers=headers),
    }


@pytest.fixture(scope="module")
def served(built: dict[str, Any]) -> dict[str, Any]:
    state = built["root"] / "state"
    keys = _keys(state)
    engine = _engine(built["both"], state, auth_max_failures=1000)  # the tests fail keys on purpose, often
    client = TestClient(create_app(engine.settings, engine))
    restricted = {"Authorization": f"Bearer {keys['restricted']}"}
    meeting = next(m["id"] for m in client.get("/meetings", params={"limit": 200}, headers=restricted).json()
                   ["meetings"] if m["council"] == "Loamshire District Council")
    yield {"client": client, "keys": keys, "ids": {"document": "loam_exempt", "meeting": meeting}}
    engine.close()


def _leaks(response: Any) -> list[str]:
    text = response.text
    return [w for w in (SECRET, HIDDEN_COUNCIL, "loam_exempt", "bcc_terms", "bcc_planning_private") if w in text]


def test_without_a_key_nothing_is_served_once_keys_exist(served: dict[str, Any]) -> None:
    for route, r in _calls(served["client"], {}, served["ids"]).items():
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_key", route
        assert r.headers["www-authenticate"] == "Bearer"
    assert served["client"].get("/health").status_code == 200  # for load balancers: public counts only


def test_a_revoked_or_malformed_key_is_refused_with_its_reason(served: dict[str, Any]) -> None:
    client, keys = served["client"], served["keys"]
    for route, r in _calls(client, {"Authorization": f"Bearer {keys['revoked']}"}, served["ids"]).items():
        assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_key", route
        assert not _leaks(r), route
    r = client.get("/facets", headers={"Authorization": "Bearer not-a-key"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "malformed_key"
    r = client.get("/facets", headers={"Authorization": f"Bearer {keys['read'][:-4]}abcd"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unknown_key"
    r = client.get("/facets", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 401 and r.json()["error"]["code"] == "malformed_key"
    assert keys["revoked"] not in r.text and "Authorization" not in r.json()["error"]["message"][:0]


def test_a_read_key_never_sees_a_restricted_paper(served: dict[str, Any], built: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {served['keys']['read']}"}
    calls = _calls(served["client"], headers, served["ids"])
    for route, r in calls.items():
        if route not in ("search_council", "document"):  # their errors echo the caller's own input
            assert not _leaks(r), (route, _leaks(r))
    assert "Loamshire District Council" not in calls["search_council"].text
    unknown = served["client"].get("/documents/no_such_paper", headers=headers)
    assert calls["document"].status_code == unknown.status_code == 404
    assert calls["document"].json()["error"]["message"].replace("loam_exempt", "?") == \
        unknown.json()["error"]["message"].replace("no_such_paper", "?")
    assert calls["meeting"].status_code == 404
    assert calls["search_council"].status_code == 422  # "Loamshire" is no indexed council to this caller
    alone = _engine(built["alone"])
    try:
        assert calls["facets"].json() == TestClient(create_app(alone.settings, alone)).get("/facets").json()
    finally:
        alone.close()
    assert calls["search"].json()["results"] and calls["search"].headers.get("cache-control") is None


def test_a_restricted_key_sees_them_and_no_shared_cache_keeps_them(served: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {served['keys']['restricted']}"}
    calls = _calls(served["client"], headers, served["ids"])
    for route in ("search", "documents", "document", "facets", "meetings", "meeting", "search_council"):
        assert calls[route].status_code == 200 and _leaks(calls[route]), route
    hits = calls["search"].json()["results"]
    assert {h["citation"]["access"] for h in hits} == {"public", "restricted"}
    for route, r in calls.items():
        assert r.headers["cache-control"] == "private, no-store", route
        assert "Authorization" in r.headers["vary"]


def test_only_an_admin_key_may_reload(served: dict[str, Any]) -> None:
    client, keys = served["client"], served["keys"]
    assert client.post("/reload", headers={"Authorization": f"Bearer {keys['restricted']}"}).status_code == 403
    r = client.post("/reload", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert r.status_code == 200 and r.json()["error"] is None


def test_with_no_keys_loopback_callers_read_public_papers(built: dict[str, Any]) -> None:
    engine = _engine(built["both"], built["root"] / "no-keys-state")
    try:
        client = TestClient(create_app(engine.settings, engine))
        calls = _calls(client, {}, {"document": "loam_exempt", "meeting": "x"})
        assert calls["search"].status_code == 200 and calls["search"].json()["results"]
        for route, r in calls.items():
            assert route in ("search_council", "document") or not _leaks(r), route
    finally:
        engine.close()


def test_repeated_failures_from_one_address_are_refused_for_a_while(built: dict[str, Any]) -> None:
    state = built["root"] / "limit-state"
    KeyStore(state).create("someone", "read")
    engine = _engine(built["both"], state, auth_max_failures=3, auth_failure_window_s=60)
    try:
        client = TestClient(create_app(engine.settings, engine))
        codes = [client.get("/facets", headers={"Authorization": "Bearer wrong"}).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        blocked = client.get("/facets", headers={"Authorization": "Bearer wrong"})
        assert blocked.json()["error"]["code"] == "too_many_failures" and int(blocked.headers["retry-after"]) >= 1
    finally:
        engine.close()


def test_the_openapi_schema_documents_the_bearer_scheme(served: dict[str, Any]) -> None:
    schema = served["client"].get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["ApiKey"]
        ["description"]}
    for path in ("/search", "/ask", "/documents/{document_id}", "/facets", "/timeline", "/meetings"):
        op = next(iter(schema["paths"][path].values()))
        assert op["security"] == [{"ApiKey": []}] and "401" in op["responses"], path
    assert "security" not in schema["paths"]["/health"]["get"]


def test_binding_publicly_without_keys_is_refused(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", host="0.0.0.0")
    problem = check_bind(settings)
    assert problem and "councilqa keys create" in problem and "--public" in problem
    assert check_bind(Settings(index_dir=tmp_path / "index", host="0.0.0.0", public=True)) is None
    assert check_bind(Settings(index_dir=tmp_path / "index", host="127.0.0.1")) is None
    KeyStore(settings.resolved_state_dir).create("ops", "read")
    assert check_bind(settings) is None


def test_the_state_folder_may_not_live_inside_the_index(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside the index folder"):
        Settings(index_dir=tmp_path / "index", state_dir=tmp_path / "index" / "state")
    assert Settings(index_dir=tmp_path / "index").resolved_state_dir == tmp_path / ".councilqa-state"


def test_keys_are_created_once_listed_without_secrets_and_revoked(tmp_path: Path) -> None:
    from councilqa.cli import app

    runner = CliRunner()
    args = ["--state-dir", str(tmp_path / "state")]
    made = runner.invoke(app, ["keys", "create", "--name", "planning team", "--scope", "restricted", *args])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    assert key.startswith("cqa_")
    listed = runner.invoke(app, ["keys", "list", "--json", *args])
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["scope"], r["active"]) for r in rows] == [("planning team", "restricted", True)]
    assert key.split("_", 2)[2] not in listed.stdout  # the secret (which may itself hold "_")
    assert key.split("_", 2)[2] not in (tmp_path / "state" / "state.sqlite").read_bytes().decode("latin-1")
    bad = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "superuser", *args])
    assert bad.exit_code == 2 and "not one of read, restricted, admin" in bad.output
    assert runner.invoke(app, ["keys", "revoke", "planning team", *args]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "planning team", *args]).exit_code == 2
    assert json.loads(runner.invoke(app, ["keys", "list", "--json", *args]).stdout)[0]["active"] is False


# -- the MCP tool server ---------------------------------------------------------------------------


def _holder(engine: Engine) -> Any:
    from service.holder import EngineHolder

    return EngineHolder(engine, lambda: engine, 3600, owns_engine=False)


async def _tool(client: Any, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    r = await client.call_tool(name, args)
    return r.is_error, r.content[0].text if r.content else ""


def test_mcp_tools_over_stdio_scope_keep_restricted_papers_out_unless_allowed(built: dict[str, Any]) -> None:
    import anyio
    from mcp import Client

    from service.mcp_server import Tools, build_server, stdio_scope

    engine = _engine(built["both"])

    async def run(restricted: bool) -> dict[str, tuple[bool, str]]:
        server = build_server(Tools(_holder(engine), engine.settings, stdio_scope(restricted)))
        async with Client(server) as client:
            return {"search": await _tool(client, "search", {"query": "quarry land sale", "k": 50}),
                    "ask": await _tool(client, "ask", {"question": QUESTION}),
                    "document": await _tool(client, "get_document", {"document_id": "loam_exempt"}),
                    "facets": await _tool(client, "list_facets", {}),
                    "timeline": await _tool(client, "timeline", {"topic": "quarry land sale"}),
                    "meetings": await _tool(client, "list_meetings", {"limit": 100})}

    try:
        public, full = anyio.run(run, False), anyio.run(run, True)
    finally:
        engine.close()
    for name, (_, text) in public.items():
        leaked = [w for w in (SECRET, HIDDEN_COUNCIL, "bcc_terms", "bcc_planning_private") if w in text]
        assert not leaked, (name, leaked)
    assert public["document"][0] and "document_not_found" in public["document"][1]
    assert not full["document"][0] and SECRET in full["document"][1]
    assert SECRET in full["search"][1] and HIDDEN_COUNCIL in full["facets"][1]
    hit = json.loads(public["search"][1])["results"][0]
    assert hit["cite"] and hit["link"].startswith("http://127.0.0.1:8501/?doc=") and "char_start" in hit


def test_mcp_over_http_is_behind_the_same_keys(served: dict[str, Any], built: dict[str, Any]) -> None:
    import anyio
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from service.mcp_server import http_app
    from service.server import running_server

    engine = _engine(built["both"], built["root"] / "state")
    keys = served["keys"]

    async def search(url: str, key: str) -> str:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            return (await _tool(client, "search", {"query": "quarry land sale", "k": 50}))[1]

    try:
        with running_server(http_app(_holder(engine), engine.settings), engine.settings) as url:
            import httpx

            refused = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_key"
            revoked = httpx.post(f"{url}/mcp", json={}, headers={"Authorization": f"Bearer {keys['revoked']}"})
            assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_key"
            read, restricted = anyio.run(search, url, keys["read"]), anyio.run(search, url, keys["restricted"])
    finally:
        engine.close()
    assert "quarry" in read and SECRET not in read
    assert SECRET in restricted


# -- the UI ------------------------------------------------------------------------------------------


def test_the_ui_takes_a_key_in_its_settings_and_marks_restricted_sources(
        served: dict[str, Any], built: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from service.server import running_server

    engine = _engine(built["both"], built["root"] / "state")
    keys = served["keys"]
    app_file = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")

    def ask(at: AppTest) -> AppTest:
        at.text_input(key="question").input("quarry land sale")
        next(b for b in at.button if b.label == "Ask").click()
        return at.run()

    def page(at: AppTest) -> str:
        return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] +
                         [e.value for e in at.error] + [h.value for h in at.get("html")])

    try:
        with running_server(create_app(engine.settings, engine), engine.settings) as url:
            monkeypatch.setenv("COUNCILQA_API_URL", url)
            monkeypatch.delenv("COUNCILQA_API_KEY", raising=False)
            at = ask(AppTest.from_file(app_file, default_timeout=20).run())
            assert "Enter your API key under “Access” in the sidebar" in page(at)
            at.text_input(key="api_key").input(keys["read"])
            at = ask(at.run())
            assert not at.exception and "quarry" in page(at).lower()
            assert SECRET not in page(at) and "Restricted" not in page(at)
            at.text_input(key="api_key").input(keys["restricted"])
            at = ask(at.run())
            assert SECRET in page(at) and "Restricted: not for publication" in page(at)
            assert keys["restricted"] not in str(dict(at.query_params))  # never in the address
    finally:
        engine.close()


def test_the_cli_searches_public_papers_unless_told_restricted(built: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from councilqa import terminal
    from councilqa.cli import app

    monkeypatch.setattr(terminal, "load_engine", lambda settings: _engine(built["both"]))  # the fake-model index
    runner = CliRunner()
    for command in (["search", "quarry land sale", "-k", "50"], ["ask", QUESTION]):
        public = runner.invoke(app, [*command, "--json"])
        full = runner.invoke(app, [*command, "--json", "--restricted"])
        assert public.exit_code == full.exit_code == 0, public.output
        assert SECRET not in public.stdout and SECRET in full.stdout, command


def test_the_eval_runner_sends_its_key_to_a_remote_service(served: dict[str, Any]) -> None:
    from evaluation.backends import HttpBackend

    client = served["client"]
    backend = HttpBackend("http://testserver", client=client)
    with pytest.raises(Exception, match="401"):
        backend.search("quarry land sale", 5, "hybrid")
    keyed = HttpBackend("http://unused", api_key=served["keys"]["read"])
    assert keyed.client.headers["authorization"] == f"Bearer {served['keys']['read']}"


def test_the_failure_limiter_forgets_expired_addresses() -> None:
    from service.auth import FailureLimiter

    limiter = FailureLimiter(max_failures=2, window_s=0.05)
    limiter.MAX_ADDRESSES = 3  # type: ignore[misc]
    for i in range(3):
        limiter.fail(f"10.0.0.{i}")
    time.sleep(0.06)
    limiter.fail("10.0.0.9")
    limiter.fail("10.0.0.8")  # over the cap: the expired three are forgotten
    assert sorted(limiter._failures) == ["10.0.0.8", "10.0.0.9"]
    limiter.fail("10.0.0.9")
    assert limiter.retry_after("10.0.0.9") > 0 and limiter.retry_after("10.0.0.8") == 0
