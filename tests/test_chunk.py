"""Chunking: token bounds, structure boundaries, citations carried, overlap."""

from __future__ import annotations

from indexer.chunk import ChunkSettings, chunk_document
from indexer.embed import FakeEmbedder
from indexer.models import Document, DocumentMeta, Segment
from indexer.tokens import count_tokens


def _doc(text: str, segments: list[Segment]) -> Document:
    meta = DocumentMeta(doc_id="d1", council="Borsetshire County Council", committee="Cabinet",
                        date="2024-01-02", title="Cabinet", doc_type="transcript", source_url="https://x/y")
    return Document(meta=meta, text=text, segments=segments)


def _turns(specs: list[tuple[str, str, str, str]]) -> Document:
    """specs: (speaker, timestamp, agenda item, words)."""
    text, segs = "", []
    for speaker, ts, item, words in specs:
        start = len(text)
        text += words + "\n"
        segs.append(Segment(start, start + len(words), "turn", agenda_item=item, speaker=speaker, timestamp=ts))
    return _doc(text, segs)


def test_chunks_are_token_bounded_and_exact_slices() -> None:
    sentence = "The panel discussed the youth zone contribution and the phased reduction in year {}. "
    doc = _turns([("Alison Hinds", "1:08:09", "8 Budget", "".join(sentence.format(i) for i in range(40)))])
    settings = ChunkSettings(chunk_tokens=100, chunk_overlap=20, max_model_tokens=120)
    passages = chunk_document(doc, settings, FakeEmbedder().count_tokens)
    assert len(passages) > 5
    for p in passages:
        assert doc.text[p.char_start:p.char_end] == p.text
        assert count_tokens(p.text) <= 100
        assert FakeEmbedder().count_tokens(p.text) <= 120
        assert (p.speaker, p.timestamp, p.agenda_item) == ("Alison Hinds", "1:08:09", "8 Budget")
        assert (p.council, p.date, p.doc_type, p.doc_id) == ("Borsetshire County Council", "2024-01-02",
                                                             "transcript", "d1")


def test_overlap_between_consecutive_chunks_of_one_turn() -> None:
    sentence = "Sentence number {} is about the library service budget. "
    doc = _turns([("A Person", "0:01:00", "1 Item", "".join(sentence.format(i) for i in range(60)))])
    passages = chunk_document(doc, ChunkSettings(chunk_tokens=80, chunk_overlap=25), None)
    for a, b in zip(passages, passages[1:], strict=False):
        assert b.char_start < a.char_end, "consecutive chunks of one long turn overlap"
        assert a.char_end - b.char_start < len(a.text)


def test_agenda_item_boundary_is_never_crossed_and_short_turns_merge() -> None:
    doc = _turns([
        ("Chair", "0:00:05", "1 Welcome", "Welcome everyone to this meeting of the panel."),
        ("Clerk", "0:00:09", "1 Welcome", "Thank you chair."),
        ("Chair", "0:00:12", "2 Apologies", "Apologies were received from two members."),
    ])
    passages = chunk_document(doc, ChunkSettings(chunk_tokens=100, chunk_overlap=10), None)
    assert [p.agenda_item for p in passages] == ["1 Welcome", "2 Apologies"]
    assert passages[0].speakers == ["Chair", "Clerk"]
    assert passages[0].timestamp == "0:00:05"


def test_new_turn_starts_new_chunk_once_chunk_is_substantial() -> None:
    words = "the council reviewed the home to school transport policy in detail " * 6
    doc = _turns([("Cllr A", "0:10:00", "3 Transport", words), ("Cllr B", "0:12:00", "3 Transport", words + "again")])
    passages = chunk_document(doc, ChunkSettings(chunk_tokens=200, chunk_overlap=20), None)
    assert [(p.speaker, p.timestamp) for p in passages] == [("Cllr A", "0:10:00"), ("Cllr B", "0:12:00")]


def test_model_limit_splits_chunks_that_fit_cl100k_but_not_the_model() -> None:
    words = " ".join(f"w{i}" for i in range(150)) + "."
    doc = _turns([("X", "0:00:01", "1 A", words)])
    # A tokenizer that counts every character: much stricter than cl100k.
    passages = chunk_document(doc, ChunkSettings(chunk_tokens=200, chunk_overlap=0, max_model_tokens=300), len)
    assert len(passages) > 1
    assert all(len(p.text) <= 300 for p in passages)
    assert "".join(p.text.replace(" ", "") for p in passages) == words.replace(" ", "")


def test_ids_are_stable_and_depend_on_document_and_text() -> None:
    doc = _turns([("X", "0:00:01", "1 A", "Some words about parks.")])
    a = chunk_document(doc, ChunkSettings(), None)
    b = chunk_document(doc, ChunkSettings(), None)
    assert [p.id for p in a] == [p.id for p in b]
    doc.meta.doc_id = "d2"
    assert chunk_document(doc, ChunkSettings(), None)[0].id != a[0].id


def test_document_without_segments_is_chunked_as_one_block() -> None:
    doc = _doc("First paragraph.\n\nSecond paragraph.", [])
    passages = chunk_document(doc, ChunkSettings(), None)
    assert len(passages) == 1 and passages[0].text == "First paragraph.\n\nSecond paragraph."


def test_turns_inside_a_chunk_keep_their_own_speaker_and_time() -> None:
    doc = _turns([
        ("Cllr Jane Francis", "1:37:50", "8 Budget", "Does that need to go on a risk register?"),
        ("Alison Hinds", "1:38:06", "8 Budget", "I have had that conversation with their chief executive, no risk."),
    ])
    [p] = chunk_document(doc, ChunkSettings(chunk_tokens=200, chunk_overlap=10), None)
    assert [(t["speaker"], t["timestamp"]) for t in p.turns] == [("Cllr Jane Francis", "1:37:50"),
                                                                   ("Alison Hinds", "1:38:06")]
    answer_at = doc.text.index("I have had")
    assert p.turn_at(answer_at) == {"start": answer_at, "speaker": "Alison Hinds", "timestamp": "1:38:06"}
    assert p.turn_at(p.char_start)["speaker"] == "Cllr Jane Francis"  # type: ignore[index]


def test_a_decision_block_is_never_cut_in_two() -> None:
    from indexer.structure import parse_structure

    filler = " ".join(f"Councillors discussed point {i} of the play area report at length." for i in range(8))
    decision = "RESOLVED:\n\n1) That the quote from Acme Play be accepted.\n\n2) That the clerk orders the swings."
    text, segments = parse_structure(f"5. Play Area\n\n{filler}\n\n{decision}\n\nThe meeting moved on.\n")
    doc = _doc(text, segments)
    passages = chunk_document(doc, ChunkSettings(chunk_tokens=120, chunk_overlap=20), None)
    holding = [p for p in passages if "RESOLVED" in p.text or "Acme" in p.text or "orders the swings" in p.text]
    assert len(holding) == 1, [p.text for p in passages]
    assert decision in holding[0].text
    assert holding[0].agenda_item == "5. Play Area"
