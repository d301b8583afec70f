"""Meetings, agenda items across papers and a topic's timeline (issue 14): the grouping on the shared
corpora against their sidecars, item matching, and the /meetings and /timeline routes."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common.settings import Settings
from core.answer import AnswerConfig
from core.engine import Engine
from core.meetings import group_meetings, item_key, meeting_id, meeting_items
from indexer.embed import FakeEmbedder
from indexer.metadata import resolve_metadata
from indexer.models import Document, DocumentMeta, Passage
from indexer.pipeline import canonicalise
from service.app import create_app
from tests.conftest import served_index

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture(scope="module")
def client(tiny_index_dir: Path) -> TestClient:
    s = Settings(index_dir=tiny_index_dir)
    # FakeEmbedder cosines are lower than a real model's: its own abstention threshold (as test_service_api).
    engine = Engine(served_index(tiny_index_dir, "fake-hash-64"), FakeEmbedder(), s,
                    answer_config=AnswerConfig(abstain_below=0.6))
    with TestClient(create_app(s, engine), raise_server_exceptions=False) as c:
        yield c


def test_meetings_of_the_shared_corpora_are_grouped_as_their_sidecars_say() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/corpora is not here ({SHARED}): real papers needed")
    docs, expected = [], defaultdict(set)
    for path in sorted(SHARED.glob("*/*.txt")):
        meta, _ = resolve_metadata(path, path.read_text(encoding="utf-8"))
        docs.append(Document(meta, "", []))
        side = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        if side.get("council") and side.get("date"):
            expected[(side["council"], side.get("committee"), side["date"])].add(meta.doc_id)
    canonicalise(docs)
    meetings = group_meetings([d.meta for d in docs])
    dated = set().union(*expected.values())  # 6 papers have no date in their sidecar: the indexer reads one
    grouped = [sorted(p.document_id for p in m.papers if p.document_id in dated) for m in meetings.values()]
    assert sorted(g for g in grouped if g) == sorted(sorted(ids) for ids in expected.values())
    assert len(expected) < len(dated)  # some meetings have several papers
    # every paper with a date has its meeting; 16 say no date anywhere, and belong to none
    assert sum(len(m.papers) for m in meetings.values()) == sum(bool(d.meta.date) for d in docs) == len(docs) - 16
    assert all(m.id == meeting_id(m.council, m.committee, m.date) for m in meetings.values())


def test_meeting_ids_are_stable_and_readable() -> None:
    assert meeting_id("City of London (Ontario) City Council", "Council", "2025-01-21") == \
        "2025-01-21--city-of-london-ontario-city-council--council"
    assert meeting_id("Trafford Council", None, "2023-07-04") == "2023-07-04--trafford-council"
    metas = [DocumentMeta("b", council="A", committee="X", date="2024-01-02", doc_type="minutes"),
             DocumentMeta("a", council="A", committee="X", date="2024-01-02", doc_type="report"),
             DocumentMeta("c", council="A", committee="X", date="2024-03-01"),
             DocumentMeta("d", council="A", committee="X")]  # no date: no meeting
    got = group_meetings(metas)
    assert list(got) == ["2024-03-01--a--x", "2024-01-02--a--x"]  # newest first
    assert [p.document_id for p in got["2024-01-02--a--x"].papers] == ["a", "b"]


def test_agenda_items_of_two_papers_match_by_number_or_title() -> None:
    assert item_key("4. Children's Social Care Update") == ("4", "children s social care update")
    assert item_key("Item 4.1: Budget") == ("4.1", "budget")
    assert item_key("Budget 2023/24") == (None, "budget 2023 24")

    def p(doc: str, item: str, role: str, text: str) -> Passage:
        return Passage(id=f"{doc}{text}", doc_id=doc, text=text, char_start=0, char_end=len(text), agenda_item=item,
                       role=role)

    items = meeting_items([
        p("report", "4. Youth Zone funding", "recommendation", "The Panel is asked to note the reduction."),
        p("minutes", "4 Youth zone funding", "decision", "RESOLVED: That the report be noted. Carried unanimously."),
        p("minutes", "5. Any other business", "discussion", "Nothing was raised."),
        p("transcript", "Youth Zone Funding", "answer", "There isn't a risk of others withdrawing."),
    ])
    assert [(i.label, i.papers) for i in items] == [("4. Youth Zone funding", ["report", "minutes", "transcript"]),
                                                   ("5. Any other business", ["minutes"])]
    first = items[0]
    assert [len(first.decisions), len(first.recommendations), first.discussion_total] == [1, 1, 1]
    assert first.decisions[0]["vote"] == {"for": None, "against": None, "abstained": None, "absent": None,
                                          "unanimous": True, "outcome": "carried"}


def test_meetings_routes(client: TestClient) -> None:
    listed = client.get("/meetings").json()
    assert listed["total"] == 4
    assert [m["date"] for m in listed["meetings"]] == ["2023-02-22", "2022-07-14", "2021-03-10", "2019-11-05"]
    only = client.get("/meetings", params={"council": "Felpersham", "date_from": "2023"}).json()
    assert [m["id"] for m in only["meetings"]] == ["2023-02-22--city-of-felpersham-council--full-council"]
    one = client.get(f"/meetings/{only['meetings'][0]['id']}").json()
    assert one["papers"][0]["document_id"] == "fcc_council_2023"
    budget = next(i for i in one["items"] if i["number"] == "5")
    assert budget["decisions"] and budget["decisions"][0]["citation"]["role"] == "decision"
    missing = client.get("/meetings/no-such-meeting")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "meeting_not_found"
    bad = client.get("/meetings", params={"council": "Nowhere Borough"})
    assert bad.status_code == 422
    assert client.get("/meetings", params={"colour": "red"}).status_code == 422


def test_timeline_route(client: TestClient) -> None:
    data = client.get("/timeline", params={"q": "youth centre funding"}).json()
    assert [p["meeting_id"] for p in data["points"]] == ["2023-02-22--city-of-felpersham-council--full-council"]
    point = data["points"][0]
    assert point["passages"] >= 1 and point["links"][0]["citation"]["document_id"] == "fcc_council_2023"
    assert client.get("/timeline", params={"q": ""}).status_code == 422
