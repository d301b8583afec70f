from pathlib import Path

import pytest

from indexer.clean import clean_text
from indexer.structure import detect_format, parse_structure, speaker_key

SEED_NAME = "003_9c533fb1d9fb01b2.txt"
ROOT = Path(__file__).resolve().parents[1]


def _seed_path() -> Path | None:
    for candidate in (ROOT / "corpus" / SEED_NAME, ROOT.parent / "shared" / "seeds" / SEED_NAME):
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def wolverhampton():
    path = _seed_path()
    if path is None:
        pytest.skip("Wolverhampton seed transcript not available")
    return parse_structure(clean_text(path.read_text(encoding="utf-8")), None)


def _segment_with(text, segments, phrase):
    hits = [s for s in segments if phrase in text[s.start : s.end]]
    assert len(hits) == 1, hits
    return hits[0]


def test_required_youth_zone_turn(wolverhampton):
    text, segments = wolverhampton
    seg = _segment_with(text, segments, "reduction in the contribution to the youth zone")
    assert seg.kind == "turn"
    assert seg.speaker == "Alison Hinds"
    assert seg.timestamp == "1:08:09"
    assert seg.agenda_item == "8 Our Future Council – Responding to the Financial Challenge"


def test_glued_speaker_lines_are_split(wolverhampton):
    text, segments = wolverhampton
    assert "carers' assessments\nAlison Hinds - 0:16:16" in text
    assert "want to add to\nCllr Louise Miles - 1:21:46" in text
    seg = _segment_with(text, segments, "Cllr Louise Miles - 1:21:46")
    assert (seg.speaker, seg.timestamp) == ("Cllr Louise Miles", "1:21:46")
    assert text[seg.start : seg.end].startswith("Cllr Louise Miles - 1:21:46")


def test_glued_agenda_title_split_and_applied(wolverhampton):
    text, segments = wolverhampton
    assert "young people scrutiny\n1 Welcome and Introductions" in text
    seg = _segment_with(text, segments, "My name is councillor Jane Francis")
    assert seg.agenda_item == "1 Welcome and Introductions"
    assert seg.speaker == "Cllr Jane Francis"
    assert seg.timestamp == "0:00:05"


def test_every_turn_is_attributed_and_header_is_not(wolverhampton):
    text, segments = wolverhampton
    turns = [s for s in segments if s.kind == "turn"]
    assert all(s.speaker and s.timestamp for s in turns)
    starts = {(s.speaker, s.timestamp) for s in turns}
    assert len(starts) == 131  # one per speaker line in the transcript
    assert "Earl Piggott Smith" in {s.speaker for s in turns}
    disclaimer = text.index("Disclaimer:")
    header = [s for s in segments if s.start < disclaimer]
    assert header and all(s.speaker is None and s.agenda_item is None for s in header)
    agenda_titles = [s.agenda_item for s in segments if s.kind == "agenda"]
    assert agenda_titles[0] == "1 Welcome and Introductions"
    assert agenda_titles[-1].startswith("10 Children and Young People Scrutiny Panel")
    assert len(agenda_titles) == 10


def test_segments_are_ordered_and_disjoint(wolverhampton):
    text, segments = wolverhampton
    for a, b in zip(segments, segments[1:], strict=False):
        assert a.end <= b.start
    assert all(text[s.start : s.end].strip() for s in segments)


def test_speaker_transcript_without_header_uses_name_pattern():
    raw = (
        "Cllr Ann Lee - 0:00:01\nWelcome everyone.\n"
        "Bob Stone - 0:00:10\nThanks, I have a questionCllr Ann Lee - 0:00:20\nGo ahead.\n"
        "Thank you chairDr Mary Jones - 0:00:30\nMy answer.\n"
    )
    text, segments = parse_structure(raw, None)
    turns = {(s.speaker, s.timestamp) for s in segments if s.kind == "turn"}
    assert turns == {
        ("Cllr Ann Lee", "0:00:01"),
        ("Bob Stone", "0:00:10"),
        ("Cllr Ann Lee", "0:00:20"),
        ("Dr Mary Jones", "0:00:30"),
    }
    seg = _segment_with(text, segments, "Go ahead.")
    assert (seg.speaker, seg.timestamp) == ("Cllr Ann Lee", "0:00:20")
    assert "I have a question\nCllr Ann Lee" in text


def test_bracket_transcript_segments_keep_first_timestamp():
    raw = "\n".join(f"[0:00:{i:02d}] line number {i}." for i in range(10))
    assert detect_format(raw) == "bracket"
    text, segments = parse_structure(raw, None)
    assert text == raw
    assert [s.timestamp for s in segments] == ["0:00:00", "0:00:04", "0:00:08"]
    assert all(s.speaker is None for s in segments)
    assert text[segments[1].start :].startswith("[0:00:04]")


