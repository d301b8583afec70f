"""Extractive answers: verbatim sentences from the top passages, chosen for the question, each cited.

Passages are cut into sentence-like units (transcripts: sentences that may span a few lines, long
unpunctuated runs packed a few lines at a time; speaker labels, i.e. lines that are exactly a turn's
"speaker - h:mm:ss", agenda lines and web-page control labels are never quoted). Units are scored
by the embedding cosine to the question plus keyword overlap, a bonus when the question asks for a
number or date and the unit holds one, a small bonus for text that several retrieved passages share,
minus a penalty for fragments (a unit that starts mid-sentence, cut by a chunk or turn boundary).
The best unit leads; the rest are chosen greedily with maximal marginal relevance (plus a bonus for
question keywords not yet covered) so the answer does not repeat itself. A chosen unit that is a
fragment or very short is extended by its neighbour in the same turn, and chosen units that are
adjacent in one passage become a single quote.

Abstention: the evidence score is the best unit's cosine to the question plus `coverage_weight`
times the share of the question's keywords (not the council, person or period it named) found in
the top passages. Below `abstain_below` the service says it found nothing. The two numbers were
calibrated on the real model (all-MiniLM-L6-v2) against eval/gold.jsonl (`python -m evaluation.calibrate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from common.language import NUMBER_WORDS, QUESTION_WORDS
from indexer.models import Passage
from indexer.sparse import tokenize
from indexer.units import (  # noqa: F401 - split_units and turn_labels are part of this module's interface
    split_blocks,
    split_units,
    turn_labels,
)

NOT_FOUND = "I couldn't find anything in the indexed papers that answers this."

_FRAGMENT_PENALTY = 0.1


@dataclass
class Unit:
    """A quotable sentence-like span of one retrieved passage, with its block and how many passages hold it."""

    passage_index: int
    start: int  # offsets into the passage text
    end: int
    text: str
    block: int = 0  # units of one block (turn or paragraph) are neighbours
    support: int = 1  # how many of the retrieved passages hold this very span (overlapping chunks)


@dataclass
class AnswerConfig:
    """The weights and thresholds of extractive answering: abstention, scoring, MMR selection, quote length."""

    abstain_below: float = 0.85  # evidence score = best cosine + coverage_weight * keyword coverage
    coverage_weight: float = 0.5
    keyword_weight: float = 0.30
    max_sentences: int = 5
    mmr_lambda: float = 0.7
    keep_ratio: float = 0.65  # later sentences must score at least this share of the best
    new_keyword_weight: float = 0.15  # MMR bonus for question keywords no chosen sentence has yet
    answer_type_weight: float = 0.08  # "how many / when" questions: units holding a number or date
    support_weight: float = 0.02  # per extra retrieved passage holding the same span
    fragment_penalty: float = 0.15
    short_words: int = 10  # a chosen unit shorter than this is extended by its next neighbour
    max_quote_chars: int = 600


@dataclass
class Chosen:
    """A quote for the answer: its first unit, its score and cosine, and where it ends once extended or merged."""

    unit: Unit
    score: float
    cosine: float
    end: int = -1  # end of the quote in the passage text when it was extended or merged; -1: unit.end

    @property
    def start(self) -> int:
        """Where the quote starts in the passage text."""
        return self.unit.start

    @property
    def stop(self) -> int:
        """Where the quote ends in the passage text: `end` when extended or merged, else the unit's end."""
        return self.end if self.end >= 0 else self.unit.end


@dataclass
class Extraction:
    """The outcome of `extract`: the chosen quotes, whether the evidence sufficed, its scores and the units seen."""

    chosen: list[Chosen] = field(default_factory=list)
    found: bool = False
    confidence: float = 0.0
    coverage: float = 0.0
    evidence: float = 0.0
    units: list[Unit] = field(default_factory=list)


# -- scoring -----------------------------------------------------------------------------------


def keywords(text: str, exclude: Sequence[str] = ()) -> set[str]:
    """Stemmed content words of a question, without question words and the named filters."""
    dropped = set(tokenize([" ".join(exclude)])[0]) if exclude else set()
    return {t for t in tokenize([text])[0] if t not in QUESTION_WORDS and t not in dropped and len(t) > 1}


