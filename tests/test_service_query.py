"""Query understanding and answer-splitting units, without an index."""

from __future__ import annotations

import pytest

from core.answer import passage_units, quotable, split_units, turn_labels
from core.compose import cite
from core.query import Vocabulary, council_aliases, parse_date, strip_spans
from indexer.models import Passage

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
    ("per the April 20, 2020 work session", {"date_from": "2020-04-01", "date_to": "2020-04-30"}),
    ("on May 5th 2021", {"date_from": "2021-05-01", "date_to": "2021-05-31"}),
    ("the April 20, 2020 work session", {}),  # no preposition: a boost, as "April 2020" alone is
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


def _turn_passage() -> Passage:
    text = ("Chair (Cllr Jane Francis) - 00:37\nfunding, does it mean our partners might withdraw as well?\n"
            "Does that need to go on a risk register?\nAlison Hinds - 1:38:06\n"
            "I've had that conversation with their chief executive. There isn't a risk of others withdrawing.")
    turns = [{"start": 1000, "speaker": "Chair (Cllr Jane Francis)", "timestamp": "00:37"},
             {"start": 1000 + text.index("Alison Hinds"), "speaker": "Alison Hinds", "timestamp": "1:38:06"}]
    return Passage(id="p", doc_id="d", text=text, char_start=1000, char_end=1000 + len(text),
                   speaker="Alison Hinds", timestamp="1:38:06", turns=turns)


def test_units_drop_turn_labels_from_the_passage_data() -> None:
    p = _turn_passage()
    quotes = [p.text[s:e] for s, e in split_units(p.text, turn_labels(p))]
    assert not any("00:37" in q or "1:38:06" in q for q in quotes)
    assert "There isn't a risk of others withdrawing." in quotes


def test_citation_speaker_is_the_turn_holding_the_quote() -> None:
    p = _turn_passage()
    s = p.text.index("Does that need")
    e = p.text.index("?", s) + 1
    s2 = p.text.index("There isn't")
    c = cite(1, [(p, 1, 0.5)], 0, [(s, e), (s2, len(p.text))]).to_dict()
    assert c["speaker"] == "Chair (Cllr Jane Francis)" and c["timestamp"] == "00:37"
    assert c["passage_speaker"] == "Alison Hinds"
    assert c["quote"] == p.text[s:e] and c["quote_start"] == 1000 + s
    assert [q["speaker"] for q in c["quotes"]] == ["Chair (Cllr Jane Francis)", "Alison Hinds"]
    assert all(p.text[q["start"] - 1000:q["end"] - 1000] == q["text"] for q in c["quotes"])


def test_fragment_at_a_turn_start_is_never_quoted() -> None:
    p = _turn_passage()
    units = passage_units([p])
    frag = [u.text for u, ok in zip(units, quotable(units, [p]), strict=True) if not ok]
    assert frag == ["funding, does it mean our partners might withdraw as well?"]


ROLE_SPEAKERS = ["John Denham (The Secretary of State for Communities and Local Government)", "John Denham",
                 "The First Minister (Alex Salmond)", "Des McNulty (Clydebank and Milngavie) (Lab)", "Lead 2A"]


def _role_vocabulary():
    from core.query import Vocabulary

    return Vocabulary({"speakers": [{"value": v, "count": 1} for v in ROLE_SPEAKERS]})


def test_a_label_with_its_office_is_the_person() -> None:
    from common.names import person_name, speaker_roles

    assert person_name(ROLE_SPEAKERS[0]) == "John Denham"
    assert person_name(ROLE_SPEAKERS[2]) == "Alex Salmond"
    assert speaker_roles(ROLE_SPEAKERS[3]) == ["Clydebank and Milngavie"]  # the party "Lab" is one word
    v = _role_vocabulary()
    assert v.speaker_variants("John Denham") == ROLE_SPEAKERS[:2]
    got = v.understand("what did John Denham say about fire cover")
    assert [(m.field, m.values, m.as_filter) for m in got.mentions] == [("speaker", [ROLE_SPEAKERS[0]], True)]


def test_offices_and_seats_in_a_question_boost_their_holders() -> None:
    v = _role_vocabulary()
    cases = {
        "what did the Secretary of State for Communities say about fire": ROLE_SPEAKERS[0],
        "what did the first minister say about minimum pricing": ROLE_SPEAKERS[2],
        "the labour member for Clydebank and Milngavie on the blitz": ROLE_SPEAKERS[3],
    }
    for question, holder in cases.items():
        got = v.understand(question)
        assert [(m.field, m.values, m.as_filter) for m in got.mentions] == [("speaker", [holder], False)], question
    assert v.understand("what did the secretary say").mentions == []  # one word of an office is not enough


def test_a_qualified_council_is_known_by_its_place_alone_when_no_other_council_is() -> None:
    from core.query import Vocabulary

    ontario = "City of London (Ontario) City Council"
    alone = Vocabulary({"councils": [{"value": c, "count": 1} for c in (ontario, "Stoke Ferry Parish Council")]})
    got = alone.understand("what did London council decide about the hotel tax").mentions
    assert [(m.field, m.values, m.as_filter) for m in got] == [("council", [ontario], True)]
    both = Vocabulary({"councils": [{"value": c, "count": 1} for c in (ontario, "City of London Corporation")]})
    got = both.understand("london council").mentions
    assert [(m.values, m.as_filter) for m in got] == [(["City of London Corporation"], True)]


def test_committees_named_in_a_question_are_boosted() -> None:
    from core.query import Vocabulary

    committees = ["Planning and Environment Committee", "Council", "Parish Council (full council)", "Beer Board"]
    v = Vocabulary({"committees": [{"value": c, "count": 1} for c in committees]})
    got = v.understand("what did planning and environment decide on Gore Road").mentions
    assert [(m.field, m.values, m.as_filter) for m in got] == [("committee", ["Planning and Environment Committee"],
                                                               False)]
    assert [m.values for m in v.understand("beer board permit").mentions] == [["Beer Board"]]
    assert v.understand("what did the council say").mentions == []  # a generic name matches nothing


def test_a_question_about_a_decision_boosts_decision_passages() -> None:
    with_roles = Vocabulary({"roles": [{"value": "decision", "count": 3}, {"value": "discussion", "count": 9}]})
    got = with_roles.understand("What did the board decide about bin collections?")
    assert [(m.field, m.values, m.as_filter) for m in got.mentions] == [("role", ["decision"], False)]
    assert got.candidate_filters() == {}  # a boost: the answer may lie in what was said
    assert with_roles.understand("What did the board say about bin collections?").mentions == []
    assert Vocabulary({}).understand("What did the board decide?").mentions == []  # an index without roles
