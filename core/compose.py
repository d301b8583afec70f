"""From chosen quotes to a cited answer shaped for reading: a lead line, then attributed quotes.

`core.answer` picks the quotes; this module groups them by the passage they come from, numbers the
passages [1], [2]... with the source that answers best first, and writes

    From <council>, <meeting>, <date> [1]; <council>, <meeting>, <date> [2].
    Alison Hinds, 1:08:09: "<quote>" [1]
    "<quote>" [2]

Each source's quotes stay in the source's own order. Each is shown as `core.display.readable` writes it
(spacing repaired, "85 millioncapital" split, captions' "[h:mm:ss]" markers out, the quote's time beside
it); each citation keeps the exact characters of the document and their offsets. One `AnswerCitation`
per passage carries all its quotes.
"""

from __future__ import annotations

from common.dates import long_date
from core import answer as ans
from core.display import readable
from core.llm import LlmAnswer
from core.results import AnswerCitation, Quote, quote_of
from indexer.models import Passage

Ranked = list[tuple[Passage, int, float]]  # (passage, rank, retrieval score)

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
