"""Extractive answers: verbatim sentences from the top passages, chosen for the question, each cited.

Passages are cut into sentence-like units (transcripts: sentences that may span a few lines, long
unpunctuated runs packed a few lines at a time; speaker labels, i.e. lines that are exactly a turn's
"speaker - h:mm:ss", agenda lines and web-page control labels are never quoted). Headings, titles and
"LABEL:" lines, units cut mid-sentence in cased text, short bracketed stage directions and a turn cut off
on a function word ("... I know the") are never quoted either.

Units are scored by `core.features` (the cosine to the question, rare question keywords, the
passage's retrieval score, whether the unit follows the one that echoes the question, numbers for
"how many / when" questions); the weights were fitted on the development set of other bodies' papers.
The best units are taken in score order, at most `max_per_source` from one passage and from at most
`max_sources` passages, skipping near-repeats; each is extended by the unit after it in its block
(the reply that follows a question, the figure that follows its lead-in), and units that meet in
one passage become one quote.

Abstention: the evidence score is the best unit's cosine to the question plus `coverage_weight`
times the share of the question's keywords (not the council, person or period it named) found in
the top passages. Below `abstain_below` the service says it found nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from common.language import ASKS_DECISION, FIELD_LABELS, NUMBER_WORDS, QUESTION_WORDS, STOPWORDS
from core.features import WEIGHTS, unit_features, weight_vector
from core.results import editorial
from indexer.models import Passage
from indexer.roles import parse_vote, records_decision
from indexer.sparse import tokenize
from indexer.units import (  # noqa: F401 - split_units and turn_labels are part of this module's interface
    LIST_POINT,
    is_break_line,
    split_blocks,
    split_units,
    turn_labels,
)

ANSWER_K = 10  # passages an answer is built from unless the request says otherwise
NOT_FOUND = "I couldn't find anything in the indexed papers that answers this."


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
    """The weights and limits of extractive answering: abstention, unit scores, how many quotes from where."""

    abstain_below: float = 0.83  # evidence score = best cosine + coverage_weight * keyword coverage
    coverage_weight: float = 0.5
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    max_quotes: int = 7  # units chosen before each is extended by its neighbour
    max_sources: int = 4
    max_per_source: int = 3
    extend_next: bool = True  # each chosen unit takes in the unit after it in its block
    near_repeat: float = 0.9  # a unit this close (cosine) to a chosen one is a repeat
    max_quote_chars: int = 700


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
    features: np.ndarray | None = None  # units x core.features.FEATURES, what the scores were made from


# -- scoring -----------------------------------------------------------------------------------


# Stems of the words that record or ask for a decision: a question's "decide" is met by the minutes'
# "RESOLVED" or "agreed", so they count as one keyword.
DECISION_STEMS = frozenset(("decid", "decis", "resolv", "resolut", "agre", "approv", "determin"))
_DECISION = "decis"
DECISION_TERM = _DECISION  # the one keyword every decision word of a question becomes ("decide", "resolved")


def asks_decision(question: str) -> bool:
    """Whether the question asks what was decided, agreed, approved, resolved or voted."""
    return bool(ASKS_DECISION.search(question))


def terms_of(texts: Sequence[str]) -> list[set[str]]:
    """Each text's stemmed words, the decision words as one."""
    return [{_DECISION if t in DECISION_STEMS else t for t in toks} for toks in tokenize(list(texts))]


def keywords(text: str, exclude: Sequence[str] = ()) -> set[str]:
    """Stemmed content words of a question, without question words and the named filters."""
    dropped = terms_of([" ".join(exclude)])[0] if exclude else set()
    return {t for t in terms_of([text])[0] if t not in QUESTION_WORDS and t not in dropped and len(t) > 1}


