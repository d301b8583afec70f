"""Checks on the development gold set `eval/gold_shared.jsonl` (fast; no model, no index).

Its questions are over the real papers in `../shared/corpora` and `../shared/transcripts`, which a
fresh machine does not have: the shape checks always run, the verbatim-quote checks skip saying so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from evaluation.gold import KINDS, load_gold

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold_shared.jsonl"
SHARED = ROOT.parent / "shared"
# The four bodies the set must cover, by the folder their papers are in.
BODIES = {
    "corpora/us_knox_county_meeting_transcripts": "Knox County transcripts",
    "corpora/ca_london_ontario_city_council": "London (Ontario) minutes",
    "corpora/uk_norfolk_parish_councils_stokeferry": "Norfolk parish minutes",
    "transcripts": "Speaker: text transcripts",
}
ROWS = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def _doc_path(doc_id: str) -> Path | None:
    for folder in BODIES:
        p = SHARED / folder / f"{doc_id}.txt"
        if p.is_file():
            return p
    p = ROOT / "corpus" / f"{doc_id}.txt"
    return p if p.is_file() else None


def _need_shared() -> None:
    if not (SHARED / "corpora").is_dir() or not (SHARED / "transcripts").is_dir():
        pytest.skip(f"../shared is not here ({SHARED}): the development set's documents cannot be read")


def test_loads_with_the_evaluation_reader() -> None:
    qs = load_gold(GOLD)
    assert len(qs) == len(ROWS) >= 80
    assert {q.kind for q in qs} <= set(KINDS)


def test_kinds_and_shape() -> None:
    counts = Counter(r["kind"] for r in ROWS)
    assert counts["unanswerable"] >= 10, counts
    for kind in KINDS:
        assert counts[kind] > 0, f"no {kind} questions"
    for r in ROWS:
        assert set(r) == {"id", "question", "kind", "answerable", "evidence", "key_facts", "filters"}, r["id"]
        assert r["answerable"] == (r["kind"] != "unanswerable"), r["id"]
        assert r["filters"] == {}, r["id"]
        if r["answerable"]:
            assert r["evidence"] and 1 <= len(r["key_facts"]) <= 3, r["id"]
            quotes = " ".join(e["quote"].lower() for e in r["evidence"])
            assert all(k.lower() in quotes for k in r["key_facts"]), r["id"]
        else:
            assert r["evidence"] == [] and r["key_facts"] == [], r["id"]
        if r["kind"] == "cross_document":
            assert len({e["doc_id"] for e in r["evidence"]}) >= 2, r["id"]
        for e in r["evidence"]:
            assert "\n" not in e["quote"] and 4 <= len(e["quote"].split()) <= 25, (r["id"], e["quote"])


def test_quotes_are_verbatim_and_bodies_covered() -> None:
    _need_shared()
    per_body: Counter[str] = Counter()
    for r in ROWS:
        bodies = set()
        for e in r["evidence"]:
            path = _doc_path(e["doc_id"])
            assert path is not None, f"{r['id']}: no document {e['doc_id']} in ../shared"
            text = path.read_text(encoding="utf-8")
            assert e["quote"] in text, f"{r['id']}: quote not verbatim in {e['doc_id']}: {e['quote']!r}"
            assert re.sub(r"\s+", " ", e["quote"]) in re.sub(r"\s+", " ", text), r["id"]
            bodies.add(path.parent.relative_to(SHARED).as_posix())
        per_body.update(bodies)
    for folder, name in BODIES.items():
        assert per_body[folder] >= 15, f"only {per_body[folder]} questions over the {name}"
