"""Extractive answers: verbatim sentences from the top passages, chosen for the question, each cited.

Passages are cut into sentence-like units (transcripts: sentences that may span a few lines, long
unpunctuated runs packed a few lines at a time; speaker and agenda lines are never quoted). Units
are scored by the embedding cosine to the question plus keyword overlap plus a small rank prior,
and chosen greedily with maximal marginal relevance so the answer does not repeat itself.

Abstention: the answer is given only when the best unit's cosine reaches `abstain_cosine` and some
keyword of the question (not a council or person the query named) appears in the evidence, or the
cosine reaches `confident_cosine` on its own. The two numbers were calibrated on the real model
(all-MiniLM-L6-v2) with eval/gold.jsonl; see the report in the service README section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.models import Passage
from indexer.sparse import tokenize

NOT_FOUND = "I couldn't find anything in the indexed papers that answers this."

_BREAK_LINE = re.compile(
    r"^\s*(?:$|-\s*$|.{1,80} - \d{1,2}:\d{2}:\d{2}\s*$|agenda item\s*:?\s*$|share this agenda point\s*$|#{1,6}\s)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•▪◦]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")
MAX_UNIT_CHARS = 320
MIN_UNIT_WORDS = 4
# Words that appear in almost every question about council papers and carry no topic.
_QUESTION_WORDS = frozenset(
    (
        "what", "whi", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "do", "doe", "does",
        "done", "is", "are", "was", "were", "be", "been", "has", "have", "had", "say", "said", "tell", "told", "talk",
        "discuss", "mention", "describ", "explain", "about", "the", "a", "an", "of", "to", "in", "on", "for", "and",
        "or", "council", "councillor", "cllr", "committe", "meet", "panel", "scrutini", "there", "their", "they",
        "it", "its", "this", "that", "these", "those", "any", "ani", "much", "mani", "mani", "can", "could", "should",
        "would", "will", "shall", "get", "got", "make", "made", "give", "given"
    )
)


@dataclass
class Unit:
    passage_index: int
    start: int  # offsets into the passage text
    end: int
    text: str


@dataclass
class AnswerConfig:
    abstain_cosine: float = 0.40
    confident_cosine: float = 0.60
    keyword_weight: float = 0.30
    max_sentences: int = 3
    mmr_lambda: float = 0.7
    keep_ratio: float = 0.8  # later sentences must score at least this share of the best


@dataclass
class Chosen:
    unit: Unit
    score: float
    cosine: float


@dataclass
class Extraction:
    chosen: list[Chosen] = field(default_factory=list)
    found: bool = False
    confidence: float = 0.0
    has_keyword: bool = False
    units: list[Unit] = field(default_factory=list)


# -- splitting ---------------------------------------------------------------------------------


def _lines(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append((pos, pos + len(raw)))
        pos += len(raw) + 1
    return out


def _blocks(text: str) -> list[tuple[int, int]]:
    """Runs of consecutive content lines; speaker, agenda and blank lines break them, bullets start one."""
    blocks: list[tuple[int, int]] = []
    cur: list[int] | None = None
    for s, e in _lines(text):
        line = text[s:e]
        if _BREAK_LINE.match(line) or line.lstrip().startswith("|"):
            if cur:
                blocks.append((cur[0], cur[1]))
            cur = None
            if line.lstrip().startswith("|"):
                blocks.append((s, e))
            continue
        if cur is None or _BULLET.match(line):
            if cur:
                blocks.append((cur[0], cur[1]))
            cur = [s, e]
        else:
            cur[1] = e
    if cur:
        blocks.append((cur[0], cur[1]))
    return blocks


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for m in _SENTENCE_END.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    return spans


def _pack_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """An unpunctuated run (ASR) cut at line breaks, then at spaces, into pieces of bounded length."""
    cuts = [start]
    last_break = start
    for i in range(start, end):
        if text[i] in "\n ":
            if i - cuts[-1] >= MAX_UNIT_CHARS and last_break > cuts[-1]:
                cuts.append(last_break)
            if text[i] == "\n" or i - cuts[-1] >= MAX_UNIT_CHARS:
                last_break = i + 1
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    m = _BULLET.match(text, s)
    if m and m.end() <= e:
        s = m.end()
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def split_units(text: str) -> list[tuple[int, int]]:
    """Quotable spans of a passage, in order; every span is an exact slice of `text`."""
    out = []
    for bs, be in _blocks(text):
        for ss, se in _sentences(text, bs, be):
            pieces = _pack_long(text, ss, se) if se - ss > MAX_UNIT_CHARS * 1.5 else [(ss, se)]
            for ps, pe in pieces:
                s, e = _trim(text, ps, pe)
                if len(text[s:e].split()) >= MIN_UNIT_WORDS:
                    out.append((s, e))
    return out


# -- scoring -----------------------------------------------------------------------------------


def keywords(text: str, exclude: Sequence[str] = ()) -> set[str]:
    """Stemmed content words of a question, without question words and the named filters."""
    dropped = set(tokenize([" ".join(exclude)])[0]) if exclude else set()
    return {t for t in tokenize([text])[0] if t not in _QUESTION_WORDS and t not in dropped and len(t) > 1}


def _overlap(q_terms: set[str], unit_terms: list[set[str]]) -> np.ndarray:
    if not q_terms:
        return np.zeros(len(unit_terms), dtype=np.float32)
    return np.array([len(q_terms & t) / len(q_terms) for t in unit_terms], dtype=np.float32)


def _mmr(scores: np.ndarray, cos: np.ndarray, vecs: np.ndarray, cfg: AnswerConfig) -> list[int]:
    order = list(np.argsort(-scores))
    chosen: list[int] = [int(order[0])]
    best = float(scores[order[0]])
    while len(chosen) < cfg.max_sentences:
        sims = vecs @ vecs[chosen].T
        mmr = cfg.mmr_lambda * scores - (1 - cfg.mmr_lambda) * sims.max(axis=1)
        mmr[chosen] = -np.inf
        nxt = int(np.argmax(mmr))
        if not np.isfinite(mmr[nxt]) or scores[nxt] < cfg.keep_ratio * best or cos[nxt] < cfg.abstain_cosine:
            break
        if sims[nxt].max() > 0.9:  # a near-repeat (transcripts often say things twice)
            break
        chosen.append(nxt)
    return chosen


def extract(
    question_vec: np.ndarray, question_terms: set[str], passages: Sequence[Passage],
    encode: Callable[[list[str]], np.ndarray], cfg: AnswerConfig,
) -> Extraction:
    units = [Unit(i, s, e, p.text[s:e]) for i, p in enumerate(passages) for s, e in split_units(p.text)]
    if not units:
        return Extraction()
    vecs = encode([u.text for u in units])
    cos = vecs @ question_vec
    unit_terms = [set(tokenize([u.text])[0]) for u in units]
    overlap = _overlap(question_terms, unit_terms)
    prior = np.array([0.03 / (1 + u.passage_index) for u in units], dtype=np.float32)
    scores = cos + cfg.keyword_weight * overlap + prior
    best = int(np.argmax(scores))
    confidence = float(cos.max())
    has_keyword = bool(question_terms) and bool(overlap.max() > 0)
    found = (confidence >= cfg.abstain_cosine and (has_keyword or not question_terms)) \
        or confidence >= cfg.confident_cosine
    if not found:
        return Extraction(found=False, confidence=confidence, has_keyword=has_keyword, units=units)
    picked = _mmr(scores, cos, vecs, cfg) if cfg.max_sentences > 1 else [best]
    chosen = [Chosen(units[i], float(scores[i]), float(cos[i])) for i in picked]
    return Extraction(chosen, True, confidence, has_keyword, units)


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def best_unit_for(sentence: str, passage: Passage) -> tuple[int, int]:
    """The passage span that best supports a sentence (keyword overlap), for LLM citations."""
    spans = split_units(passage.text) or [(0, len(passage.text))]
    terms = set(tokenize([sentence])[0])
    scored = [(len(terms & set(tokenize([passage.text[s:e]])[0])), -i, (s, e)) for i, (s, e) in enumerate(spans)]
    return max(scored)[2]