def test_minutes_agenda_items_and_headings():
    raw = (
        "# Minutes\n\n1. Apologies for Absence:\n\nMr Smith sent apologies.\n\n"
        "# 2.   Consent\n\nThat Items 2.1 BE APPROVED.\n\n"
        "## 2.1 6th Report of the Accessibility Advisory Committee\n\nReceived.\n\n"
        "3. Gravel at Buckenham Drive still not removed. Clerk to chase.\n\n"
        "PLANNING\n\nNo applications.\n"
    )
    text, segments = parse_structure(raw, None)
    by_text = {text[s.start : s.end]: s for s in segments}
    assert by_text["Mr Smith sent apologies."].agenda_item == "1. Apologies for Absence"
    assert by_text["That Items 2.1 BE APPROVED."].agenda_item == "2. Consent"
    assert by_text["Received."].agenda_item == "2.1 6th Report of the Accessibility Advisory Committee"
    # a numbered sentence is not an agenda item
    long_line = by_text["3. Gravel at Buckenham Drive still not removed. Clerk to chase."]
    assert long_line.kind == "paragraph"
    assert by_text["PLANNING"].kind == "heading"
    assert by_text["No applications."].heading == "PLANNING"


def test_long_numbered_list_lines_are_not_agenda_items():
    raw = (
        "Priorities\n\n1. Staffing- the recruitment and retention of staff, providing staff with effective "
        "management and bringing caseloads down for newly qualified staff.\n"
        "2. Listening to Young People - to make sure that children are listened to and inform practice\n"
    )
    _, segments = parse_structure(raw, None)
    assert all(s.agenda_item is None for s in segments)


def test_pdf_pages_never_crossed():
    page1, page2 = "Para one line\ncontinues here", "Para two"
    text = page1 + "\n\n" + page2
    pages = [(1, 0, len(page1)), (2, len(page1) + 2, len(text))]
    _, segments = parse_structure(text, pages)
    assert [(s.page, text[s.start : s.end]) for s in segments] == [(1, page1), (2, page2)]


def test_speaker_key():
    assert speaker_key("Councillor Jane Francis") == speaker_key("Cllr Jane Francis") == "jane francis"
    assert speaker_key("  Cllr.  Jane   FRANCIS ") == "jane francis"
    assert speaker_key("Alison Hinds") == "alison hinds"


MINUTES_WITH_NUMBERS = """Minutes of the Parish Council meeting

90/18 Election of Chair and Vice Chair
Cllr A was elected Chair.
91/18 Apologies and Welcome There were apologies from Cllr B.
92/18 Matters Arising: the bench has been repaired.
Minute 93/18 Planning. Two applications were considered.

4. Highways: the pothole on Mill Lane was reported.

1. The clerk will write to the county council.
"""


def test_minute_numbers_open_agenda_items():
    text, segments = parse_structure(MINUTES_WITH_NUMBERS)
    items = {text[s.start:s.end].split("\n")[0]: s.agenda_item for s in segments}
    assert items["90/18 Election of Chair and Vice Chair"] == "90/18 Election of Chair and Vice Chair"
    assert items["91/18 Apologies and Welcome There were apologies from Cllr B."] == "91/18 Apologies and Welcome"
    assert items["92/18 Matters Arising: the bench has been repaired."] == "92/18 Matters Arising"
    assert items["Minute 93/18 Planning. Two applications were considered."] == "Minute 93/18 Planning"
    assert items["4. Highways: the pothole on Mill Lane was reported."] == "4. Highways"
    # a numbered point inside an item is not a new item
    assert items["1. The clerk will write to the county council."] == "4. Highways"
    cllr_a = next(s for s in segments if text[s.start:s.end].startswith("Cllr A"))
    assert cllr_a.agenda_item == "90/18 Election of Chair and Vice Chair"


DECISIONS = """5. Play Area

The council discussed the quotes for new swings.

RESOLVED:

1) That the quote from Acme Play be accepted.

2) That the clerk orders the swings.

The meeting moved on.

It was agreed that the hedge be cut in March.
"""


def test_decision_blocks_keep_their_points_and_item():
    text, segments = parse_structure(DECISIONS)
    kinds = [(s.kind, text[s.start:s.end][:20]) for s in segments]
    assert kinds == [("agenda", "5. Play Area"), ("paragraph", "The council discusse"),
                     ("decision", "RESOLVED:"), ("decision", "1) That the quote fr"),
                     ("decision", "2) That the clerk or"), ("paragraph", "The meeting moved on"),
                     ("decision", "It was agreed that t")]
    assert {s.agenda_item for s in segments} == {"5. Play Area"}


def test_decision_words_in_running_text_are_not_decisions():
    text, segments = parse_structure("Agreed and signed.\n\nThe motion was resolved later.\n")
    assert [s.kind for s in segments] == ["paragraph", "paragraph"]
