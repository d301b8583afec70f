"""A passage's context: the fields marked `context` in the field table, written beside its text for search.

A chunk of minutes rarely repeats the council, the meeting or the agenda item it falls under, and a
turn of a transcript never names its own speaker. BM25 (and, when `context_dense` is set, the
embedder) therefore reads `context line + text`, so "Stoke Ferry precept" or "what did the Minister
for Employment say" can match the passage whose own words do not say it. The passage's text, offsets
and citations are unchanged: only what each retriever reads differs.
"""

from __future__ import annotations

from common.fields import CONTEXT_FIELDS
from indexer.models import Passage
from indexer.structure import TIME_MARK

# A long title or heading must not outweigh the passage: BM25 normalises by length, and the embedder
# reads only its first 256 tokens.
MAX_CONTEXT_WORDS = 40


def context_values(p: Passage) -> list[str]:
    """The passage's context values in table order, each once; one already inside another is dropped."""
    out: list[str] = []
    for f in CONTEXT_FIELDS:
        values = (p.speakers or [p.speaker]) if f.filter == "speaker" else [getattr(p, f.name)]
        for v in values:
            text = " ".join(str(v).split()) if v is not None else ""
            if text and not any(text.lower() in have.lower() for have in out):
                out = [have for have in out if have.lower() not in text.lower()] + [text]
    return out


def context_line(p: Passage) -> str:
    """The context values joined into one line of at most `MAX_CONTEXT_WORDS` words."""
    words = " · ".join(context_values(p)).split()
    return " ".join(words[:MAX_CONTEXT_WORDS])


# "[0:09:48]" markers of a timestamped transcript: the passage's time is a citation field already, and
# the digits are noise to BM25 and take the embedder's tokens.


def searchable_text(p: Passage, with_context: bool) -> str:
    """What a retriever reads of the passage: its text without time markers, after its context line and a
    newline when `with_context`."""
    text = TIME_MARK.sub("", p.text) if "[" in p.text else p.text
    line = context_line(p) if with_context else ""
    return f"{line}\n{text}" if line else text
