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
