"""What an answer quotes from transcripts and PDF minutes (issue 11): a colon transcript's "Name (Role):"
label is not quoted (the speaker is named beside the quote), a caption's "[h:mm:ss]" markers are not shown
and the quote carries the time of the marker before it, a PDF symbol-font bullet is not quoted, an
ellipsis or abbreviation before a lower-case word does not end a sentence, a long sentence cut in pieces is
quoted whole, and overlapping chunks of one document are one source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core import answer as ans
from core import compose
from core.results import marker_time, quote_of
from indexer.chunk import ChunkSettings, chunk_document
from indexer.embed import FakeEmbedder
from indexer.loaders import load_document
from indexer.models import Passage
from indexer.units import split_blocks, split_units, turn_labels

TRANSCRIPTS = Path(__file__).resolve().parents[1].parent / "shared" / "transcripts"


def _colon_passage() -> Passage:
    text = ("Lady Hallett: Can I just emphasise that I am not trying to clamp down on legitimate whistleblowers.\n\n"
            "Ms Sue Gray: No, no.\n\n"
            "Michelle Gildernew (The Minister of Agriculture): The question is about the theft of 16 cattle.")
    turns = [{"start": text.index(s), "speaker": s, "timestamp": None}
             for s in ("Lady Hallett", "Ms Sue Gray", "Michelle Gildernew (The Minister of Agriculture)")]
    return Passage(id="c", doc_id="d", text=text, char_start=0, char_end=len(text), turns=turns)


def test_a_colon_turn_label_is_not_part_of_the_quote() -> None:
    p = _colon_passage()
    quotes = [p.text[s:e] for s, e in split_units(p.text, turn_labels(p))]
    assert quotes == ["Can I just emphasise that I am not trying to clamp down on legitimate whistleblowers.",
                      "The question is about the theft of 16 cattle."]  # "No, no." is too short once unlabelled
    q = quote_of(p, p.text.index("The question"), len(p.text))
    assert (q.speaker, q.timestamp) == ("Michelle Gildernew (The Minister of Agriculture)", None)
    assert compose.attributed(q, 1) == ('Michelle Gildernew (The Minister of Agriculture): '
                                        '"The question is about the theft of 16 cattle." [1]')


def test_real_colon_transcripts_quote_no_turn_label() -> None:
    files = sorted(TRANSCRIPTS.glob("*.txt"))
    if not files:
        pytest.skip(f"../shared/transcripts is not here: no .txt files in {TRANSCRIPTS}")
    settings = ChunkSettings(chunk_tokens=200, chunk_overlap=30, max_model_tokens=256)
    checked = 0
    for path in files[:6]:
        for p in chunk_document(load_document(path), settings, FakeEmbedder().count_tokens):
            labels = turn_labels(p)
            for s, e in split_units(p.text, labels):
                assert not any(p.text.startswith(lab, s) for lab in labels if lab.endswith(":")), \
                    (path.name, p.text[s:e][:80])
                checked += 1
    assert checked > 1000


def test_caption_time_markers_are_not_shown_and_give_the_quote_its_time() -> None:
    text = ("[0:07:30] Next item. [0:07:40] 7D, approve the STEM startup grant for Bearden Middle School in the "
            "amount of $9,517.99 [0:07:49] and for Gresham Middle School in the amount of $10,000.")
    p = Passage(id="k", doc_id="k", text=text, char_start=0, char_end=len(text), timestamp="0:07:30")
    start = text.index("[0:07:40]")
    q = quote_of(p, start, len(text))
    assert q.timestamp == "0:07:40"
    assert q.text == text[start:]  # the cited span keeps the exact characters
    assert compose.attributed(q, 2) == ('0:07:40: "7D, approve the STEM startup grant for Bearden Middle School in '
                                        'the amount of $9,517.99 and for Gresham Middle School in the amount of '
                                        '$10,000." [2]')
    assert marker_time(text, text.index("and for")) == "0:07:49"
    assert q.to_dict()["shown"] == compose.readable(q.text) and q.to_dict()["text"] == q.text
    assert marker_time("no markers here", 5) is None
    assert quote_of(p, 0, 10).timestamp == "0:07:30"


def test_symbol_font_bullets_and_stars_are_not_quoted() -> None:
    text = ("5.2 Clerk's Report for the meeting\n\uf0b7   Dog fouling remains a problem in places in the village.\n"
            "* It was reported that dog mess is not being cleared in Church Road.\n"
            "· There is a study support pilot at the children's home.")
    assert [text[s:e] for s, e in split_units(text)] == [
        "5.2 Clerk's Report for the meeting", "Dog fouling remains a problem in places in the village.",
        "It was reported that dog mess is not being cleared in Church Road.",
        "There is a study support pilot at the children's home."]


def test_an_ellipsis_before_lower_case_does_not_end_the_sentence() -> None:
    text = ('And you provide a snapshot of your workload: "... juggling 37 VIP cases (and more coming in) and '
            'totally swamped". Does that fairly reflect your experience?')
    assert [text[s:e] for s, e in split_units(text)] == [
        'And you provide a snapshot of your workload: "... juggling 37 VIP cases (and more coming in) and '
        'totally swamped".', "Does that fairly reflect your experience?"]


def test_a_blank_line_inside_a_sentence_does_not_cut_it() -> None:
    # London (Ontario) minutes converted from PDF: a blank line in the middle of a resolution's point.
    text = ("ii)    that the details for the design features in the north gable and south gable be\n\n"
            "submitted to the Heritage Planner prior to installation;\n\n"
            "b) that notice BE GIVEN under the provisions of Section 29(3) of the Ontario Heritage Act;\n\n"
            "it being noted that the Committee received a communication dated January 6, 2025.")
    assert [(text[s:e], b) for s, e, b in split_blocks(text)] == [
        ("ii)    that the details for the design features in the north gable and south gable be\n\n"
         "submitted to the Heritage Planner prior to installation;", 0),
        ("b) that notice BE GIVEN under the provisions of Section 29(3) of the Ontario Heritage Act;", 1),
        ("it being noted that the Committee received a communication dated January 6, 2025.", 2)]


def test_a_turn_cut_off_on_a_function_word_is_not_quoted() -> None:
    # The Wolverhampton webcast (corpus/): the chair is cut off mid-sentence, then the next speaker.
    text = ("Cllr Jane Francis - 1:38:22\nCouncillor Evans on the subject alternative funding I know the\n"
            "Cllr Ben Evans - 1:38:24\nThat's 85 million capital funding for the year 2025 to 2026 for more "
            "youth facilities.\nCllr Jane Francis - 1:39:00\nI would also quickly say that it is good news.")
    p = Passage(id="w", doc_id="w", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    assert [u.text for u in units][0] == "Councillor Evans on the subject alternative funding I know the"
    assert ans.quotable(units, [p]).tolist() == [False, True, True]
    assert ans.cut_off("Yeah, I think there's maybe a few more, but --")
    assert not ans.cut_off("a) the report BE RECEIVED for information; and")  # a list point goes on
    assert not ans.cut_off("Request for donation - Not approved")


def test_a_passage_that_ends_on_a_function_word_may_have_been_cut_by_its_chunk() -> None:
    # Where the passage ends, the turn may go on in the next chunk: the speaker was not cut off.
    text = ("Alison Hinds - 0:49:00\nThank you for the question about the family hubs.\n"
            "Cllr Leigh New - 0:49:30\nSo I think as part of")
    p = Passage(id="r", doc_id="r", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    assert [u.text for u in units] == ["Thank you for the question about the family hubs.", "So I think as part of"]
    assert ans.quotable(units, [p]).tolist() == [True, True]


def test_a_long_sentence_cut_in_pieces_is_quoted_whole() -> None:
    text = ("I did not delete " + "any of the messages with cabinet secretaries until the new year, " * 6
            + "which -- the message deletion policy was given to me, and that was the first point at which I knew.")
    p = Passage(id="l", doc_id="l", text=text, char_start=0, char_end=len(text))
    units = ans.passage_units([p])
    assert len(units) == 2 and units[1].text[:1].islower()
    allowed = ans.quotable(units, [p])
    assert allowed.tolist() == [True, False]  # the second piece alone is a fragment
    chosen = ans._join(units, [0], np.array([1.0, 0.0]), np.array([0.5, 0.1]), allowed, ans.AnswerConfig())
    assert [(c.start, c.stop) for c in chosen] == [(0, len(text))]


def test_overlapping_chunks_of_one_document_are_one_source() -> None:
    def passage(doc: str, start: int, end: int) -> Passage:
        return Passage(id=f"{doc}{start}", doc_id=doc, text="x" * (end - start), char_start=start, char_end=end)

    passages = [passage("a", 1000, 2000), passage("b", 0, 900), passage("a", 1800, 2800),
                passage("a", 2900, 3500), passage("a", 9000, 9500)]
    assert ans.stretches(passages) == [0, 1, 0, 0, 4]
    units = [ans.Unit(i, 0, 10, f"Sentence number {i} is here.") for i in range(5)]
    vecs = np.eye(5, dtype=np.float32)
    cfg = ans.AnswerConfig(max_sources=2)
    scores = np.array([0.9, 0.5, 0.8, 0.7, 0.6])
    allowed = np.ones(5, dtype=bool)
    assert ans.pick(scores, vecs, units, allowed, cfg, ans.stretches(passages)) == [0, 2, 3, 4]
    assert ans.pick(scores, vecs, units, allowed, cfg) == [0, 2]  # each passage its own source


def test_split_blocks_keeps_exact_slices() -> None:
    p = _colon_passage()
    for s, e, _ in split_blocks(p.text, turn_labels(p)):
        assert p.text[s:e] == p.text[s:e].strip()
        assert s >= 0 and e <= len(p.text)


CAPTIONS = ("[0:07:35] All in favor?\n[0:07:36] Aye.\n[0:07:37] Any opposed? Motion carries.\n"
            "[0:07:40] 7D, approve the library grant for Northside School in the amount of $9,517.99\n"
            "[0:07:49] and for Southside School in the amount of $10,000.\n[0:07:52] So moved.\n[0:07:53] Second.\n"
            "[0:07:54] We have a motion by Mr. Smith, a second by Ms. Jones. Questions? Discussion?\n"
            "[0:07:58] All in favor?\n[0:08:00] Aye.")


def test_a_bare_vote_call_is_quoted_with_the_motion_it_decides() -> None:
    from core.parts import _runs
    from indexer.roles import records_decision

    p = Passage(id="k", doc_id="k", text=CAPTIONS, char_start=0, char_end=len(CAPTIONS), timestamp="0:07:35")
    spans = [CAPTIONS[s:e] for s, e in _runs(p, records_decision)]
    assert spans == ["[0:07:35] All in favor?",  # the previous item's call: nothing of its motion in the passage
                     CAPTIONS[CAPTIONS.index("[0:07:40]"):CAPTIONS.index("\n[0:08:00]")]]
    q = quote_of(p, CAPTIONS.index("[0:07:40]"), CAPTIONS.index("\n[0:08:00]"))
    assert compose.attributed(q, 1) == (
        '0:07:40: "7D, approve the library grant for Northside School in the amount of $9,517.99 and for Southside '
        'School in the amount of $10,000. So moved. Second. We have a motion by Mr. Smith, a second by Ms. Jones. '
        'Questions? Discussion? All in favor?" [1]')


def test_real_caption_decisions_are_not_bare_vote_calls() -> None:
    from core.parts import _runs
    from indexer.roles import records_decision

    folder = TRANSCRIPTS.parent / "corpora" / "us_knox_county_meeting_transcripts"
    files = sorted(folder.glob("*.txt"))[:8]
    if not files:
        pytest.skip(f"../shared/corpora is not here: no Knox County transcripts in {folder}")
    settings = ChunkSettings(chunk_tokens=200, chunk_overlap=30, max_model_tokens=256)
    bare = quoted = 0
    for path in files:
        for p in chunk_document(load_document(path), settings, FakeEmbedder().count_tokens):
            for s, e in _runs(p, records_decision)[1:]:  # the first may be the previous item's call
                quoted += 1
                bare += len(p.text[s:e].split()) < 8
    assert quoted > 10 and bare <= 0.2 * quoted, (bare, quoted)


def test_hon_friend_does_not_end_a_sentence() -> None:
    text = "My hon. Friend makes a good point in a measured way. As I said earlier, there are various routes."
    assert [text[s:e] for s, e in split_units(text)] == [
        "My hon. Friend makes a good point in a measured way.", "As I said earlier, there are various routes."]


def test_a_name_and_role_line_is_not_a_sentence() -> None:
    assert ans.is_heading("Victoria Gray VG Wereham Village Hall Committee (Chair)")
    assert ans.is_heading("John Eastgate JE Wereham Village Hall Committee (Treasurer)")
    assert not ans.is_heading("The Chair thanked Members (all of them).")
    assert not ans.is_heading('Members agreed the motion "Save Our Village Hall."')


@pytest.mark.parametrize(("shown", "expected"), [
    ("That's 85 millioncapital funding", "That's 85 million capital funding"),  # the flagship answer's words
    ("weneed to sort our offer", "we need to sort our offer"),
    ("we can't work with every singlefamily", "we can't work with every single family"),
    ("safeguarding, wellbeing and Ofsted", "safeguarding, wellbeing and Ofsted"),  # words English knows
    ("tradies and offstead", "tradies and offstead"),  # a split into uncommon parts is not made
    ("Healthwatch and MARAC", "Healthwatch and MARAC"),  # capitals: names are left alone
])
def test_caption_words_run_together_are_split_only_in_what_is_shown(shown: str, expected: str) -> None:
    assert compose.readable(shown) == expected
