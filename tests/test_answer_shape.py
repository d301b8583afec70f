"""The shape of an extractive answer (issues 11 and 14): lead line, attributed whole-sentence quotes in
document order, decided / proposed / said parts when asked what was decided, no headings or fragments
quoted, spacing repaired only in what is shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import answer as ans
from core import compose
from core.parts import closing_lines, quote_vote, three_parts
from core.query import Mention, Understanding
from core.scope import out_of_range, unknown_council
from indexer.models import Passage

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _line(doc: str, startswith: str) -> str:
    text = next(CORPUS.glob(f"{doc}_*.txt")).read_text(encoding="utf-8")
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(startswith))


def test_real_headings_and_links_are_not_sentences() -> None:
    assert ans.is_heading(_line("002", "Subject:"))  # "Subject: Delivering the Our Manchester Strategy"
    assert ans.is_heading(_line("001", "CHILDREN'S SOCIAL CARE UPDATE"))
    assert ans.is_heading("[2025-01-13 Staff Report - Argyle BIA Levy](<https://example.org/x?Id=1>)")
    assert ans.is_heading("Roundtable Event with Director of Children's Services")
    assert not ans.is_heading(_line("003", "is a reduction in the contribution"))
    assert not ans.is_heading("Councillor Parker asked a question regarding the rollout of the service.")
    assert not ans.is_heading("so we started with a gap of 27 .1 million and savings were identified")


def _transcript() -> Passage:
    text = ("Cllr Jane Francis - 1:37:50\nThank you. If the council reduces its funding, does it mean our "
            "partners might withdraw as well?\nAlison Hinds - 1:38:06\nThere is a reduction in the contribution "
            "to the youth zone. I've had that conversation with their chief executive. There isn't a risk of "
            "others withdrawing.")
    start = 500
    turns = [{"start": start + text.index("Thank you"), "speaker": "Cllr Jane Francis", "timestamp": "1:37:50"},
             {"start": start + text.index("There is a"), "speaker": "Alison Hinds", "timestamp": "1:38:06"}]
    return Passage(id="t", doc_id="d1", text=text, char_start=start, char_end=start + len(text),
                   turns=turns, council="City of Wolverhampton Council", committee="Scrutiny Panel",
                   date="2024-12-04")


def _minutes() -> Passage:
    text = ("The Board considered the waste collection report.\nRESOLVED – That the Board supports the "
            "fortnightly black bin collection pilot.\nMembers noted the timetable.")
    return Passage(id="m", doc_id="d2", text=text, char_start=0, char_end=len(text), council="A Council",
                   committee="Environment Board", date="2025-03-01")


def _extraction(passages: list[Passage], picks: list[tuple[int, str]]) -> ans.Extraction:
    """An extraction whose chosen quotes are the units holding the given texts, scored in the order given."""
    units = ans.passage_units(passages)
    chosen = []
    for rank, (idx, words) in enumerate(picks):
        u = next(u for u in units if u.passage_index == idx and words in u.text)
        chosen.append(ans.Chosen(u, 1.0 - rank / 10, 0.5))
    return ans.Extraction(chosen, True, 0.5, 1.0, 1.0, units)


def test_answer_has_a_lead_line_and_attributed_quotes_in_document_order() -> None:
    t = _transcript()
    ranked = [(t, 1, 0.9)]
    ex = _extraction([t], [(0, "There isn't a risk"), (0, "There is a reduction")])  # best quote is the later one
    text, cites = compose.extractive(ex, ranked)
    lines = text.split("\n")
    assert lines[0] == "From City of Wolverhampton Council: Scrutiny Panel, 4 December 2024 [1]."
    assert lines[1:] == ['Alison Hinds, 1:38:06: "There is a reduction in the contribution to the youth zone." [1]',
                         "Alison Hinds, 1:38:06: \"There isn't a risk of others withdrawing.\" [1]"]
    c = cites[0]
    assert c.best.text == "There isn't a risk of others withdrawing."  # the best quote, still the citation's lead
    assert all(t.text[q.start - t.char_start:q.end - t.char_start] == q.text for q in c.quotes)


def test_a_decision_question_gets_decided_proposed_and_said_parts() -> None:
    t, m = _transcript(), _minutes()
    m.role, m.doc_type = "decision", "minutes"
    ranked = [(t, 1, 0.9), (m, 2, 0.8)]
    ex = _extraction([t, m], [(0, "There is a reduction")])  # the resolution itself was not chosen
    assert ans.asks_decision("What did the board decide about bin collections?")
    text, cites, parts = three_parts(ex, ranked, ans.keywords("What did the board decide about bin collections?"))
    assert [c.passage.id for c in cites] == ["m", "t"]  # the minutes' resolution is [1]
    assert parts == {"decided": [1], "proposed": [], "said": [2]}
    assert text.split("\n")[1:] == [
        "Decided:",
        '"RESOLVED – That the Board supports the fortnightly black bin collection pilot." [1]',
        "Proposed: no recommendation is recorded in the indexed papers.",
        "Said:",
        'Alison Hinds, 1:38:06: "There is a reduction in the contribution to the youth zone." [2]',
    ]


def test_a_chosen_quote_that_records_a_decision_is_shown_as_decided() -> None:
    t, m = _transcript(), _minutes()
    m.role = "decision"
    ex = _extraction([t, m], [(1, "RESOLVED"), (0, "There is a reduction")])
    text, cites, parts = three_parts(ex, [(t, 1, 0.9), (m, 2, 0.8)], ans.keywords("What was decided on bins?"))
    assert parts == {"decided": [1], "proposed": [], "said": [2]} and cites[0].passage.id == "m"
    assert text.split("\n")[2] == '"RESOLVED – That the Board supports the fortnightly black bin collection pilot." [1]'


def test_a_resolution_about_another_matter_is_not_quoted_as_decided() -> None:
    t, m = _transcript(), _minutes()
    m.role = "decision"
    ex = _extraction([t, m], [(0, "There is a reduction")])
    terms = ans.keywords("What was decided on the youth zone?")
    text, cites, parts = three_parts(ex, [(t, 1, 0.9), (m, 2, 0.8)], terms)
    assert parts["decided"] == [] and [c.passage.id for c in cites] == ["t"]
    assert "Decided: no decision is recorded in the indexed papers." in text.split("\n")


def _debate() -> list[Passage]:
    """A Public Bill Committee sitting (no agenda items): the amendment moved, a speech that says "agreed"
    (its passage is marked a decision) and the division that ends the debate; then a later amendment's."""
    texts = [
        "Andrew Selous: I beg to move amendment 59, in clause 1, page 1, line 10, at end insert the reductions "
        "in the causes of poverty targets.",
        "Stephen Timms: We have reduced the figure by 500,000, and we have agreed and legislated for measures "
        "that will lift another 500,000 children above the poverty line.",
        "[Question put, That the amendment be made.]\n\n[The Committee divided: Ayes 5, Noes 11.]",
        "Steve Webb: I beg to move amendment 12, in clause 2, page 2, line 4.",
        "[Question put, That the amendment be made.]\n\n[The Committee divided: Ayes 7, Noes 9.]",
    ]
    out, at = [], 0
    for i, t in enumerate(texts):
        out.append(Passage(id=f"b{i}", doc_id="pbc", text=t, char_start=at, char_end=at + len(t),
                           council="House of Commons", committee="Public Bill Committee", date="2009-10-27",
                           role="decision" if i in (1, 2, 4) else "discussion"))
        at += len(t) + 40_000  # a long debate: far apart in the transcript
    return out


