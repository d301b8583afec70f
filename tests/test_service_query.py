"""Query understanding and answer-splitting units, without an index."""

from __future__ import annotations

import pytest

from service.answer import split_units
from service.query import Vocabulary, council_aliases, parse_date, strip_spans

FACETS = {
    "councils": [{"value": v, "count": 1} for v in (
        "City of Wolverhampton Council", "Salford City Council", "Borsetshire County Council",
        "London Borough of Camden")],
    "committees": [{"value": "Cabinet", "count": 1}],
    "doc_types": [{"value": v, "count": 1} for v in ("minutes", "transcript", "report")],
    "speakers": [{"value": v, "count": 1} for v in ("Cllr Jane Francis", "Alison Hinds", "Rachel King")],
}
VOCAB = Vocabulary(FACETS)


def filters(q: str) -> dict[str, str]:
    return VOCAB.understand(q).candidate_filters()


def test_council_aliases_are_generic() -> None:
    assert "wolverhampton" in council_aliases("City of Wolverhampton Council")
    assert "borsetshire" in council_aliases("Borsetshire County Council")
    assert "camden" in council_aliases("London Borough of Camden")


@pytest.mark.parametrize(("query", "expected"), [
    ("what did Wolverhampton say about youth zone funding", {"council": "City of Wolverhampton Council"}),
    ("Salford's policy on bin collections", {"council": "Salford City Council"}),
    ("roads in borsetshire", {"council": "Borsetshire County Council"}),
    ("Camden housing", {"council": "London Borough of Camden"}),
    ("What did Councillor Francis say", {"speaker": "Cllr Jane Francis"}),
    ("what did Cllr Jane Francis ask", {"speaker": "Cllr Jane Francis"}),
    ("Hinds, Alison on budgets", {"speaker": "Alison Hinds"}),
    ("spending in 2023", {"date_from": "2023-01-01", "date_to": "2023-12-31"}),
    ("between 2018 and 2020", {"date_from": "2018-01-01", "date_to": "2020-12-31"}),
    ("since 2020", {"date_from": "2020-01-01"}),
    ("before 2019", {"date_to": "2018-12-31"}),
    ("in November 2024", {"date_from": "2024-11-01", "date_to": "2024-11-30"}),
    ("in the minutes about libraries", {"doc_type": "minutes"}),
    ("budget for 2023/24", {}),
    ("a 30 minutes wait", {}),
    ("the king's speech", {}),
])
def test_understanding(query: str, expected: dict[str, str]) -> None:
    assert filters(query) == expected


def test_ambiguous_mentions_boost() -> None:
    u = VOCAB.understand("Salford and Wolverhampton webcast with King")
    assert u.candidate_filters() == {}
    b = u.boosts()
    assert sorted(b["council"]) == ["City of Wolverhampton Council", "Salford City Council"]
    assert b["doc_type"] == ["transcript"] and b["speaker"] == ["Rachel King"]


def test_strip_spans_for_bm25() -> None:
    q = "what did Wolverhampton say about youth zone funding"
    u = VOCAB.understand(q)
    assert strip_spans(q, u.spans_for(["council"])) == "what did say about youth zone funding"
    assert strip_spans("Salford", [(0, 7)]) == "Salford"


def test_resolve_filters() -> None:
    assert VOCAB.resolve("council", "wolverhampton") == "City of Wolverhampton Council"
    assert VOCAB.resolve("council", "Wolverhampton City Council") == "City of Wolverhampton Council"
    assert VOCAB.resolve("speaker", "Councillor Jane Francis") == "Cllr Jane Francis"
    assert VOCAB.resolve("doc_type", "Webcast") == "transcript"
    with pytest.raises(LookupError):
        VOCAB.resolve("committee", "Planning")


def test_parse_date() -> None:
    assert parse_date("2024", end=True) == "2024-12-31"
    assert parse_date("2024-02", end=True) == "2024-02-29"
    with pytest.raises(ValueError):
        parse_date("2024-02-30", end=False)


def test_transcript_units_are_verbatim_and_skip_speaker_lines() -> None:
    text = ("Alison Hinds - 1:08:09\nAnd the second item that was approved\n"
            "is a reduction in the contribution to the youth zone.\nThat is going to be over a couple of years,\n"
            "it's not going to be an immediate reduction.\n-\nCllr Jane Francis - 1:10:00\n"
            + "and we talked about it " * 30 + "\n")
    units = split_units(text)
    quotes = [text[s:e] for s, e in units]
    assert quotes[0] == "And the second item that was approved\nis a reduction in the contribution to the youth zone."
    assert not any(" - 1:" in q for q in quotes)
    assert all(len(q) <= 400 for q in quotes)
