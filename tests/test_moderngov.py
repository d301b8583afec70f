"""The ModernGov connector against a local server that serves real recorded responses.

`tests/fixtures/moderngov/` holds Manchester's recorded web service XML (MIT, Democracy Club: see its
README). The server rewrites the council's host in them to itself, so no request ever leaves loopback,
and serves generated linked documents. One meeting is cancelled with an empty agenda; in the other, one
agenda item is made restricted and one linked document of a public item is restricted.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from docx import Document as DocxDocument
from fastapi.testclient import TestClient
from lxml import etree

from common.settings import Settings
from core.engine import Engine
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex
from indexer.moderngov import Fetcher, FetchError, ModernGovClient, Politeness, council_for, window
from service.app import create_app
from tests.test_service_api import FAKE_CONFIG

FIXTURES = Path(__file__).parent / "fixtures" / "moderngov"
HOST = "https://democracy.manchester.gov.uk"
WINDOW = (date(2026, 1, 1), date(2026, 3, 31))
FAST = Politeness(delay_s=0, retries=2, backoff_s=0.01, timeout_s=1.0)


def _docx(text: str) -> bytes:
    doc = DocxDocument()
    doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _meeting_xml(base: str) -> bytes:
    """The recorded meeting 4967, with item 18833 restricted and the public item's document restricted."""
    root = etree.fromstring((FIXTURES / "minutes__meeting_with_minutes.xml").read_bytes())
    for item in root.iter("agendaitem"):
        if item.findtext("agendaitemid") == "18833":
            item.find("isrestricted").text = "True"
        else:
            item.find("linkeddocuments/linkeddoc/isrestricted").text = "True"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8").replace(HOST.encode(), base.encode())