_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much|long|often|old|far|big|large)|what (?:proportion|percentage|share|number|amount|"
    r"year|date|month|time)|when|which (?:year|month|date))\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(r"\d|£|%|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
# Numbers that only say where a sentence is: a caption's time marker, an item, clause, page or line number.
_PLACE_NUMBER = re.compile(r"\[\d{1,2}:\d\d(?::\d\d)?\]|\b(?:item|minute|clause|section|page|line|paragraph|"
                           r"amendment|column|no\.?)\s+\d+[a-z]?\b|^\W*\(?\d+[a-z]?[.)]\s", re.IGNORECASE)


def holds_number(text: str) -> bool:
    """Whether a unit states a quantity, a date or a duration, not counting the numbers that only place it."""
    return bool(_HAS_NUMBER.search(_PLACE_NUMBER.sub(" ", text)))


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity, a date or a duration (its answer holds a number)."""
    return bool(_ASKS_NUMBER.search(question))


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
    passage_scores: Sequence[float] | None = None,
) -> Extraction:
    """The quotes from the passages that best answer the question, or an abstention.

    Units are scored by `core.features`; when the evidence score falls below `cfg.abstain_below` the
    result has `found=False` and no quotes. `passage_scores` are the passages' retrieval scores.
    """
    units = passage_units(passages)
    if not units:
        return Extraction()
    vecs = encode([u.text for u in units])
    cos = vecs @ question_vec
    unit_terms = terms_of([u.text for u in units])
    numbers = (np.array([holds_number(u.text) for u in units], dtype=np.float32)
               if asks_for_number(question) else np.zeros(len(units), dtype=np.float32))
    feats = unit_features(cos, unit_terms, question_terms, [u.text for u in units],
                          [u.passage_index for u in units], passage_scores, numbers)
    scores = feats @ weight_vector(cfg.weights)
    coverage = keyword_coverage(question_terms, passages)
    confidence = float(cos.max())
    evidence = confidence + cfg.coverage_weight * coverage
    if evidence < cfg.abstain_below:
        return Extraction(found=False, confidence=confidence, coverage=coverage, evidence=evidence, units=units,
                          features=feats)
    allowed = quotable(units, passages)
    picked = pick(scores, vecs, units, allowed, cfg, stretches(passages))
    chosen = _join(units, picked, scores, cos, allowed, cfg)
    return Extraction(chosen, bool(picked), confidence, coverage, evidence, units, feats)


STRETCH_GAP = 200  # characters between two passages of one document that still read as one stretch of it


def stretches(passages: Sequence[Passage]) -> list[int]:
    """For each passage, the stretch of its document it belongs to: passages of one document that overlap
    or nearly touch (overlapping chunks, the next chunk of a turn) are one stretch, one source of quotes."""
    out = list(range(len(passages)))
    order = sorted(range(len(passages)), key=lambda i: (passages[i].doc_id, passages[i].char_start))
    for a, b in zip(order, order[1:], strict=False):
        pa, pb = passages[a], passages[b]
        if pa.doc_id == pb.doc_id and pb.char_start <= pa.char_end + STRETCH_GAP:
            out[b] = out[a]
    return out


def pick(scores: np.ndarray, vecs: np.ndarray, units: Sequence[Unit], allowed: np.ndarray,
         cfg: AnswerConfig, stretch: Sequence[int] | None = None) -> list[int]:
    """The best units in score order: quotable ones only, no near-repeats, within the source limits (a unit
    next to or one apart from a chosen unit of its passage joins that quote rather than counting as one).
    A source is a stretch of one document (`stretches`; by default each passage is one)."""
    chosen: list[int] = []
    per_source: dict[int, int] = {}  # quotes (runs of neighbouring units) per source
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) >= cfg.max_quotes:
            break
        p = units[i].passage_index
        src = stretch[p] if stretch is not None else p
        joins = any(units[j].passage_index == p and abs(j - i) <= 2 for j in chosen)  # one quote with a chosen one
        if not allowed[i] or (not joins and per_source.get(src, 0) >= cfg.max_per_source) or \
                (src not in per_source and len(per_source) >= cfg.max_sources):
            continue
        if chosen and float(np.max(vecs[chosen] @ vecs[i])) > cfg.near_repeat:
            continue
        chosen.append(int(i))
        per_source[src] = per_source.get(src, 0) + (not joins)
    return chosen


def _join(units: list[Unit], picked: list[int], scores: np.ndarray, cos: np.ndarray, allowed: np.ndarray,
          cfg: AnswerConfig) -> list[Chosen]:
    """Quotes from the picked units, best first: each takes in the quotable unit after it in its block
    (within `max_quote_chars`; after a lead-in, the point it opens), and picked units that meet or overlap
    in one block become one quote."""
    covered: set[int] = set()
    for i in picked:
        last = i
        # Take in the next unit; a lead-in (":") so taken in reads on to its first point too.
        while cfg.extend_next and last + 1 < len(units) and (last == i or _leads_in(units[last])) and \
                _may_follow(units, allowed, last) and _fits(units[last], units[last + 1], cfg.max_quote_chars):
            last += 1
        covered.update(range(i, last + 1))
    runs: list[list[int]] = []
    for i in sorted(covered):
        if runs and i == runs[-1][-1] + 1 and _continues(units[runs[-1][-1]], units[i]):
            runs[-1].append(i)
        else:
            runs.append([i])
    out = []
    for run in runs:
        top = max((i for i in run if i in set(picked)), key=lambda i: scores[i])
        out.append(Chosen(units[run[0]], float(scores[top]), float(cos[top]), end=units[run[-1]].end))
    return sorted(out, key=lambda c: -c.score)


def _fits(a: Unit, b: Unit, limit: int) -> bool:
    """Whether `b` may join `a`'s quote: the two within `limit` characters, or, after a lead-in ending in
    ":" (which says nothing alone), `b` itself within it."""
    return b.end - (b.start if _leads_in(a) else a.start) <= limit


def _leads_in(u: Unit) -> bool:
    return leads_in(u.text)


def leads_in(text: str) -> bool:
    """Whether a text ends in a lead-in (":"), which says nothing until the point it opens."""
    return text.rstrip().endswith(":")


def _may_follow(units: Sequence[Unit], allowed: np.ndarray, i: int) -> bool:
    """Whether unit i + 1 may extend unit i's quote: it reads on from it and is quotable, or it is the rest
    of unit i's sentence (a long sentence cut in pieces, or the lower-case point a lead-in opens: not
    quotable alone, it opens in lower case), or the vote that closes unit i's motion."""
    a, b = units[i], units[i + 1]
    if not _continues(a, b):
        return False
    return bool(allowed[i + 1]) or ((_same_block(a, b) or _leads_in(a)) and _fragment(b.text)) or \
        (_same_block(a, b) and vote_line(b.text))