def _incidence(q_terms: Sequence[str], unit_terms: list[set[str]]) -> np.ndarray:
    """units x keywords: 1 where the unit holds the keyword."""
    m = np.zeros((len(unit_terms), len(q_terms)), dtype=np.float32)
    for j, term in enumerate(q_terms):
        m[:, j] = [term in t for t in unit_terms]
    return m


def _overlap(q_terms: set[str], unit_terms: list[set[str]]) -> np.ndarray:
    if not q_terms:
        return np.zeros(len(unit_terms), dtype=np.float32)
    return _incidence(sorted(q_terms), unit_terms).sum(axis=1) / len(q_terms)


_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much|long|often|old|far|big|large)|what (?:proportion|percentage|share|number|amount|"
    r"year|date|month|time)|when|which (?:year|month|date))\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(r"\d|£|%|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity, a date or a duration (its answer holds a number)."""
    return bool(_ASKS_NUMBER.search(question))


def _mmr(scores: np.ndarray, vecs: np.ndarray, q_terms: set[str], unit_terms: list[set[str]],
         cfg: AnswerConfig) -> list[int]:
    """Best unit first, then maximal marginal relevance with a bonus for question keywords not yet covered."""
    first = int(np.argmax(scores))
    chosen: list[int] = [first]
    best = float(scores[first])
    has = _incidence(sorted(q_terms), unit_terms) if q_terms else np.zeros((len(scores), 0), dtype=np.float32)
    uncovered = 1.0 - has[first]
    banned = np.zeros(len(scores), dtype=bool)
    banned[first] = True
    banned |= scores < cfg.keep_ratio * best
    sims = vecs @ vecs[first]
    while len(chosen) < cfg.max_sentences:
        banned |= sims > 0.9  # near-repeats (transcripts often say things twice; overlapping chunks)
        gain = has @ uncovered / len(q_terms) if q_terms else 0.0
        mmr = cfg.mmr_lambda * scores - (1 - cfg.mmr_lambda) * sims + cfg.new_keyword_weight * gain
        mmr[banned] = -np.inf
        nxt = int(np.argmax(mmr))
        if not np.isfinite(mmr[nxt]):
            break
        chosen.append(nxt)
        banned[nxt] = True
        uncovered *= 1.0 - has[nxt]
        sims = np.maximum(sims, vecs @ vecs[nxt])
    return chosen


def passage_units(passages: Sequence[Passage]) -> list[Unit]:
    """Units of all passages; a span of the document held by several (overlapping) passages appears once,
    under the best-ranked one, with `support` counting them."""
    units: list[Unit] = []
    seen: dict[tuple[str, int, int], Unit] = {}
    for i, p in enumerate(passages):
        for s, e, b in split_blocks(p.text, turn_labels(p)):
            key = (p.doc_id, p.char_start + s, p.char_start + e)
            if key in seen:
                seen[key].support += 1
                continue
            seen[key] = u = Unit(i, s, e, p.text[s:e], b)
            units.append(u)
    return units


def extract(
    question_vec: np.ndarray, question_terms: set[str], passages: Sequence[Passage],
    encode: Callable[[list[str]], np.ndarray], cfg: AnswerConfig, question: str = "",
) -> Extraction:
    """The quotes from the passages that best answer the question, or an abstention.

    Units are scored against the question (cosine, keywords, numbers, shared spans, fragments); when the
    evidence score falls below `cfg.abstain_below` the result has `found=False` and no quotes.
    """
    units = passage_units(passages)
    if not units:
        return Extraction()
    vecs = encode([u.text for u in units])
    cos = vecs @ question_vec
    unit_terms = [set(t) for t in tokenize([u.text for u in units])]
    overlap = _overlap(question_terms, unit_terms)
    prior = np.array([0.03 / (1 + u.passage_index) + cfg.support_weight * (u.support - 1) for u in units],
                     dtype=np.float32)
    numbers = (np.array([bool(_HAS_NUMBER.search(u.text)) for u in units], dtype=np.float32)
               if asks_for_number(question) else np.zeros(len(units), dtype=np.float32))
    scores = (cos + cfg.keyword_weight * overlap + prior + cfg.answer_type_weight * numbers
              - cfg.fragment_penalty * _fragments(units, passages))
    coverage = keyword_coverage(question_terms, passages)
    confidence = float(cos.max())
    evidence = confidence + cfg.coverage_weight * coverage
    if evidence < cfg.abstain_below:
        return Extraction(found=False, confidence=confidence, coverage=coverage, evidence=evidence, units=units)
    picked = (_mmr(scores, vecs, question_terms, unit_terms, cfg) if cfg.max_sentences > 1
              else [int(np.argmax(scores))])
    chosen = _join(units, picked, scores, cos, passages, cfg)
    return Extraction(chosen, True, confidence, coverage, evidence, units)


def _join(units: list[Unit], picked: list[int], scores: np.ndarray, cos: np.ndarray,
          passages: Sequence[Passage], cfg: AnswerConfig) -> list[Chosen]:
    """Quotes from the picked units, in order of choice: a fragment or very short unit takes in its next
    neighbour in the same block; picked units that are neighbours in one block become one quote."""
    nxt: dict[int, int] = {}
    for i, (a, b) in enumerate(zip(units, units[1:], strict=False)):
        if a.passage_index == b.passage_index and a.block == b.block:
            nxt[i] = i + 1
    prev = {v: k for k, v in nxt.items()}
    picked_set = set(picked)
    owner: dict[int, Chosen] = {}  # unit index -> the quote that holds it
    out: list[Chosen] = []
    for i in picked:
        if i in owner:
            continue
        # extend backwards into earlier picked neighbours that are not yet quoted
        first = i
        while prev.get(first) in picked_set and prev[first] not in owner:
            first = prev[first]
        last = i
        while nxt.get(last) in picked_set and nxt[last] not in owner:
            last = nxt[last]
        u_last = units[last]
        short = len(units[i].text.split()) < cfg.short_words or units[last].text[-1:] not in ".!?\"'”’)"
        if short and last in nxt and nxt[last] not in owner:
            cand = nxt[last]
            if units[cand].end - units[first].start <= cfg.max_quote_chars:
                last = cand
                u_last = units[last]
        ch = Chosen(units[first], float(scores[i]), float(cos[i]), end=u_last.end)
        k = first
        while True:
            owner[k] = ch
            if k == last:
                break
            k = nxt[k]
        out.append(ch)
    return out


def keyword_coverage(question_terms: set[str], passages: Sequence[Passage]) -> float:
    """Share of the question's keywords that occur anywhere in the passages (1.0 when it has none)."""
    if not question_terms:
        return 1.0
    seen: set[str] = set()
    for toks in tokenize([p.text for p in passages]):
        seen.update(toks)
    return len(question_terms & seen) / len(question_terms)


def _fragments(units: list[Unit], passages: Sequence[Passage]) -> np.ndarray:
    """1 for a unit cut mid-sentence: it starts in lower case where its block begins (a chunk or speaker
    turn cut the sentence), or it ends the passage unpunctuated."""
    out = np.zeros(len(units), dtype=np.float32)
    for i, u in enumerate(units):
        text = passages[u.passage_index].text
        block_start = i == 0 or units[i - 1].passage_index != u.passage_index or units[i - 1].block != u.block
        head_cut = block_start and u.text[:1].islower()
        tail_cut = u.end == len(text.rstrip()) and u.text[-1:] not in ".!?\"'”’)"
        out[i] = float(head_cut or tail_cut)
    return out


_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """The text with every run of whitespace (newlines included) made one space, stripped."""
    return _SPACES.sub(" ", text).strip()


def best_unit_for(sentence: str, passage: Passage) -> tuple[int, int]:
    """The passage span that best supports a sentence (keyword overlap), for LLM citations."""
    spans = split_units(passage.text, turn_labels(passage)) or [(0, len(passage.text))]
    terms = set(tokenize([sentence])[0])
    scored = [(len(terms & set(tokenize([passage.text[s:e]])[0])), -i, (s, e)) for i, (s, e) in enumerate(spans)]
    return max(scored)[2]