def test_the_division_after_a_debate_without_agenda_items_is_decided() -> None:
    b = _debate()
    ranked = [(b[0], 1, 0.9), (b[4], 2, 0.7), (b[2], 3, 0.6)]
    ex = _extraction([b[0], b[4], b[2]], [(0, "I beg to move amendment 59")])
    terms = ans.keywords("What was the result of the vote on amendment 59 to the Child Poverty Bill?")
    decisions = {"pbc": [b[1], b[2], b[4]]}
    # The first decision line after the quote: b[1]'s "agreed and legislated" records none; b[4] is later.
    assert closing_lines([("pbc", b[0].char_start)], decisions) == {"pbc": {b[2].char_start}}
    text, cites, parts = three_parts(ex, ranked, terms, decisions)
    assert text.split("\n")[1:3] == [
        "Decided:",
        '"[Question put, That the amendment be made.] [The Committee divided: Ayes 5, Noes 11.]" [1] '
        "(vote: lost, 5 for, 11 against)"]
    assert [c.passage.id for c in cites] == ["b2", "b0"] and parts["decided"] == [1]
    # Without the paper's decision passages nothing ties the division to the quote: it holds too few keywords.
    text, _, parts = three_parts(ex, ranked, terms)
    assert parts["decided"] == [] and "Decided: no decision is recorded in the indexed papers." in text