VOTE_LINE_CHARS = 120  # a vote record read with the motion before it is a line, not a paragraph


def vote_line(text: str) -> bool:
    """Whether a unit is a short record of a vote ("4 Votes for 1 Against Carried"), which is not quotable
    alone (it reads as a heading) but closes the motion before it."""
    return len(text) <= VOTE_LINE_CHARS and parse_vote(text) is not None


def _same_block(a: Unit, b: Unit) -> bool:
    return a.passage_index == b.passage_index and a.block == b.block


def _continues(a: Unit, b: Unit) -> bool:
    """Whether `b` reads on from `a`: the same block, or a lead-in ending in ":" and the list after it."""
    return _same_block(a, b) or (a.passage_index == b.passage_index and a.text.rstrip().endswith(":"))


MAX_LEAD_IN = 400  # characters looked back (or on) for the start (or end) of a sentence a chunk boundary cut


def starts_mid_sentence(text: str) -> bool:
    """Whether a passage opens inside a sentence: its first word is in lower case in cased text."""
    return text.lstrip()[:1].islower() and starts_cased(text)


def lead_in(before: str) -> str:
    """The end of `before` from the start of its last sentence: what a chunk boundary cut off the
    sentence that continues after it. A sentence starts after a sentence end or after a blank, speaker
    or agenda line; '' when none lies within `before` (no safe place to start the quote)."""
    start = -1
    for m in _SENTENCE_END_BEFORE.finditer(before):
        start = m.end()
    offset = 0
    for line in before.split("\n")[:-1]:  # the last piece runs on into the passage: not a whole line
        end = offset + len(line)
        if is_break_line(line) and end + 1 > start:
            start = end + 1
        offset = end + 1
    return before[start:] if 0 <= start <= len(before) else ""


