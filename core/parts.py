"""Answers that keep decided, proposed and said apart, for questions about what a council decided.

    From Trafford Council: Children's Scrutiny Committee [1].
    Decided:
    "RESOLVED: 1) That the report be noted. 2) That a further update be submitted in six months time." [1]
    Proposed: no recommendation is recorded in the indexed papers.
    Said:
    "Councillor Parker asked a question regarding ambition 6 on domestic abuse. ..." [1]

Decided quotes the resolutions, motions and outcome lines of decision passages (`indexer.roles`),
minutes first; Proposed the recommendations of reports; Said the quotes chosen for the question that
are neither. A decision or recommendation passage is used only where it falls under the same agenda
item of the same paper as a chosen quote, or holds at least half the question's keywords, so a
resolution about another matter in the same top passages is not quoted as the answer. In a paper
without agenda items (a debate's transcript) the passage holding the first decision line after a chosen
quote counts as under the same item: the division that ends the debate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from core import answer as ans
from core.compose import Ranked, attributed, cite, lead_line
from core.results import AnswerCitation
from indexer.models import Passage
from indexer.roles import parse_vote, records_decision, records_outcome, records_recommendation
from indexer.structure import opens_decision

PARTS: tuple[str, ...] = ("decided", "proposed", "said")
LABELS = {"decided": "Decided", "proposed": "Proposed", "said": "Said"}
MISSING = {"decided": "no decision is recorded in the indexed papers.",
           "proposed": "no recommendation is recorded in the indexed papers.",
           "said": "nothing else said about it was found in the indexed papers."}
MAX_SOURCES = 2  # decision (and recommendation) passages quoted per part
MAX_SPAN_CHARS = 900  # a resolution with its numbered points, not a page of them
MIN_COVERAGE = 0.5  # share of the question's keywords an unrelated decision passage must hold

Spans = list[tuple[int, int]]
DecisionPassages = Mapping[str, Sequence[Passage]]  # doc_id -> its decision passages, in reading order
Closing = Mapping[str, set[int]]  # doc_id -> where the first decision line after a chosen quote starts


def _runs(p: Passage, accepts: Callable[[str], bool]) -> Spans:
    """Spans of `p.text` made of adjacent units that `accepts` takes (a resolution's numbered points are
    one run), each widened to a decision opener line ("RESOLVED:") just above it, or from a bare vote call
    back to the motion before it (`_motion_before`), and ended at the last whole unit within
    `MAX_SPAN_CHARS`. An outcome line that opens the passage before another run is the previous motion's
    (chunks overlap), and is left out."""
    runs: list[list[ans.Unit]] = []
    joined = False  # whether the unit before was taken, so this one may continue its run
    units = ans.passage_units([p])
    for u in units:
        if not accepts(u.text):
            joined = False
            continue
        if runs and joined and not p.text[runs[-1][-1].end:u.start].strip():
            if u.end - runs[-1][0].start <= MAX_SPAN_CHARS:
                runs[-1].append(u)
        else:
            runs.append([u])
        joined = True
    if len(runs) > 1 and all(records_outcome(u.text) for u in runs[0]):
        runs = runs[1:]
    return [(_opener_above(p.text, _motion_before(units, r)), r[-1].end) for r in runs]


BARE_CALL_WORDS = 8  # a run shorter than this ("All in favor?", "Carried.") says nothing of what was decided


def _motion_before(units: Sequence[ans.Unit], run: Sequence[ans.Unit]) -> int:
    """Where a run's quote starts: a bare vote call or outcome takes in the units before it in its block
    (the motion it decides: "7D, approve the STEM grant ... So moved. Second. ... All in favor?"), within
    `MAX_SPAN_CHARS`; any other run starts where it starts."""
    start = run[0].start
    if sum(len(u.text.split()) for u in run) >= BARE_CALL_WORDS:
        return start
    i = units.index(run[0])
    taken = 0
    while i > 0 and taken < 2:
        prev = units[i - 1]
        if prev.block != run[0].block or run[-1].end - prev.start > MAX_SPAN_CHARS or ans.is_heading(prev.text):
            break
        start, i, taken = prev.start, i - 1, taken + 1
    return start


def _opener_above(text: str, start: int) -> int:
    """Where the quote begins once a short opener line above it ("RESOLVED:", "Agreed:") is taken in."""
    head = text[:start].rstrip()
    line_start = head.rfind("\n") + 1
    line = head[line_start:]
    return line_start if line and len(line.split()) <= 3 and opens_decision(line) else start


def _related(p: Passage, quoted: Sequence[Passage], terms: set[str], closing: Closing | None = None) -> bool:
    """A decision passage that belongs with the quotes chosen for the question, or is about its words."""
    if p.agenda_item and any(q.doc_id == p.doc_id and q.agenda_item == p.agenda_item for q in quoted):
        return True
    if not p.agenda_item and closing and any(p.char_start <= r < p.char_end for r in closing.get(p.doc_id, ())):
        return True
    return bool(terms) and ans.keyword_coverage(terms, [p]) >= MIN_COVERAGE


def closing_lines(quotes: Sequence[tuple[str, int]], decisions: DecisionPassages) -> dict[str, set[int]]:
    """In papers without agenda items (a debate's transcript), where the first decision line after each
    chosen quote starts (document offsets): the division or resolution that ends the debate quoted.
    `quotes` are (doc_id, start) of the chosen quotes of such papers; `decisions` holds each paper's decision
    passages. A line counts only where Decided would quote it: a speech's "we have agreed and legislated
    for ..." marks its passage as a decision but records none."""
    out: dict[str, set[int]] = {}
    for doc_id, passages in decisions.items():
        lines = sorted({d.char_start + a for d in passages for a, _ in _runs(d, records_decision)})
        for q_doc, start in quotes:
            first = next((r for r in lines if r > start), None) if q_doc == doc_id else None
            if first is not None:
                out.setdefault(doc_id, set()).add(first)
    return out


def _pick(ranked: Ranked, role: str, accepts: Callable[[str], bool], quoted: Sequence[Passage],
          terms: set[str], closing: Closing | None = None) -> list[tuple[int, Spans]]:
    """Passages of `role` related to the question, minutes first, then by rank: their quotable runs."""
    found = []
    for i, (p, rank, _) in enumerate(ranked):
        if p.role == role and _related(p, quoted, terms, closing if role == "decision" else None):
            spans = _runs(p, accepts)
            if spans:
                found.append((0 if p.doc_type == "minutes" else 1, rank, i, spans))
    out: list[tuple[int, Spans]] = []
    seen: set[str] = set()  # the same resolution in two overlapping chunks, or in two copies of the minutes
    for _, _, i, spans in sorted(found):
        text = ranked[i][0].text
        fresh = [(s, e) for s, e in spans if _words(text[s:e]) not in seen]
        seen.update(_words(text[s:e]) for s, e in fresh)
        if fresh and not all(records_outcome(text[s:e]) for s, e in fresh):
            out.append((i, fresh))
        if len(out) == MAX_SOURCES:
            break
    return out


def _words(text: str) -> str:
    """What two copies of one resolution share, even where a chunk boundary cut one of them short."""
    return " ".join(text.lower().split())[:160]


def _absorb(ex: ans.Extraction, ranked: Ranked, shown: dict[str, list[tuple[int, Spans]]]
            ) -> tuple[list[tuple[int, Spans]], dict[int, tuple[int, int]]]:
    """The Said part: the chosen quotes that are not decided or proposed, source by source, best source
    first. A chosen quote that overlaps a decided or proposed span widens it instead (the quote stays
    whole); one that itself records a decision of a decision passage (or a report's recommendation) joins
    that part. Each such quote becomes its passage's best; returns those best spans by passage too."""
    said: dict[int, Spans] = {}
    best: dict[int, tuple[int, int]] = {}
    for ch in ex.chosen:  # best first
        i, s, e = ch.unit.passage_index, ch.start, ch.stop
        best.setdefault(i, (s, e))
        hit = next(((part, k, j) for part in ("decided", "proposed") for k, (pi, spans) in enumerate(shown[part])
                    if pi == i for j, (a, b) in enumerate(spans) if a < e and s < b), None)
        if hit is not None:
            part, k, j = hit
            a, b = shown[part][k][1][j]
            shown[part][k][1][j] = wide = (min(a, s), max(b, e))
            if best[i] == (s, e):
                best[i] = wide
            continue
        p, text = ranked[i][0], ranked[i][0].text[s:e]
        part = ("decided" if p.role == "decision" and records_decision(text) else
                "proposed" if p.role == "recommendation" and records_recommendation(text) else "said")
        if part == "said":
            said.setdefault(i, []).append((s, e))
            continue
        entry = next((x for x in shown[part] if x[0] == i), None)
        if entry is None:
            shown[part].append((i, [(s, e)]))
        else:
            entry[1].append((s, e))
    return list(said.items()), best


def three_parts(ex: ans.Extraction, ranked: Ranked, terms: set[str], decisions: DecisionPassages | None = None
                ) -> tuple[str, list[AnswerCitation], dict[str, list[int]]]:
    """The Decided / Proposed / Said answer, its citations (numbered in the order shown) and each part's
    citation numbers. `decisions` (see `closing_lines`) lets the division after a debate quoted from a paper
    without agenda items answer for it."""
    quoted = [ranked[ch.unit.passage_index][0] for ch in ex.chosen]
    starts = [(q.doc_id, q.char_start + ch.start) for q, ch in zip(quoted, ex.chosen, strict=True) if not q.agenda_item]
    closing = closing_lines(starts, decisions) if decisions else None
    chosen: dict[str, list[tuple[int, Spans]]] = {
        "decided": _pick(ranked, "decision", records_decision, quoted, terms, closing),
        "proposed": _pick(ranked, "recommendation", records_recommendation, quoted, terms),
    }
    chosen["said"], best = _absorb(ex, ranked, chosen)
    number: dict[int, int] = {}
    for part in PARTS:
        for i, _ in chosen[part]:
            number.setdefault(i, len(number) + 1)
    spans_of: dict[int, Spans] = {i: [span] for i, span in best.items()}  # the best quote first
    for part in PARTS:
        for i, spans in chosen[part]:
            spans_of.setdefault(i, []).extend(sp for sp in spans if sp not in spans_of[i])
    citations = [cite(n, ranked, i, spans_of[i]) for i, n in sorted(number.items(), key=lambda kv: kv[1])]
    by_index = {i: c for (i, _), c in zip(sorted(number.items(), key=lambda kv: kv[1]), citations, strict=True)}
    lines = [lead_line(citations)]
    parts: dict[str, list[int]] = {}
    for part in PARTS:
        parts[part] = list(dict.fromkeys(number[i] for i, _ in chosen[part]))
        if not chosen[part]:
            lines.append(f"{LABELS[part]}: {MISSING[part]}")
            continue
        lines.append(f"{LABELS[part]}:")
        for i, spans in chosen[part]:
            c = by_index[i]
            shown = [q for q in c.quotes if any(q.start - c.passage.char_start == s for s, _ in spans)]
            for k, q in enumerate(shown):
                last = part == "decided" and k == len(shown) - 1
                vote = quote_vote(c.passage, q.text) if last else None
                lines.append(attributed(q, c.n) + (f" (vote: {vote})" if vote else ""))
    return "\n".join(lines), citations, parts


def quote_vote(p: Passage, quote: str) -> str | None:
    """The vote shown beside a decided quote: the counts of the vote line it ends with ("... seconded by
    Cllr B. 4 Votes for 1 Against Carried"), else its passage's vote. Parish minutes run motion after motion
    in one passage, and the passage's vote is its first motion's."""
    spans = ans.split_units(quote)
    last = quote[spans[-1][0]:spans[-1][1]] if spans else ""
    own = parse_vote(last) if ans.vote_line(last) else None
    return own.text() if own and (own.for_ is not None or own.against is not None) else p.vote
