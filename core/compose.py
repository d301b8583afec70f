"""From chosen quotes to a cited answer shaped for reading: a lead line, then attributed quotes.

`core.answer` picks the quotes; this module groups them by the passage they come from, numbers the
passages [1], [2]... with the source that answers best first, and writes

    From <council>, <meeting>, <date> [1]; <council>, <meeting>, <date> [2].
    Alison Hinds, 1:08:09: "<quote>" [1]
    "<quote>" [2]

Each source's quotes stay in the source's own order. What is shown has spacing artefacts of captioned
or extracted text repaired ("11 .2 million", "post -16", "theSwiss", "85 millioncapital"); each citation keeps the exact
characters of the document and their offsets; a caption's "[h:mm:ss]" markers are not shown inside a
quote, whose time (that of the last marker before it) is written beside it. One `AnswerCitation` per
passage carries all its quotes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from common.dates import long_date
from core import answer as ans
from core.llm import LlmAnswer
from core.results import AnswerCitation, Quote, quote_of
from indexer.models import Passage
from indexer.structure import TIME_MARK

Ranked = list[tuple[Passage, int, float]]  # (passage, rank, retrieval score)

_REPAIRS = (
    (TIME_MARK, ""),  # a caption's "[0:07:40]": the quote's time is shown beside it
    (re.compile(r"(?<=\d) \.(?=\d)"), "."),  # "11 .2 million": a decimal point split off by captions
    (re.compile(r"(?<=\w) -(?=\w)"), "-"),  # "post -16", "25 -26": a hyphen split off
    (re.compile(r"(?<=[a-z]{2})(?=[A-Z][a-z])"), " "),  # "theSwiss", "knowthe Cllr": words run together
    (re.compile(r"(?<=\b[A-Za-z][a-z]{2})(?=\d)"), " "),  # "Wow24": a word run into a number
)


def readable(text: str) -> str:
    """The text on one line with spacing artefacts repaired and captions' time markers taken out; only
    spaces and those markers are removed or added."""
    out = ans.one_line(text)
    for pattern, repl in _REPAIRS:
        out = pattern.sub(repl, out)
    return _LONG_LOWER.sub(lambda m: split_run_together(m.group(0)), out)


_LONG_LOWER = re.compile(r"\b[a-z]{6,}\b")
# A split is kept only when every part is a common word, and a short part a very common one, so an
# unknown name or a misheard word ("tradies", "unsend", "offstead") is left as it is.
MIN_PART_COUNT = 5e6  # occurrences in wordsegment's English unigram table (about 10^12 words of web text)
MIN_SHORT_PART_COUNT = 1e8  # for parts of one to three letters: "we", "in", "the", "our"


@functools.cache
def _words() -> tuple[dict[str, float], Callable[[str], list[str]]]:
    import wordsegment

    wordsegment.load()  # about 0.7 s, once per process
    return wordsegment.UNIGRAMS, wordsegment.segment


def warm() -> None:
    """Load the word table now (the service does at start-up), not in the first answer."""
    _words()


def split_run_together(word: str) -> str:
    """A lower-case word that captions ran together ("millioncapital", "weneed") as the words it is made
    of; any word English knows, and any split into uncommon parts, is returned unchanged."""
    counts, segment = _words()
    if word in counts:
        return word
    parts = segment(word)
    if len(parts) < 2 or "".join(parts) != word:
        return word
    if all(counts.get(w, 0.0) >= (MIN_SHORT_PART_COUNT if len(w) <= 3 else MIN_PART_COUNT) for w in parts):
        return " ".join(parts)
    return word


def cite(n: int, ranked: Ranked, idx: int, spans: list[tuple[int, int]]) -> AnswerCitation:
    """Citation `n` of passage `ranked[idx]`, quoting `spans` (offsets in its text; the first is the best)."""
    p, rank, score = ranked[idx]
    best = quote_of(p, *spans[0])
    quotes = [quote_of(p, s, e) for s, e in sorted(set(spans))]
    return AnswerCitation(n, p, rank, score, best, quotes)


def meeting(p: Passage) -> str:
    """The meeting (committee, else the document's title) and the date of a passage."""
    return ", ".join(b for b in (p.committee or p.title, long_date(p.date)) if b) or p.doc_id


def lead_line(citations: list[AnswerCitation]) -> str:
    """"From <council>: <meeting, date> [1][3]; <meeting, date> [2]. <council>: ... [4].", councils in
    the order of their first source."""
    by_council: dict[str, dict[str, list[int]]] = {}
    for c in citations:
        by_council.setdefault(c.passage.council or "", {}).setdefault(meeting(c.passage), []).append(c.n)
    parts = []
    for council, meetings in by_council.items():
        listed = "; ".join(f"{m} " + "".join(f"[{n}]" for n in ns) for m, ns in meetings.items())
        parts.append(f"{council}: {listed}" if council else listed)
    return "From " + ". ".join(parts) + "."


def attributed(q: Quote, n: int) -> str:
    """'Speaker, h:mm:ss: "quote" [n]', without the parts the quote's turn does not have."""
    who = ", ".join(b for b in (q.speaker, q.timestamp) if b)
    return f'{who + ": " if who else ""}"{readable(q.text)}" [{n}]'


def extractive(ex: ans.Extraction, ranked: Ranked) -> tuple[str, list[AnswerCitation]]:
    """The answer text and one citation per quoted passage, numbered in the order the answer shows them
    (the source of the best quote first). A question about what was decided is answered by `core.parts`."""
    citations: list[AnswerCitation] = []
    for n, idx in enumerate(dict.fromkeys(ch.unit.passage_index for ch in ex.chosen), start=1):
        spans = [(ch.start, ch.stop) for ch in ex.chosen if ch.unit.passage_index == idx]  # best first
        citations.append(cite(n, ranked, idx, spans))
    return answer_text(citations), citations


def answer_text(citations: list[AnswerCitation]) -> str:
    """A lead line naming each source, then every quote attributed, source by source in document order."""
    if not citations:
        return ""
    lines = [attributed(q, c.n) for c in citations for q in c.quotes]
    return "\n".join([lead_line(citations), *lines])


def from_llm(got: LlmAnswer, ranked: Ranked) -> list[AnswerCitation]:
    """Citations of a language model's answer: each cited passage quoted where it best supports it."""
    return [cite(n, ranked, idx, [ans.best_unit_for(said, ranked[idx][0])])
            for n, (idx, said) in enumerate(got.cited, start=1)]
