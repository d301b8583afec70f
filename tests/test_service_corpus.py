"""The flagship query on the real corpus with the real model (slow)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common.settings import Settings
from service.app import create_app

pytestmark = pytest.mark.slow
FLAGSHIP = "what did Wolverhampton say about youth zone funding"
QUOTE = "reduction in the contribution to the youth zone"


@pytest.fixture(scope="module")
def client(corpus_index_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(index_dir=corpus_index_dir))) as c:  # lifespan loads index + model
        yield c


def test_flagship_search(client: TestClient) -> None:
    data = client.get("/search", params={"q": FLAGSHIP}).json()
    assert data["auto_filters"] == {"council": "City of Wolverhampton Council"}
    top = data["results"][0]
    assert QUOTE in top["text"]
    c = top["citation"]
    assert c["council"] == "City of Wolverhampton Council" and c["date"] == "2024-11-27"
    assert c["speaker"] == "Alison Hinds" and c["agenda_item"].startswith("8 Our Future Council")
    assert c["doc_type"] == "transcript" and c["timestamp"]


def test_flagship_answer_cites_the_quote(client: TestClient) -> None:
    data = client.post("/ask", json={"question": FLAGSHIP}).json()
    assert data["found"] and data["mode"] == "extractive"
    hits = [c for c in data["citations"] if any(QUOTE in q["text"] for q in c["quotes"])]
    assert hits, data["answer"]
    c = hits[0]
    assert f"[{c['n']}]" in data["answer"] and c["speaker"] == "Alison Hinds" and c["date"] == "2024-11-27"
    q = next(q for q in c["quotes"] if QUOTE in q["text"])
    doc = client.get(f"/documents/{c['document_id']}").json()["text"]
    assert doc[c["quote_start"]:c["quote_end"]] == c["quote"] and doc[q["start"]:q["end"]] == q["text"]
    for cit in data["citations"]:
        for q in cit["quotes"]:
            assert doc[q["start"]:q["end"]] == q["text"] if cit["document_id"] == c["document_id"] else q["text"]
            assert not re.search(r"^.{1,80} - \d{1,2}:\d{2}:\d{2}\s*$", q["text"], re.MULTILINE)  # no label lines
    # each passage is cited once
    assert len({(x["document_id"], x["char_start"]) for x in data["citations"]}) == len(data["citations"])


@pytest.mark.parametrize("question", [
    "what is Salford's policy on bin collections",
    "how much did Wolverhampton spend on potholes in 2019",
])
def test_unanswerable_questions_abstain(client: TestClient, question: str) -> None:
    data = client.post("/ask", json={"question": question}).json()
    assert data["found"] is False and data["citations"] == []


def test_answerable_questions_answer(client: TestClient) -> None:
    data = client.post("/ask", json={"question": "How many voluntary organisations are there in Salford?"}).json()
    assert data["found"] and any("1,665" in c["quote"] for c in data["citations"])


def test_timeline_of_youth_zone_lists_the_wolverhampton_panel(client: TestClient) -> None:
    data = client.get("/timeline", params={"q": "youth zone"}).json()
    ids = [p["meeting_id"] for p in data["points"]]
    assert "2024-11-27--city-of-wolverhampton-council--children-young-people-scrutiny-panel" in ids
    panel = next(p for p in data["points"] if p["date"] == "2024-11-27")
    assert panel["passages"] >= 2 and any("youth zone" in x["text"].lower() for x in panel["links"])
    meeting = client.get(f"/meetings/{panel['meeting_id']}").json()
    assert meeting["papers"][0]["doc_type"] == "transcript"
    assert any(i["item"].startswith("8 Our Future Council") for i in meeting["items"])


def test_what_trafford_resolved_leads_with_the_resolution_from_the_minutes(client: TestClient) -> None:
    data = client.post("/ask", json={"question": "what did Trafford resolve about the children's social care "
                                                 "update"}).json()
    lines = data["answer"].split("\n")
    assert lines[1] == "Decided:"
    assert lines[2] == ('"RESOLVED: 1) That the report be noted. 2) That a further update be submitted in six '
                        'months time." [1]')
    first = data["citations"][0]
    assert first["doc_type"] == "minutes" and first["role"] == "decision" and first["council"] == "Trafford Council"
    assert data["parts"]["decided"] == [1] and "Proposed: no recommendation is recorded in the indexed papers." in lines
    assert lines.index("Said:") > 2 and data["parts"]["said"]


def test_role_filter_keeps_only_decisions(client: TestClient) -> None:
    data = client.get("/search", params={"q": "report noted", "role": "decision"}).json()
    assert data["results"] and all(r["citation"]["role"] == "decision" for r in data["results"])
    assert data["filters_applied"]["role"] == "decision"
    facets = client.get("/facets").json()
    assert {f["value"] for f in facets["roles"]} <= {"decision", "recommendation", "question", "answer", "discussion"}
