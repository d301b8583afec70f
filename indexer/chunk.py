"""Token-bounded chunks that follow the document's structure and keep their citations.

Chunks are packed from sentence-sized pieces of the loader's segments. A chunk never crosses an
agenda item or a page; a new speaker turn starts a new chunk unless the chunk so far is short (a
run of "thank you, chair" turns is merged). A decision block ("RESOLVED: ...") that fits in one
chunk is never cut in two. A unit longer than a chunk is split with a modest
overlap. Every chunk is finally checked against the embedding model's own tokenizer, because the
encoder silently ignores text past its maximum sequence length.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from indexer.models import Document, Passage, Segment, passage_id
from indexer.roles import passage_role
from indexer.structure import opens_decision
from indexer.tokens import count_tokens

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size and overlap in cl100k_base tokens, and the most tokens the embedding model reads."""

    chunk_tokens: int = 200
    chunk_overlap: int = 30
    max_model_tokens: int = 254  # the embedder's limit, in its own tokens

    @property
    def min_fill(self) -> int:
        """The fewest tokens a chunk must hold before a new speaker turn starts another: a third of a chunk."""
        return self.chunk_tokens // 3


@dataclass
class _Piece:
    start: int
    end: int
    tokens: int
    seg: Segment
    turn: int  # index of the segment's speaker turn, -1 when the text has no turns
    block: int = -1  # index of the decision block the piece belongs to, -1 when none


def _group(seg: Segment) -> tuple[str | None, int | None]:
    return seg.agenda_item, seg.page


def _split_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence-sized spans inside [start, end), whitespace trimmed."""
    spans = []
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut a span with more than `limit` tokens at word boundaries."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out: list[tuple[int, int]] = []
    cur_start: int | None = None
    cur_tokens = 0
    prev_end = 0
    for ws, we in words:
        n = count_tokens(text[start + ws:start + we]) + 1
        if cur_start is not None and cur_tokens + n > limit:
            out.append((start + cur_start, start + prev_end))
            cur_start, cur_tokens = None, 0
        if cur_start is None:
            cur_start = ws
        cur_tokens += n
        prev_end = we
    if cur_start is not None:
        out.append((start + cur_start, start + prev_end))
    return out


def _pieces(doc: Document, settings: ChunkSettings) -> list[_Piece]:
    segments = doc.segments or [Segment(0, len(doc.text))]
    pieces: list[_Piece] = []
    turn = -1
    last_turn_key: tuple | None = None
    for seg in segments:
        if seg.kind == "turn":
            key = (seg.speaker, seg.timestamp)
            if key != last_turn_key:
                turn += 1
                last_turn_key = key
        for s, e in _split_span(doc.text, seg.start, seg.end):
            n = count_tokens(doc.text[s:e])
            parts = [(s, e)] if n <= settings.chunk_tokens else _split_long(doc.text, s, e, settings.chunk_tokens)
            for ps, pe in parts:
                tokens = n if len(parts) == 1 else count_tokens(doc.text[ps:pe])
                pieces.append(_Piece(ps, pe, tokens, seg, turn if seg.kind == "turn" else -1))
    return pieces


def _mark_blocks(pieces: list[_Piece], text: str) -> dict[int, int]:
    """Number the decision blocks: a run of "decision" segments, a new block at each one that opens a
    decision ("RESOLVED: ..."), its numbered points staying with it. Returns each block's tokens."""
    sizes: dict[int, int] = {}
    block, last, prev_decision = -1, None, False
    for p in pieces:
        if p.seg.kind != "decision":
            prev_decision = False
            continue
        if p.seg is not last:
            if not prev_decision or opens_decision(text[p.seg.start:p.seg.end]):
                block += 1
            last = p.seg
        prev_decision = True
        p.block = block
        sizes[block] = sizes.get(block, 0) + p.tokens
    return sizes


def _pack(pieces: list[_Piece], settings: ChunkSettings, text: str = "") -> list[list[_Piece]]:
    chunks: list[list[_Piece]] = []
    cur: list[_Piece] = []
    cur_tokens = 0
    blocks = _mark_blocks(pieces, text)
    for p in pieces:
        if cur:
            hard = _group(p.seg) != _group(cur[-1].seg)
            new_turn = p.turn != cur[-1].turn and p.turn >= 0
            full = cur_tokens + p.tokens > settings.chunk_tokens
            # A decision that fits in one chunk starts a new one rather than being cut in two.
            block = p.block >= 0 and p.block != cur[-1].block and blocks[p.block] <= settings.chunk_tokens
            full = full or (block and cur_tokens + blocks[p.block] > settings.chunk_tokens)
            if hard or full or (new_turn and cur_tokens >= settings.min_fill):
                chunks.append(cur)
                overlap = [] if (hard or new_turn or block) else _tail(cur, settings.chunk_overlap)
                cur = overlap
                cur_tokens = sum(x.tokens for x in cur)
        cur.append(p)
        cur_tokens += p.tokens
    if cur:
        chunks.append(cur)
    return chunks