def ends_mid_sentence(text: str) -> bool:
    """Whether a passage of cased, punctuated text stops inside a sentence (no closing punctuation)."""
    tail = text.rstrip()
    return bool(tail) and tail[-1] not in _CLOSERS and bool(_SENTENCE_END_BEFORE.search(text)) and starts_cased(text)


def starts_cased(text: str) -> bool:
    """Whether most sentences of the text open with a capital (not machine captions)."""
    return _cased(m.group(0) for m in re.finditer(r"(?<=[.!?]\s)\S+|^\S+", text))  # sentence starts, not line starts


def run_on(after: str) -> str:
    """The start of `after` up to the end of its first sentence: what a chunk boundary cut off the
    sentence a passage ends in; '' when no sentence end comes before a blank, speaker or agenda line."""
    offset = 0
    for n, line in enumerate(after.split("\n")):
        if n and is_break_line(line):  # the first piece runs on from the passage's last line
            return ""
        m = _SENTENCE_CLOSE.search(line)
        if m:
            return after[:offset + m.end()]
        offset += len(line) + 1
    return ""


LIST_REACH = 1000  # characters of list points taken in after a passage that ends in a lead-in ":"


def list_after(text: str, after: str) -> str:
    """Where `text` ends in a lead-in (":"), the start of `after` through the points of the list it opens
    ("a) ... BE APPROVED;", or the lower-case rest of the motion), while they fit in `LIST_REACH`
    characters; '' when `text` ends otherwise or no list point follows."""
    if not leads_in(text):
        return ""
    end = 0
    for m in re.finditer(r"\s*([^\n]+)", after):
        point = m.group(1)
        if m.end() > LIST_REACH or not (_LIST_MARKER.match(point) or (not end and point[:1].islower())):
            break
        end = m.end()
    return after[:end]


_SENTENCE_CLOSE = re.compile(r"[.!?][\"'”’)]*(?=\s|$)")
_SENTENCE_END_BEFORE = re.compile(r"[.!?][\"'”’)]*\s+")


def keyword_coverage(question_terms: set[str], passages: Sequence[Passage]) -> float:
    """Share of the question's keywords that occur anywhere in the passages (1.0 when it has none)."""
    if not question_terms:
        return 1.0
    seen: set[str] = set()
    for toks in terms_of([p.text for p in passages]):
        seen.update(toks)
    return len(question_terms & seen) / len(question_terms)


_LABEL = re.compile(r"^[^\w\n]*[A-Z][A-Z0-9 &/,()'’-]{1,40}:")
_FIELD_LABEL = re.compile(r"^[^\w\n]*(?:" + "|".join(map(re.escape, FIELD_LABELS)) + r")\b[^.:]{0,3}:")
_LINK = re.compile(r"^[^\w\n]*\[[^\]]*\]\(")  # a Markdown link line: "[2025-01-13 Staff Report](<https://...>)"
_CLOSERS = ".!?\"'”’)"
# A sentence's end: a full stop, "!" or "?", then perhaps closing quotes or brackets. A line that ends in
# a bracket alone ("Wereham Village Hall Committee (Chair)") has not ended a sentence.
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)]*\s*$")


CUT_OFF_WORDS = 12  # a short unit that stops on a function word was cut off: an interruption, a caption's end


def cut_off(text: str) -> bool:
    """A short unit that stops mid-sentence on a function word or a dash ("Councillor Evans on the subject
    alternative funding I know the", "... breaching something to --"): at the end of a turn, the speaker
    was interrupted or the caption cut, and it says nothing whole. A list point's "...; and" is not."""
    words = text.split()
    if not words or len(words) > CUT_OFF_WORDS:
        return False
    last = words[-1].rstrip(",").lower()
    if last in ("--", "-", "—", "–"):
        return True
    before = words[-2] if len(words) > 1 else ""
    return last in STOPWORDS and last.isalpha() and not before.endswith(";")


