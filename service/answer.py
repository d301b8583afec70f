"""Extractive answers: verbatim sentences from the top passages, chosen for the question, each cited.

Passages are cut into sentence-like units (transcripts: sentences that may span a few lines, long
unpunctuated runs packed a few lines at a time; speaker and agenda lines are never quoted). Units
are scored by the embedding cosine to the question plus keyword overlap plus a small rank prior,
and chosen greedily with maximal marginal relevance so the answer does not repeat itself.

Abstention: the evidence score is the best unit's cosine to the question plus `coverage_weight`
times the share of the question's keywords (not the council, person or period it named) found in
the top passages. Below `abstain_below` the service says it found nothing. The two numbers were
calibrated on the real model (all-MiniLM-L6-v2) against eval/gold.jsonl (`python -m service.calibrate`).
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
_FRAGMENT_PENALTY = 0.1
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
    abstain_below: float = 0.84  # evidence score = best cosine + coverage_weight * keyword coverage
    coverage_weight: float = 0.5
    keyword_weight: float = 0.30
    max_sentences: int = 4
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
    coverage: float = 0.0
    evidence: float = 0.0
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
        if not np.isfinite(mmr[nxt]) or scores[nxt] < cfg.keep_ratio * best:
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
    scores = cos + cfg.keyword_weight * overlap + prior - _FRAGMENT_PENALTY * _fragments(units, passages)
    coverage = keyword_coverage(question_terms, passages)
    confidence = float(cos.max())
    evidence = confidence + cfg.coverage_weight * coverage
    if evidence < cfg.abstain_below:
        return Extraction(found=False, confidence=confidence, coverage=coverage, evidence=evidence, units=units)
    picked = _mmr(scores, cos, vecs, cfg) if cfg.max_sentences > 1 else [int(np.argmax(scores))]
    chosen = [Chosen(units[i], float(scores[i]), float(cos[i])) for i in picked]
    return Extraction(chosen, True, confidence, coverage, evidence, units)


def keyword_coverage(question_terms: set[str], passages: Sequence[Passage]) -> float:
    """Share of the question's keywords that occur anywhere in the passages (1.0 when it has none)."""
    if not question_terms:
        return 1.0
    seen: set[str] = set()
    for toks in tokenize([p.text for p in passages]):
        seen.update(toks)
    return len(question_terms & seen) / len(question_terms)


def _fragments(units: list[Unit], passages: Sequence[Passage]) -> np.ndarray:
    """1 for a unit cut by a chunk boundary: starts the passage in lower case, or ends it unpunctuated."""
    out = np.zeros(len(units), dtype=np.float32)
    for i, u in enumerate(units):
        text = passages[u.passage_index].text
        head_cut = u.start == len(text) - len(text.lstrip()) and u.text[:1].islower()
        tail_cut = u.end == len(text.rstrip()) and u.text[-1:] not in ".!?\"'”’)"
        out[i] = float(head_cut or tail_cut)
    return out


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def best_unit_for(sentence: str, passage: Passage) -> tuple[int, int]:
    """The passage span that best supports a sentence (keyword overlap), for LLM citations."""
    spans = split_units(passage.text) or [(0, len(passage.text))]
    terms = set(tokenize([sentence])[0])
    scored = [(len(terms & set(tokenize([passage.text[s:e]])[0])), -i, (s, e)) for i, (s, e) in enumerate(spans)]
    return max(scored)[2]
