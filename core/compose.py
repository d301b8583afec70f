"""From chosen sentences to a cited answer: markers, citations and quotes.

`core.answer` picks the sentences; this module numbers the passages they come from in order of
first use and builds one `AnswerCitation` per passage with all its quotes.
"""

from __future__ import annotations

from core import answer as ans
from core.llm import LlmAnswer
from core.results import AnswerCitation, quote_of
from indexer.models import Passage

Ranked = list[tuple[Passage, int, float]]  # (passage, rank, retrieval score)


def cite(n: int, ranked: Ranked, idx: int, spans: list[tuple[int, int]]) -> AnswerCitation:
    """Citation `n` of passage `ranked[idx]`, quoting `spans` (offsets in its text; the first is the best)."""
    p, rank, score = ranked[idx]
    best = quote_of(p, *spans[0])
    quotes = [quote_of(p, s, e) for s, e in sorted(set(spans))]
    return AnswerCitation(n, p, rank, score, best, quotes)


def extractive(ex: ans.Extraction, ranked: Ranked) -> tuple[str, list[AnswerCitation]]:
    """One citation per passage, numbered in order of first use; its sentences share the marker."""
    numbers: dict[int, int] = {}
    quotes: dict[int, list[tuple[float, int, int]]] = {}
    parts: list[tuple[str, int]] = []
    for ch in ex.chosen:
        idx = ch.unit.passage_index
        n = numbers.setdefault(idx, len(numbers) + 1)
        quotes.setdefault(idx, []).append((ch.score, ch.start, ch.stop))
        parts.append((ans.one_line(ranked[idx][0].text[ch.start:ch.stop]), n))
    citations = [cite(n, ranked, idx, [(s, e) for _, s, e in quotes[idx]]) for idx, n in numbers.items()]
    return join_parts(parts), citations


def from_llm(got: LlmAnswer, ranked: Ranked) -> list[AnswerCitation]:
    """Citations of a language model's answer: each cited passage quoted where it best supports it."""
    return [cite(n, ranked, idx, [ans.best_unit_for(said, ranked[idx][0])])
            for n, (idx, said) in enumerate(got.cited, start=1)]


def join_parts(parts: list[tuple[str, int]]) -> str:
    """"A [1] B [2]"; consecutive sentences from one passage carry its marker once, after the last."""
    out = []
    for i, (text, n) in enumerate(parts):
        last_of_run = i + 1 == len(parts) or parts[i + 1][1] != n
        out.append(f"{text} [{n}]" if last_of_run else text)
    return " ".join(out)