def is_heading(text: str) -> bool:
    """A heading, title or label rather than a sentence: mostly capitals; a "LABEL:" opening
    ("Subject:", "TITLE:", "RECOMMENDATIONS:"); or a short unpunctuated line in Title Case."""
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        return True
    if _LINK.match(text):
        return True
    if _LABEL.match(text) or _FIELD_LABEL.match(text):
        return True
    words = [w for w in text.split() if len(w) > 3]
    if not _ENDS_SENTENCE.search(text) and len(text.split()) < 14 and words:
        return sum(w[:1].isupper() for w in words) >= 0.6 * len(words)
    return False


def quotable(units: Sequence[Unit], passages: Sequence[Passage]) -> np.ndarray:
    """Which units may be quoted: no headings or link lines, and no unit cut mid-sentence in cased text
    (it starts in lower case). Uncased text (machine captions) keeps its lower-case units. The engine
    first gives a passage that a chunk boundary cut mid-sentence the rest of that sentence."""
    cased = {i: _cased(u.text for u in units if u.passage_index == i) for i in {u.passage_index for u in units}}
    return np.array([not is_heading(u.text) and not (cased[u.passage_index] and _fragment(u.text))
                     and not (_leads_in(u) and not _read_on(units, n)) and not stage_note(u.text)
                     and not (cut_off(u.text) and _turn_ends(units, n))
                     for n, u in enumerate(units)], dtype=bool)


STAGE_NOTE_WORDS = 6  # a stage direction is a few words; a longer note records proceedings (who was introduced)


def stage_note(text: str) -> bool:
    """A transcript's short bracketed stage direction ("[MS SUE GRAY (affirmed).]", "[Interruption.]"): the
    record's furniture, not an answer. A longer note ("[..., having been created Baroness O'Loan, ... was
    introduced ..., supported by ...]") records what happened, and a division or the question put is a
    decision line: both stay quotable."""
    return editorial(text) and len(text.split()) <= STAGE_NOTE_WORDS and not records_decision(text)


def _turn_ends(units: Sequence[Unit], n: int) -> bool:
    """Whether the block (turn, paragraph) of unit n ends with it and another starts in its passage: the
    speaker stopped there. A piece of a long unpunctuated run goes on in the next unit of its block."""
    return n + 1 < len(units) and units[n + 1].passage_index == units[n].passage_index and \
        units[n + 1].block != units[n].block


def _read_on(units: Sequence[Unit], n: int) -> bool:
    """Whether unit n has a unit after it in its passage (a lead-in ending in ":" with none is no answer)."""
    return n + 1 < len(units) and units[n + 1].passage_index == units[n].passage_index


_LIST_MARKER = LIST_POINT  # "a) the Civic Administration ...", "(ii) ..."


def _fragment(text: str) -> bool:
    """A unit that opens in lower case, other than a lettered list point."""
    return text[:1].islower() and not _LIST_MARKER.match(text)


def _cased(texts: Iterable[str]) -> bool:
    """Whether most units of a passage open with a capital: cased prose, not machine captions."""
    starts = [t[:1].isupper() for t in texts if t[:1].isalpha() and not _LIST_MARKER.match(t)]
    return bool(starts) and 2 * sum(starts) >= len(starts)




def best_unit_for(sentence: str, passage: Passage) -> tuple[int, int]:
    """The passage span that best supports a sentence (keyword overlap), for LLM citations."""
    spans = split_units(passage.text, turn_labels(passage)) or [(0, len(passage.text))]
    terms = set(tokenize([sentence])[0])
    scored = [(len(terms & set(tokenize([passage.text[s:e]])[0])), -i, (s, e)) for i, (s, e) in enumerate(spans)]
    return max(scored)[2]