def _tail(chunk: list[_Piece], budget: int) -> list[_Piece]:
    """Trailing pieces of the same turn that fit in the overlap budget."""
    out: list[_Piece] = []
    used = 0
    for p in reversed(chunk[1:]):  # never the whole chunk again
        if used + p.tokens > budget or p.turn != chunk[-1].turn:
            break
        out.insert(0, p)
        used += p.tokens
    return out


def _dominant(values: list[tuple[str | None, int]]) -> str | None:
    counts: Counter[str] = Counter()
    for v, n in values:
        if v:
            counts[v] += n
    return counts.most_common(1)[0][0] if counts else None


def _passage(doc: Document, group: list[_Piece], n_tokens: int) -> Passage:
    start, end = group[0].start, group[-1].end
    text = doc.text[start:end]
    speaker = _dominant([(p.seg.speaker, p.tokens) for p in group])
    speakers = list(dict.fromkeys(p.seg.speaker for p in group if p.seg.speaker))
    # The time is where the dominant speaker's part of this chunk begins.
    stamped = [p for p in group if p.seg.timestamp and (speaker is None or p.seg.speaker == speaker)]
    turns: list[dict] = []
    for p in group:
        if p.seg.kind == "turn" and (not turns or (turns[-1]["speaker"], turns[-1]["timestamp"])
                                     != (p.seg.speaker, p.seg.timestamp)):
            turns.append({"start": p.start, "speaker": p.seg.speaker, "timestamp": p.seg.timestamp})
    m = doc.meta
    role = passage_role([p.seg.role or "discussion" for p in group], [p.tokens for p in group])
    vote = next((p.seg.vote for p in group if p.seg.role == "decision" and p.seg.vote), None)
    return Passage(
        id=passage_id(m.doc_id, text),
        doc_id=m.doc_id, text=text, char_start=start, char_end=end,
        page=group[0].seg.page, agenda_item=group[0].seg.agenda_item, speaker=speaker, speakers=speakers,
        timestamp=stamped[0].seg.timestamp if stamped else None,
        heading=next((p.seg.heading for p in group if p.seg.heading), None), turns=turns, role=role,
        vote=vote if role == "decision" else None,
        n_tokens=n_tokens, **m.values,
    )


def _fit(group: list[_Piece], doc: Document, model_tokens: Callable[[str], int], limit: int) -> list[list[_Piece]]:
    """Split a group until each part fits the model's own token limit."""
    text = doc.text[group[0].start:group[-1].end]
    if model_tokens(text) <= limit:
        return [group]
    if len(group) == 1:
        p = group[0]
        halves = _split_long(doc.text, p.start, p.end, max(8, p.tokens // 2))
        if len(halves) < 2:
            return [group]  # a single word longer than the limit: nothing sensible to split
        parts = [_Piece(s, e, count_tokens(doc.text[s:e]), p.seg, p.turn) for s, e in halves]
        return [g for part in parts for g in _fit([part], doc, model_tokens, limit)]
    mid = len(group) // 2
    return _fit(group[:mid], doc, model_tokens, limit) + _fit(group[mid:], doc, model_tokens, limit)


def _chunk_tokens(doc: Document, part: list[_Piece]) -> int:
    """cl100k tokens of the chunk's text. A one-piece chunk is exactly its piece, already counted;
    several pieces are counted afresh, since tokens merge across the whitespace that joins them."""
    if len(part) == 1:
        return part[0].tokens
    return count_tokens(doc.text[part[0].start:part[-1].end])


def chunk_document(
    doc: Document, settings: ChunkSettings, model_tokens: Callable[[str], int] | None = None
) -> list[Passage]:
    """Chunks of one document, in reading order, each within `settings.max_model_tokens`."""
    passages: list[Passage] = []
    seen: set[str] = set()
    for group in _pack(_pieces(doc, settings), settings, doc.text):
        parts = _fit(group, doc, model_tokens, settings.max_model_tokens) if model_tokens else [group]
        for part in parts:
            p = _passage(doc, part, _chunk_tokens(doc, part))
            if p.id not in seen:
                seen.add(p.id)
                passages.append(p)
    return passages