def test_fragments_and_headings_are_never_picked() -> None:
    t = _transcript()
    units = ans.passage_units([t])
    ok = ans.quotable(units, [t])
    assert [u.text for u, q in zip(units, ok, strict=True) if not q] == []
    cut = Passage(id="c", doc_id="d3", text="funding, does it mean our partners might withdraw?\nThe Chair "
                  "thanked officers for the report.\nSubject: Youth Provision in Schools", char_start=0, char_end=101)
    units = ans.passage_units([cut])
    kept = [u.text for u, q in zip(units, ans.quotable(units, [cut]), strict=True) if q]
    assert kept == ["The Chair thanked officers for the report."]
    scores = np.array([0.9, 0.5, 0.8], dtype=np.float32)[:len(units)]
    vecs = np.eye(len(units), dtype=np.float32)
    assert ans.pick(scores, vecs, units, ans.quotable(units, [cut]), ans.AnswerConfig()) == [1]


def test_spacing_artefacts_are_repaired_only_in_what_is_shown() -> None:
    assert compose.readable("a gap of 11 .2 million") == "a gap of 11.2 million"
    assert compose.readable("post -16 transport for 25 -26") == "post-16 transport for 25-26"
    assert compose.readable("in theSwiss programme\n and Wow24 pages") == "in the Swiss programme and Wow 24 pages"
    assert compose.readable("Cllr McNeil met iPhone users") == "Cllr McNeil met iPhone users"


def test_a_council_or_year_not_indexed_is_named() -> None:
    councils = ["City of London (Ontario) City Council", "Stoke Ferry Parish Council"]
    none = Understanding()
    assert unknown_council("What did Leeds City Council decide about bins?", none, councils) == "Leeds City Council"
    assert unknown_council("What did Stoke Ferry Parish Council decide?", none, councils) is None
    london = Understanding([Mention("council", [councils[0]], (9, 20), True)])
    assert unknown_council("What did London council say?", london, councils) is None
    y2031 = Understanding([Mention("date", ["2031-01-01", "2031-12-31"], (0, 7), True)])
    assert out_of_range(y2031, "2000-11-16", "2025-07-17", "nothing about it") == "2031"
    assert out_of_range(y2031, "2000-11-16", "2025-07-17", "the plan to 2031") is None


def test_a_sentence_cut_by_a_chunk_boundary_is_taken_back_to_its_start() -> None:
    assert ans.starts_mid_sentence("is a reduction in the contribution to the youth zone.\nThat is going to be over "
                                   "a couple of years. It is not immediate.")
    assert not ans.starts_mid_sentence("so we started with a gap and went on without capitals")  # captions
    assert ans.lead_in("that therapeutic support.\nAnd the second item that was approved\n") == \
        "And the second item that was approved\n"
    assert ans.lead_in("Alison Hinds - 1:08:09\nand the item\n") == "and the item\n"  # never past a speaker label
    assert ans.lead_in("support.\n\n") == ""  # the passage opens a paragraph: nothing to take back
    assert ans.lead_in("a run with no sentence start in reach\n") == ""


