"""Quote-based relevance: is a retrieved passage (or a cited quote) one of a question's gold evidence items?

Gold quotes are copied verbatim from the raw documents, while the index holds cleaned text (tags
removed, whitespace normalised, hyphenation rejoined). Nothing here refers to passage ids, so the
judgement survives re-chunking. A passage of the evidence's document matches evidence item e when

1. it contains the quote after normalisation: case folded, everything but letters and digits
   dropped (so punctuation, spacing, tags and line-break hyphens do not matter); very short quotes
   must match whole words instead; or
2. it holds at least `gram_share` (60%) of the quote's word 5-grams (a quote cut by a chunk
   boundary, or one that differs in a few words); or
3. the quote can be located in the document's cleaned text and the passage's character span
   covers at least `span_share` (60%) of it, or lies at least 60% inside it (quotes longer than
   a chunk, and short cited quotes inside a long evidence quote).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evaluation.gold import Evidence

_WORD = re.compile(r"[^\W_]+")
GRAM = 5
MIN_SQUASHED = 15  # shorter normalised quotes must match on word boundaries


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def holds_facts(answer: str, facts: Sequence[str]) -> bool:
    """Whether the answer holds every key fact, ignoring case and all whitespace (answers repair the
    spacing of captioned text, "11 .2 million" shown as "11.2 million", and the gold keeps the source's)."""
    flat = "".join(answer.split()).casefold()
    return all("".join(f.split()).casefold() in flat for f in facts)


def squash(text: str) -> tuple[str, list[int]]:
    """Letters and digits only, case folded, with each kept character's offset in `text`."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, c in enumerate(text):
        if c.isalnum():
            for folded in c.casefold():
                chars.append(folded)
                offsets.append(i)
    return "".join(chars), offsets


def _grams(ws: Sequence[str], n: int = GRAM) -> set[tuple[str, ...]]:
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Character span of `quote` in `text`, ignoring case, punctuation and spacing; None if absent."""
    sq, _ = squash(quote)
    st, offsets = squash(text)
    pos = st.find(sq) if sq else -1
    if pos < 0:
        return None
    return offsets[pos], offsets[pos + len(sq) - 1] + 1


@dataclass
class _Item:
    doc_id: str
    words: list[str]
    squashed: str
    grams: set[tuple[str, ...]]
    span: tuple[int, int] | None


class EvidenceJudge:
    """Judges passages against one question's evidence items.

    Without `item_of` each evidence entry is its own item; with it (`GoldQuestion.item_of`) entries that
    share an item are alternatives, and `matches` returns item numbers.
    """

    def __init__(
        self,
        evidence: Sequence[Evidence],
        doc_text: Callable[[str], str | None] | None = None,
        gram_share: float = 0.6,
        span_share: float = 0.6,
        item_of: Sequence[int] | None = None,
    ) -> None:
        self.gram_share = gram_share
        self.span_share = span_share
        self.item_of = list(item_of) if item_of is not None else list(range(len(evidence)))
        self.items: list[_Item] = []
        for e in evidence:
            text = doc_text(e.doc_id) if doc_text else None
            ws = words(e.quote)
            self.items.append(_Item(e.doc_id, ws, squash(e.quote)[0], _grams(ws),
                                    locate(e.quote, text) if text else None))

    @property
    def located(self) -> list[bool]:
        """Whether each evidence quote was found in its document's cleaned text."""
        return [it.span is not None for it in self.items]

    def matches(self, document_id: str, text: str, start: int | None = None, end: int | None = None) -> list[int]:
        """Numbers of the evidence items this passage (document, text, span in the cleaned text) matches."""
        out = []
        pw: list[str] | None = None
        ps: str | None = None
        for i, it in enumerate(self.items):
            if it.doc_id != document_id or not it.words:
                continue
            if ps is None or pw is None:
                ps, pw = squash(text)[0], words(text)
            if self._text_match(it, ps, pw) or self._span_match(it, start, end):
                out.append(self.item_of[i])
        return sorted(set(out))

    def _text_match(self, it: _Item, squashed: str, ws: list[str]) -> bool:
        if len(it.squashed) >= MIN_SQUASHED:
            if it.squashed in squashed:
                return True
        elif f" {' '.join(it.words)} " in f" {' '.join(ws)} ":
            return True
        if not it.grams:
            return False
        return len(it.grams & _grams(ws)) >= self.gram_share * len(it.grams)

    def _span_match(self, it: _Item, start: int | None, end: int | None) -> bool:
        if it.span is None or start is None or end is None or end <= start:
            return False
        qs, qe = it.span
        overlap = min(qe, end) - max(qs, start)
        if overlap <= 0:
            return False
        return overlap >= self.span_share * (qe - qs) or overlap >= self.span_share * (end - start)
