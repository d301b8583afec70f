"""Checks on the gold evaluation set `eval/gold.jsonl` (fast; no model, no index).

Every evidence quote must be a verbatim substring of its document (no normalisation at all), and
must still match once runs of whitespace are collapsed (what the service's cleaned text needs).
Documents are read from `corpus/<doc_id>.txt`, falling back to `shared/seeds/<doc_id>.txt`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold.jsonl"
DOC_DIRS = [ROOT / "corpus", ROOT / "shared" / "seeds", Path("/work/shared/seeds")]

DOC_IDS = {
    "000_c8b9754a220d5e68",
    "001_1294310998f053a5",
    "002_e1162a03455c2d1b",
    "003_9c533fb1d9fb01b2",
    "004_4fb556ef81649670",
}
KINDS = {"factual", "paraphrased", "council", "committee", "date", "speaker", "cross_document", "unanswerable"}
# Kinds every set must have; committee- and date-scoped questions are in the development set.
CORE_KINDS = {"factual", "paraphrased", "council", "speaker", "cross_document"}
REQUIRED_KEYS = {"id", "question", "kind", "answerable", "evidence", "key_facts", "filters"}


def _load() -> list[dict]:
    rows = []
    with GOLD.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:  # pragma: no cover - reported as a failure
                    pytest.fail(f"{GOLD}:{n} is not valid JSON: {e}")
    return rows


ROWS = _load()


@cache
def _doc_text(doc_id: str) -> str | None:
    for d in DOC_DIRS:
        p = d / f"{doc_id}.txt"
        if p.is_file():
            return p.read_text(encoding="utf-8")
    return None


def _ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _evidence_params():
    return [
        pytest.param(r["id"], e["doc_id"], e["quote"], id=f"{r['id']}-{i}")
        for r in ROWS
        for i, e in enumerate(r["evidence"])
    ]


def test_size_and_unique_ids():
    assert len(ROWS) >= 60, f"only {len(ROWS)} questions; the gold set needs at least 60"
    ids = [r["id"] for r in ROWS]
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_schema():
    for r in ROWS:
        missing = REQUIRED_KEYS - r.keys()
        assert not missing, f"{r.get('id')}: missing keys {missing}"
        assert r["kind"] in KINDS, f"{r['id']}: unknown kind {r['kind']!r}"
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert isinstance(r["filters"], dict), r["id"]
        assert r["answerable"] == (r["kind"] != "unanswerable"), f"{r['id']}: answerable flag disagrees with kind"
        for e in r["evidence"]:
            assert e["doc_id"] in DOC_IDS, f"{r['id']}: unknown doc_id {e['doc_id']}"
            assert e["quote"].strip(), f"{r['id']}: empty quote"


def test_kind_counts():
    counts = Counter(r["kind"] for r in ROWS)
    assert counts["unanswerable"] >= 8, f"need >= 8 unanswerable questions, have {counts['unanswerable']}"
    for kind in CORE_KINDS:
        assert counts[kind] > 0, f"no questions of kind {kind!r}"


def test_all_documents_covered():
    covered = {e["doc_id"] for r in ROWS for e in r["evidence"]}
    assert covered == DOC_IDS, f"documents without a question: {sorted(DOC_IDS - covered)}"


def test_flagship_question_present():
    hits = [r for r in ROWS if r["question"].lower() == "what did wolverhampton say about youth zone funding"]
    assert hits, "the flagship youth zone question is missing"
    r = hits[0]
    assert any(
        e["doc_id"] == "003_9c533fb1d9fb01b2" and e["quote"] == "is a reduction in the contribution to the youth zone"
        for e in r["evidence"]
    )
    assert "youth zone" in r["key_facts"]


def test_answerable_shape():
    for r in ROWS:
        if r["answerable"]:
            assert r["evidence"], f"{r['id']}: answerable question without evidence"
            assert 1 <= len(r["key_facts"]) <= 3, f"{r['id']}: needs 1-3 key facts"
        else:
            assert r["evidence"] == [], f"{r['id']}: unanswerable question has evidence"
            assert r["key_facts"] == [], f"{r['id']}: unanswerable question has key facts"


def test_cross_document_spans_two_documents():
    for r in ROWS:
        if r["kind"] == "cross_document":
            docs = {e["doc_id"] for e in r["evidence"]}
            assert len(docs) >= 2, f"{r['id']}: cross_document evidence comes from one document only"


def test_key_facts_in_quotes():
    for r in ROWS:
        quotes = [e["quote"].lower() for e in r["evidence"]]
        for k in r["key_facts"]:
            assert any(k.lower() in q for q in quotes), f"{r['id']}: key fact {k!r} is in none of its quotes"


@pytest.mark.parametrize("qid,doc_id,quote", _evidence_params())
def test_quote_is_verbatim(qid, doc_id, quote):
    text = _doc_text(doc_id)
    if text is None:
        pytest.skip(f"document {doc_id}.txt not found in corpus/ or shared/seeds/")
    assert quote in text, f"{qid}: quote not found verbatim in {doc_id}: {quote!r}"


@pytest.mark.parametrize("qid,doc_id,quote", _evidence_params())
def test_quote_matches_after_whitespace_normalisation(qid, doc_id, quote):
    text = _doc_text(doc_id)
    if text is None:
        pytest.skip(f"document {doc_id}.txt not found in corpus/ or shared/seeds/")
    assert _ws(quote) in _ws(text), f"{qid}: quote not found after whitespace normalisation: {quote!r}"
