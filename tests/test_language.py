"""The language rules in common/: generic word lists, one month table, one council-name normaliser."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import common.dates as dates
import common.language as language
import common.names as names
import core.answer as answer
import core.query as query
import indexer.metadata as metadata
import indexer.structure as structure
import ui.render as render
from core.answer import split_units
from indexer.metadata import CouncilRegistry, infer_council
from indexer.sparse import tokenize

ROOT = Path(__file__).resolve().parents[1]

# Subjects of the demo corpus (children's services papers) and one webcast site's page furniture:
# none of them may steer a rule, so none may appear in a word list.
DEMO_WORDS = {
    "youth", "children", "children's", "child", "education", "young", "people", "social", "care", "health",
    "early", "help", "school", "schools", "pupil", "pupils", "student", "students", "send", "ofsted",
    "looked", "fostering", "safeguarding", "share this agenda point", "wolverhampton", "salford", "trafford",
    "manchester",
}  # fmt: skip


def _word_lists() -> dict[str, set[str]]:
    """Every public word list of common.language (sets, tuples and dicts of strings), by name."""
    out = {}
    for name in dir(language):
        value = getattr(language, name)
        if name.isupper() and isinstance(value, frozenset | tuple | dict):
            out[name] = {str(w).lower() for w in value}
    return out


def test_word_lists_are_generic() -> None:
    lists = _word_lists()
    assert {"GENERIC_COUNCIL_WORDS", "PLACE_STOP_WORDS", "NOT_PLACE_FIRST_WORDS", "STOPWORDS", "QUESTION_WORDS",
            "DOC_TYPE_WORDS", "SMALL_WORDS", "NUMBER_WORDS", "WEB_UI_VERBS"} <= set(lists)  # fmt: skip
    for name, words in lists.items():
        assert not words & DEMO_WORDS, f"{name} holds demo-corpus words: {sorted(words & DEMO_WORDS)}"


def test_no_other_module_keeps_its_own_word_lists() -> None:
    for module, old in ((metadata, ("_MONTHS", "_GENERIC_COUNCIL_WORDS", "_PLACE_STOP", "_NOT_PLACE", "_SMALL_WORDS")),
                        (query, ("_MONTHS", "_GENERIC_COUNCIL_WORDS", "_DOC_TYPE_WORDS", "_loader_alias_key"))):
        for name in old:
            assert not hasattr(module, name), f"{module.__name__}.{name} should come from common"
    assert render.STOPWORDS is language.STOPWORDS
    for path in ("core/answer.py", "core/query.py", "indexer/metadata.py"):
        assert "share this agenda point" not in (ROOT / path).read_text().lower()


def test_common_imports_nothing_else_of_the_project() -> None:
    project = {"indexer", "core", "service", "ui", "evaluation", "councilqa"}
    for path in (ROOT / "common").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for mod in mods:
                assert mod.split(".")[0] not in project, f"{path.name} imports {mod}"


# -------------------------------------------------------------------------------------------- months


def test_one_month_table() -> None:
    assert len(set(dates.MONTHS.values())) == 12 and set(dates.MONTHS.values()) == set(range(1, 13))
    assert [dates.MONTHS[m] for m in dates.MONTH_NAMES] == list(range(1, 13))
    assert dates.month_number("Sept.") == dates.month_number("sep") == dates.month_number("September") == 9
    # the lists built from months use the table, not a copy of it
    assert set(dates.MONTH_NAMES) <= language.PLACE_STOP_WORDS
    assert set(dates.MONTHS) - {"may"} <= language.NOT_PLACE_WORDS
    assert set(dates.MONTH_NAMES) <= set(language.NUMBER_WORDS)


@pytest.mark.parametrize("spelling", sorted(dates.MONTHS))
def test_every_month_spelling_reads_the_same_at_index_and_query_time(spelling: str) -> None:
    month = dates.MONTHS[spelling]
    assert dates.iso_date(f"3 {spelling.capitalize()} 2024") == f"2024-{month:02d}-03"
    found = query.Vocabulary({}).understand(f"papers in {spelling} 2024").candidate_filters()
    assert found == dict(zip(("date_from", "date_to"), dates.month_period(2024, month), strict=True))


def test_the_two_date_contracts() -> None:
    assert dates.iso_date("27 November 2024") == dates.iso_date("2024-11-27T18:00") == "2024-11-27"
    assert dates.iso_date("January 6, 2025") == "2025-01-06"
    assert dates.iso_date("27/11/2024") == "2024-11-27"
    assert dates.iso_date("next Tuesday") is None and dates.iso_date(None) is None
    assert dates.period_bound("2024", end=False) == "2024-01-01"
    assert dates.period_bound("2024-02", end=True) == "2024-02-29"
    assert dates.period_bound("2024-02-03", end=True) == "2024-02-03"
    for bad in ("27 November 2024", "2024-02-30", "soon"):
        with pytest.raises(ValueError):
            dates.period_bound(bad, end=False)
    # the old names are the shared functions, not copies
    assert metadata.parse_date is dates.iso_date and query.parse_date is dates.period_bound


# ------------------------------------------------------------------------------------------- councils

SPELLINGS = [
    ("City of Wolverhampton Council", "Wolverhampton City Council", "Wolverhampton", "WOLVERHAMPTON CITY COUNCIL"),
    ("Royal Borough of Kingston upon Thames", "Kingston upon Thames Council"),
    ("London Borough of Hackney", "Hackney Council", "Hackney"),
    ("City and County of Swansea", "Swansea Council"),
    ("Brighton and Hove City Council", "Brighton & Hove City Council"),
    ("City of London Corporation", "City of London"),
    ("Greater London Authority",),
    ("Stoke Ferry Parish Council",),
    ("Knowsley Metropolitan Borough Council", "Knowsley MBC"),
]


def test_alias_keys_merge_spellings_and_keep_councils_apart() -> None:
    keys = [{names.alias_key(s) for s in group} for group in SPELLINGS]
    assert all(len(k) == 1 for k in keys), keys
    flat = [next(iter(k)) for k in keys]
    assert len(set(flat)) == len(flat), flat
    assert names.alias_key("Greater London Authority") == "greater london"  # "London" is a place here


def test_index_and_query_time_share_one_normaliser() -> None:
    assert metadata.alias_key is names.alias_key
    assert query.council_aliases is names.council_aliases
    assert query.speaker_key is structure.speaker_key is names.speaker_key


def test_alias_keys_agree_at_index_and_query_time() -> None:
    reg = CouncilRegistry()
    for group in SPELLINGS:
        for s in group:
            reg.add(s)
    canonical = sorted(reg.aliases())
    assert len(canonical) == len(SPELLINGS)
    vocab = query.Vocabulary({"councils": [{"value": c, "count": 1} for c in canonical]})
    for group in SPELLINGS:
        want = reg.canonical(group[0])
        for s in group:
            assert reg.canonical(s) == want
            assert vocab.resolve("council", s) == want  # a hand-set filter
            assert names.alias_key(s) in names.council_aliases(want) or names.alias_key(s) == names.alias_key(want)
            found = vocab.understand(f"what did {s} decide about parking").candidate_filters()
            assert found == {"council": want}, (s, found)


def test_speaker_key() -> None:
    assert names.speaker_key("Councillor Jane Francis") == names.speaker_key("Cllr. Jane Francis") == "jane francis"
    assert names.speaker_key("Councilor Jane Francis") == "jane francis"


# -------------------------------------------------------------------------------------------- rules


@pytest.mark.parametrize("line", ["Share this agenda point", "Share this page", "Print this page", "Back to top",
                                  "Skip to main content", "Download this document", "Share on Facebook"])
def test_web_ui_lines(line: str) -> None:
    assert language.web_ui_line(line)


@pytest.mark.parametrize("line", ["Share the costs with partners.", "Back in 2019 the council agreed the plan",
                                  "Play areas in the north of the borough were", "View", "Sharing this agenda"])
def test_text_is_not_web_ui(line: str) -> None:
    assert not language.web_ui_line(line)


def test_web_ui_lines_are_never_quoted() -> None:
    text = ("Agenda item :\n1 Apologies\nShare this page\n"
            "The chair welcomed everyone to the meeting and thanked officers.\nBack to top\n")
    quotes = [text[s:e] for s, e in split_units(text)]
    assert quotes == ["The chair welcomed everyone to the meeting and thanked officers."]


def test_prose_words_leave_addresses_out() -> None:
    prose = language.prose_words("see www.trafford.gov.uk or mail info@salford.gov.uk for early-help and children's")
    assert "trafford" not in prose and "salford" not in prose
    assert {"early", "help", "children", "see"} <= prose
    assert language.is_common_phrase("Early Help", prose)
    assert not language.is_common_phrase("Greater Manchester", language.prose_words("a greater share"))
    assert language.is_common_phrase("Early Help", prose, every=True)
    assert not language.is_common_phrase("Early Years", prose, every=True)


def test_place_fallback_tells_subjects_from_places() -> None:
    text = ("Minutes of the committee.\n" + "Work in Trafford continues. " * 3 + "Work in Early Help grows. " * 5
            + "We help families.\n")
    assert infer_council(text) == "Trafford"
    # "of"/"for" introduce subjects as often as places: on their own they count half
    assert infer_council("Minutes of the committee.\n" + "A report for Housing. " * 5) is None
    assert infer_council("Minutes of the committee.\n" + "Work in Housing. " * 3 + "housing") is None


def test_kinds_of_council_are_not_councils_of_a_place() -> None:
    assert infer_council("Minutes of the Youth Council.") is None
    assert infer_council("Youth Council minutes\nThe youth forum met.") is None
    assert infer_council("People's Council notes") is None
    assert infer_council("Salford Council agreed the budget.") == "Salford Council"
    # a tier word is strong evidence: a place that is also an English word stays a place
    assert infer_council("Reading Borough Council\nMembers were reading the papers.") == "Reading Borough Council"


def test_question_words_are_tokenizer_forms() -> None:
    words = "why does what describe committee scrutiny many any say discuss mentioned meeting councillors"
    assert set(tokenize([words])[0]) <= language.QUESTION_WORDS


def test_asking_and_from_are_not_a_questions_topic() -> None:
    """A speaker-scoped question ("what did X from Y ask about ...") is scored on its topic words only."""
    q = "What did India Allmark from the youth council ask about the end of the programme?"
    assert answer.keywords(q, ["India Allmark"]) == {"youth", "end", "programm"}
