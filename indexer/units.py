"""Quotable units of a passage: the sentence-like spans an answer may quote, found the same way at
index time (to embed them once, with the passages) and at answer time.

Transcripts: sentences that may span a few lines, long unpunctuated runs packed a few lines at a
time; speaker labels (lines that are exactly a turn's "speaker - h:mm:ss"), agenda lines, headings,
table rows and web-page control labels are never quoted. Every span is an exact slice of the text.
"""

from __future__ import annotations

import re

from common.language import web_ui_line
from indexer.models import Passage

_BREAK_LINE = re.compile(
    r"^\s*(?:$|-\s*$|.{1,80} - \d{1,2}:\d{2}:\d{2}\s*$|agenda item\s*:?\s*$|#{1,6}\s)",
    re.IGNORECASE,
)  # and web-page control labels ("Share this page"): common.language.web_ui_line
# A bullet sign: a dash, star or bullet, or a PDF symbol font's bullet (a private-use character such as
# U+F0B7); followed by a space. It opens a block and is not quoted. A number "1." / "2)" opens a block too
# but is quoted: a resolution's "1) That the report be noted" reads better with it.
_SIGN = r"[-*•·▪◦●‣⁃∙\ue000-\uf8ff]"
_BULLET = re.compile(rf"^\s*(?:{_SIGN}|\d{{1,2}}[.)])\s+")
_BULLET_SIGN = re.compile(rf"\s*{_SIGN}\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")
MAX_UNIT_CHARS = 320
MIN_UNIT_WORDS = 4


def is_break_line(line: str) -> bool:
    """A line that no sentence runs across: blank, a lone dash, "speaker - h:mm:ss", "Agenda item", a heading."""
    return bool(_BREAK_LINE.match(line))


def _lines(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append((pos, pos + len(raw)))
        pos += len(raw) + 1
    return out


# A line that a blank line cut off mid-sentence ends in a lower-case letter or a comma; the line that goes
# on opens in lower case, and not with a list point ("b) ...", "(ii) ...").
_CUT_END = re.compile(r"[a-z,]\s*$")
_GOES_ON = re.compile(r"^\s*[a-z]")
LIST_POINT = re.compile(r"^\s*\(?(?:[a-z]|[ivx]{1,4})[.)]\s")  # a lettered point: "a) ...", "(ii) ..."


def _cut_by_blank(text: str, lines: list[tuple[int, int]], i: int, cur: list[int] | None) -> bool:
    """Whether blank line i cuts one sentence in two: PDF conversions put a blank line inside a sentence
    ("... the north gable be" / "" / "submitted to the Heritage Planner ..."), and the two halves are
    one unit, not a fragment each."""
    if cur is None or not _CUT_END.search(text[cur[0]:cur[1]]):
        return False
    for s, e in lines[i + 1:]:
        line = text[s:e]
        if line.strip():
            return bool(_GOES_ON.match(line)) and not LIST_POINT.match(line) and not _BREAK_LINE.match(line)
    return False


def _blocks(text: str, labels: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Runs of consecutive content lines; speaker, agenda and blank lines break them (not a blank line
    inside a sentence), bullets start one."""
    blocks: list[tuple[int, int]] = []
    cur: list[int] | None = None
    lines = _lines(text)
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        if not line.strip() and _cut_by_blank(text, lines, i, cur):
            continue
        if (_BREAK_LINE.match(line) or line.lstrip().startswith("|") or (labels and line.strip() in labels)
                or web_ui_line(line)):
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


# A full stop after these does not end a sentence: an initial ("Motion made by D. Ferreira") or a title.
# Parliamentary records' "my hon. Friend", "the right hon. Gentleman" too.
_NOT_AN_END = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Cllr|Coun|No|St|Prof|Rev|Hon|hon|Rt|Capt|Insp|Supt|approx|cf|e\.g|i\.e|vs))\.$")


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for m in _SENTENCE_END.finditer(text, start, end):
        if _NOT_AN_END.search(text, max(start, m.start() - 6), m.start()):
            continue
        if m.end() < end and text[m.end()].islower() and "\n" not in text[m.start():m.end()]:
            continue  # '"... juggling 37 cases', 'approx. ten': a sentence goes on in lower case
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
    m = _BULLET_SIGN.match(text, s)
    if m and m.end() <= e:
        s = m.end()
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def turn_labels(passage: Passage) -> frozenset[str]:
    """The labels of the passage's turns, which are never quoted: label lines of timestamped turns
    ("Cllr Jane Francis - 1:37:50"), and the "Name (Role):" that opens a turn of a colon transcript
    (the answer names the speaker beside the quote, so the label would be said twice)."""
    return frozenset(f"{t['speaker']} - {t['timestamp']}" if t.get("timestamp") else f"{t['speaker']}:"
                     for t in passage.turns if t.get("speaker"))


def _past_label(text: str, s: int, e: int, labels: frozenset[str]) -> int:
    """Where a unit starts once the colon label opening its turn ("Ms Jane Doe (Chair): ") is skipped."""
    for label in labels:
        if label.endswith(":") and text.startswith(label, s) and s + len(label) <= e:
            s += len(label)
            while s < e and text[s].isspace():
                s += 1
            return s
    return s


def split_blocks(text: str, labels: frozenset[str] = frozenset()) -> list[tuple[int, int, int]]:
    """(start, end, block number) of the quotable spans of a passage, in order; exact slices of `text`.

    Units of one block (a run of lines between speaker labels, headings or blank lines) are neighbours
    that can be joined into one quote. A unit opening with one of the `labels` that ends in ":" (a colon
    transcript's turn label) starts after it.
    """
    out = []
    for b, (bs, be) in enumerate(_blocks(text, labels)):
        for ss, se in _sentences(text, bs, be):
            pieces = _pack_long(text, ss, se) if se - ss > MAX_UNIT_CHARS * 1.5 else [(ss, se)]
            for ps, pe in pieces:
                s, e = _trim(text, ps, pe)
                s = _past_label(text, s, e, labels) if labels else s
                if len(text[s:e].split()) >= MIN_UNIT_WORDS:
                    out.append((s, e, b))
    return out


def split_units(text: str, labels: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Quotable spans of a passage, in order; every span is an exact slice of `text`."""
    return [(s, e) for s, e, _ in split_blocks(text, labels)]