def test_a_sentence_a_chunk_boundary_ends_inside_is_taken_on_to_its_end() -> None:
    assert ans.ends_mid_sentence("It was said. And that total that we are working")
    assert not ans.ends_mid_sentence("It was said. And that was all.")
    assert ans.run_on(" we are working\ntowards is 5 million. And more") == " we are working\ntowards is 5 million."
    assert ans.run_on("\nAlison Hinds - 1:00:00\nNext one.") == ""  # never past a speaker label
    assert ans.run_on(" and on and on") == ""


def test_lettered_list_points_are_not_fragments() -> None:
    text = ("That the following actions be taken:\n\na) the Civic Administration BE DIRECTED to assist with the "
            "relocation of those living unhoused in the park, in compliance with encampment protocols;\n\n"
            "but this line was cut from its sentence and runs on.")
    p = Passage(id="l", doc_id="d4", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    kept = [u.text[:12] for u, ok in zip(units, ans.quotable(units, [p]), strict=True) if ok]
    assert kept == ["That the fol", "a) the Civic"]


# London, Ontario council minutes, 24 June 2025: a motion whose lead-in ends in ":" and whose points follow.
_MOTION = ("That the following actions be taken with respect to the Housing Development Corporation, London:\n\n"
           "a)   on the recommendation of the City Manager, the Independent Auditor\u2019s Report of KPMG LLP for "
           "the Shareholder of Housing Development Corporation, London, dated December 31, 2024, BE RECEIVED;\n\n"
           "b)  the 2024 Year End Report to the Shareholder BE RECEIVED; and\n\n"
           "c)  the 2024 Financial Statements BE RECEIVED.\n\n> **Motion Passed**")


def test_a_passage_ending_in_a_lead_in_takes_in_the_points_it_opens() -> None:
    head, rest = _MOTION.split(":", 1)
    assert ans.list_after(head + ":", rest) == rest[:rest.index("\n\n> **Motion")]
    assert ans.list_after(head + ".", rest) == ""  # not a lead-in: nothing taken
    assert ans.list_after("Present:", "\nCouncillor A. Smith (Chair)\nCouncillor B. Jones") == ""  # not a list
    assert ans.list_after("be taken:", "\nthe report BE RECEIVED.\nMembers noted it.") == "\nthe report BE RECEIVED."


def test_a_chosen_lead_in_is_quoted_with_its_first_point() -> None:
    p = Passage(id="hdc", doc_id="d5", text=_MOTION, char_start=0, char_end=len(_MOTION))
    units = ans.passage_units([p])
    allowed = ans.quotable(units, [p])
    scores = np.array([1.0] + [0.0] * (len(units) - 1), dtype=np.float32)
    cfg = ans.AnswerConfig(max_quote_chars=200)  # lead-in and point together are longer than this
    chosen = ans._join(units, [0], scores, scores, allowed, cfg)
    quote = _MOTION[chosen[0].start:chosen[0].stop]
    assert quote.startswith("That the following actions") and quote.endswith("dated December 31, 2024, BE RECEIVED;")


def test_a_lead_in_with_nothing_after_it_is_not_quotable() -> None:
    text = "The Committee received the report and noted its contents.\nThe following members were present:"
    p = Passage(id="pr", doc_id="d6", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    kept = [u.text for u, ok in zip(units, ans.quotable(units, [p]), strict=True) if ok]
    assert kept == ["The Committee received the report and noted its contents."]


# Stoke Ferry Parish Council minutes, January 2013: two motions in one passage, each closed by its vote.
_PRECEPT = ("Cllr Ryves proposed reducing the Additional Works to the Cemetery Budget to \u00a32000 and increasing "
            "the Contingency Fund to \u00a31750, seconded by Cllr Mrs Lintern. 3 Votes for, 1 Against, 1 Abstention. "
            "Carried\n\nCllr Ryves proposed a total Precept of \u00a315,152.50 (including the \u00a31360 from the "
            "Government) be requested, seconded by Cllr Mrs Leamon. 4 Votes for 1 Against Carried")


def test_a_motion_is_quoted_with_the_vote_line_that_closes_it_and_shows_that_vote() -> None:
    p = Passage(id="sf", doc_id="d7", text=_PRECEPT, char_start=0, char_end=len(_PRECEPT),
                role="decision", vote="carried, 3 for, 1 against, 1 abstained")  # the first motion's
    units = ans.passage_units([p])
    allowed = ans.quotable(units, [p])
    precept = next(i for i, u in enumerate(units) if "total Precept" in u.text)
    assert not allowed[precept + 1]  # the vote line alone is not quotable
    scores = np.zeros(len(units), dtype=np.float32)
    chosen = ans._join(units, [precept], scores, scores, allowed, ans.AnswerConfig())
    quote = _PRECEPT[chosen[0].start:chosen[0].stop]
    assert quote.endswith("seconded by Cllr Mrs Leamon. 4 Votes for 1 Against Carried")
    assert quote_vote(p, quote) == "carried, 4 for, 1 against"
    assert quote_vote(p, "It was agreed that the clerk write to the Borough Council.") == p.vote


def test_the_page_shows_each_answer_line_on_its_own_with_marker_runs_in_bold() -> None:
    from ui.render import answer_markdown

    shown = answer_markdown('From A Council: Board, 1 May 2025 [1][2].\n"It was $5." [1]\n"Agreed." [2]')
    assert shown == 'From A Council: Board, 1 May 2025 **[1][2]**.  \n"It was \\$5." **[1]**  \n"Agreed." **[2]**'


def test_a_bracketed_note_in_a_transcript_is_not_attributed_to_the_speaker_before_it() -> None:
    from core.results import editorial, quote_of

    text = ("Andrew Selous: I beg to move amendment 59.\n\n[Question put, That the amendment be made.]\n\n"
            "[The Committee divided: Ayes 5, Noes 11.]")
    p = Passage(id="pbc", doc_id="d8", text=text, char_start=0, char_end=len(text),
                turns=[{"start": 0, "speaker": "Andrew Selous", "timestamp": None}])
    note = text.index("[Question")
    assert quote_of(p, 15, 42).speaker == "Andrew Selous"
    assert quote_of(p, note, len(text)).speaker is None
    assert not editorial("[1:22:22] So that is seven yes votes.") and not editorial("[0:09:23]")


def test_numbers_that_only_place_a_sentence_are_not_its_quantity() -> None:
    """Knox County captions time every line ("[0:09:23]"), and Hansard numbers its amendments and lines."""
    assert ans.holds_number("[0:22:31] Yes, sir, we did. It's between 300 and 400.")
    assert not ans.holds_number("[0:09:23] We are here to swear in the new members.")
    assert not ans.holds_number("I beg to move amendment 59, in clause 1, page 1, line 10, at end insert")
    assert not ans.holds_number("7. Complaints Procedure Document: deferred until the next meeting.")
    assert ans.holds_number("Rent should be set at £275 per year.") and ans.holds_number("It met in March 2019.")


def test_short_stage_notes_are_not_quoted_but_records_of_proceedings_are() -> None:
    # Lines of the UK Covid-19 Inquiry, House of Lords and Public Bill Committee transcripts.
    assert ans.stage_note("[MS SUE GRAY (affirmed).]") and ans.stage_note("[Interruption.]")
    introduced = ("[Sir Jonathan Henry Sacks, Knight, having been created Baron Sacks, of Aldgate in the City of "
                  "London, was introduced and made the solemn affirmation, supported by Lord Winston and Lord "
                  "Carey of Clifton.]")
    for kept in (introduced, "[The Committee divided: Ayes 5, Noes 11.]", "[Question accordingly negatived.]",
                 "Ms Sue Gray: Good morning."):
        assert not ans.stage_note(kept), kept
    text = "[MS SUE GRAY (affirmed).]\n\nGood morning, Ms Gray. You provided the Inquiry with a witness statement."
    p = Passage(id="g", doc_id="inq", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    assert [u.text for u, ok in zip(units, ans.quotable(units, [p]), strict=True) if ok] == [
        "Good morning, Ms Gray.", "You provided the Inquiry with a witness statement."]