class FakeModernGov:
    """What a ModernGov site answers, with failures to order: `fail_once` paths answer 500 the first time,
    `slow` paths take longer than the client waits, and `not_xml` makes the web service answer HTML."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.fail_once: set[str] = set()
        self.slow: set[str] = set()
        self.not_xml = False
        self.documents = {"60860": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                    _docx("Minutes of the Audit Committee of 25 November 2025: the internal "
                                          "audit plan was noted."), '"v1"'),
                          "60909": ("text/html", b"<html><body><h1>Draft work programme February 2026</h1>"
                                    b"<p>The committee will review the treasury management strategy.</p></body>"
                                    b"</html>", None)}

    def answer(self, path: str, query: dict[str, list[str]], headers: Any, base: str) -> tuple[int, dict, bytes]:
        name = path.rsplit("/", 1)[-1]
        self.requests.append(f"{name}?{'&'.join(f'{k}={v[0]}' for k, v in sorted(query.items()))}")
        if name in self.slow:
            time.sleep(1.5)
        if name in self.fail_once:
            self.fail_once.discard(name)
            return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
        xml = {"Content-Type": "text/xml; charset=utf-8"}
        if path.startswith("/mgWebService.asmx/"):
            if self.not_xml:
                return 200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>Welcome</body></html>"
            if name == "GetMeetings" and query.get("lCommitteeId") != ["144"]:  # only the Audit Committee met
                return 200, xml, b"<getmeetings><meetingscount> 0</meetingscount></getmeetings>"
            files = {"GetCommittees": "minutes__committees.xml", "GetMeetings": "minutes__meetings.xml"}
            if name == "GetMeeting":
                if query.get("lMeetingId") == ["4967"]:
                    return 200, xml, _meeting_xml(base)
                files[name] = "minutes__meeting_no_minutes.xml"
            return 200, xml, (FIXTURES / files[name]).read_bytes().replace(HOST.encode(), base.encode())
        if name == "mgConvert2PDF.aspx":
            kind, body, etag = self.documents[query["ID"][0]]
            if etag and headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, b""
            return 200, {"Content-Type": kind, **({"ETag": etag} if etag else {})}, body
        return 404, {"Content-Type": "text/plain"}, b"not found"


@pytest.fixture
def site() -> Iterator[tuple[FakeModernGov, str]]:
    fake = FakeModernGov()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            status, headers, body = fake.answer(parts.path, parse_qs(parts.query), self.headers, base)
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _fetch(url: str, folder: Path, **politeness: Any) -> Any:
    client = ModernGovClient(url, Politeness(**{**FAST.__dict__, **politeness}))
    try:
        return Fetcher(client, folder, "Manchester City Council").run(*WINDOW, ["Audit Committee"])
    finally:
        client.close()


def _sidecars(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")}


def test_every_sidecar_field_comes_from_the_xml(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    fake, url = site
    report = _fetch(url, tmp_path / "papers")
    papers = tmp_path / "papers"
    assert sorted(p.name for p in papers.iterdir() if p.suffix != ".json") == [
        "4967-18831-minutes.html", "4967-18833-minutes.html", "4967-60860.docx", "4967-60909.html"]
    cars = _sidecars(papers)
    common = {"council": "Manchester City Council", "committee": "Audit Committee", "date": "2026-02-10",
              "moderngov_committee_id": "144", "moderngov_meeting_id": "4967"}
    assert cars["4967-18831-minutes"] == {**common, "moderngov_agenda_item_id": "18831", "agenda_item_number": "1",
        "title": "Audit Committee minutes: Minutes", "doc_type": "minutes", "access": "public",
        "source_url": f"{url}/ieListDocuments.aspx?CId=144&MId=4967"}  # fmt: skip
    assert cars["4967-18833-minutes"]["access"] == "restricted"  # the item is restricted
    assert cars["4967-60909"]["access"] == "restricted"  # a document of a restricted item
    assert cars["4967-60860"] == {**common, "moderngov_agenda_item_id": "18831", "agenda_item_number": "1",
        "title": "6 - CHAIR APPROVED  Minutes Audit Committee 25 Nov 2025", "doc_type": "minutes",
        "access": "restricted", "moderngov_attachment_id": "60860",
        "source_url": f"{url}/mgConvert2PDF.aspx?ID=60860"}  # fmt: skip
    minutes = (papers / "4967-18831-minutes.html").read_text()
    assert "<h2>1. Minutes</h2>" in minutes and "&lt;" not in minutes  # unescaped once, headed by its item
    assert report.meetings == 2 and report.papers == 4 and len(report.restricted) == 3
    assert report.skipped == [("meeting 4966 (Audit Committee, 2026-01-13)",
                               "cancelled meeting with no agenda items")]
    assert "GetMeetings?lCommitteeId=144&sFromDate=01/01/2026&sToDate=31/03/2026" in fake.requests  # dd/mm/yyyy


def test_a_second_run_fetches_nothing_new(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    fake, url = site
    _fetch(url, tmp_path / "papers")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "papers").iterdir() if p.name[0] != "."}
    fake.requests.clear()
    again = _fetch(url, tmp_path / "papers")
    assert again.papers == 0 and again.unchanged == 4
    assert [r for r in fake.requests if r.startswith("mgConvert2PDF")] == ["mgConvert2PDF.aspx?ID=60860"]  # 304
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "papers").iterdir() if p.name[0] != "."} == before


def test_a_500_is_retried_and_a_timeout_reported(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    fake, url = site
    fake.fail_once.add("GetMeeting")
    assert _fetch(url, tmp_path / "a").papers == 4  # the 500 was retried
    fake.slow.add("mgConvert2PDF.aspx")
    report = _fetch(url, tmp_path / "b", timeout_s=0.5, retries=1)
    assert report.papers == 2 and {why for _, why in report.skipped if "kept failing" in why}  # the documents
    fake.slow.clear()
    assert _fetch(url, tmp_path / "b").papers == 2  # the next run fetches what the timeouts left


def test_an_answer_that_is_not_moderngov_xml_is_named(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    fake, url = site
    fake.not_xml = True
    with pytest.raises(FetchError, match="did not answer ModernGov XML.*is http://127.0.0.1:\\d+ a ModernGov site"):
        _fetch(url, tmp_path / "papers")
    with pytest.raises(FetchError, match="unreachable"):
        _fetch("http://127.0.0.1:9", tmp_path / "papers")


def test_the_request_cap_stops_a_run_that_the_next_resumes(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    _, url = site
    first = _fetch(url, tmp_path / "papers", max_requests=5)
    assert first.stopped and first.papers < 4
    assert _fetch(url, tmp_path / "papers").papers == 4 - first.papers


def test_council_names_and_windows() -> None:
    assert council_for("https://democracy.manchester.gov.uk") == "Manchester City Council"
    assert council_for("https://example.org") is None
    assert window(None, None, 90, today=date(2026, 12, 2)) == (date(2026, 9, 3), date(2027, 1, 1))
    with pytest.raises(ValueError, match="after"):
        window("2026-03-01", "2026-01-01", None)


def test_fetched_minutes_are_found_cited_to_their_committee_meeting_and_item(
        site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    _, url = site
    _fetch(url, tmp_path / "papers")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_tokens=60, chunk_overlap=10)
    report = build_index([tmp_path / "papers"], settings, embedder=FakeEmbedder(), progress=False)
    assert {d for d, _ in report.restricted} == {"4967-18833-minutes", "4967-60860", "4967-60909"}
    engine = Engine(CouncilIndex.load(settings.index_dir, "fake-hash-64"), FakeEmbedder(), settings,
                    answer_config=FAKE_CONFIG)
    try:
        hits = TestClient(create_app(settings, engine)).get(
            "/search", params={"q": "approve the minutes as a correct record", "k": 3}).json()["results"]
    finally:
        engine.close()
    top = hits[0]["citation"]
    assert (top["document_id"], top["council"], top["committee"], top["date"], top["agenda_item"]) == (
        "4967-18831-minutes", "Manchester City Council", "Audit Committee", "2026-02-10", "1. Minutes")
    assert all(h["citation"]["access"] == "public" for h in hits)


def test_the_command_fetches_and_says_what_to_run_next(site: tuple[FakeModernGov, str], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from councilqa.cli import app

    _, url = site
    runner = CliRunner()
    args = ["fetch", "moderngov", url, "--into", str(tmp_path / "p"), "--from", "2026-01-01", "--to", "2026-03-31",
            "--delay", "0", "--quiet"]
    unknown = runner.invoke(app, args)
    assert unknown.exit_code == 2 and "--council" in unknown.output  # a loopback address is in no list
    done = runner.invoke(app, [*args, "--council", "Manchester City Council"])
    assert done.exit_code == 0, done.output
    assert "2 meeting(s), 4 paper(s) written" in done.stdout and f"councilqa index {tmp_path / 'p'}" in done.stdout
    down = runner.invoke(app, ["fetch", "moderngov", "http://127.0.0.1:9", "--into", str(tmp_path / "q"),
                               "--council", "X Council", "--delay", "0", "--quiet"])
    assert down.exit_code == 1 and "unreachable" in down.output
