"""Structure parsing: split cleaned text into segments carrying page, agenda item, speaker and time.

Four shapes are recognised, all generically (no speaker or council names are hard-coded):

* speaker transcripts: `Cllr Jane Francis - 0:33:25` lines start a turn; such a line is often glued
  to the previous speaker's last words ("...assessmentsAlison Hinds - 0:16:16"), so we first learn
  the speakers' names and split glued lines onto their own line (the returned text is modified);
* colon transcripts and verbatim records: `Name: text`, `NAME: text`, `Name (Role): text` lines start a
  turn, whose speaker is the label as given (role kept); `#` headings and bracketed procedural lines
  (`[The Chair in the chair]`, `(Division)`) are never turns;
* timestamped transcripts: `[0:00:08] text` lines, grouped a few lines per segment;
* papers and minutes: paragraphs, headings and numbered agenda items (`1. Apologies`, `## 2.1 ...`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from common.language import (
    DECISION_WORDS,
    LABEL_CONNECTIVES,
    MINUTE_NUMBER_WORDS,
    NOT_SPEAKER_LABEL_WORDS,
    SENTENCE_OPENERS,
)
from common.names import speaker_key  # noqa: F401 - shared with query time; re-exported for callers
from indexer.models import Segment

MAX_SEGMENT_CHARS = 1500
BRACKET_LINES_PER_SEGMENT = 4
BRACKET_CHARS_PER_SEGMENT = 500

TIMESTAMP = r"\d{1,2}:\d{2}:\d{2}"  # h:mm:ss, also what `indexer.context` drops
# A timestamped transcript's "[0:09:48] " marker (the time its group): the retrievers do not read it, answers
# do not show it, and a quote takes the time of the last one before it.
TIME_MARK = re.compile(rf"\[({TIMESTAMP})\]\s*")
_TS = TIMESTAMP
_SPEAKER_TAIL_RE = re.compile(rf"^(?P<head>.*\S) - (?P<ts>{_TS})\s*$")
_BRACKET_RE = re.compile(rf"^\[(?P<ts>{_TS})\]")
_TITLES = r"(?:Cllr|Councillor|Cllr\.|Dr|Mr|Mrs|Ms|Miss|Prof|Sir|Dame|Lord|Lady|Mayor|Alderman)\.?"
_NAME_RE = re.compile(
    rf"^(?:{_TITLES} )?[A-Z][\w'’.-]*(?: (?:[A-Z][\w'’.-]*|de|van|von|der|la|le|da|du|di|bin|al)){{0,4}}$"
)
# Fallback for glued speaker lines whose name we never saw standalone: the capitalised words at the end.
_GLUED_NAME_RE = re.compile(rf"(?:{_TITLES} )?[A-Z][a-z'’-]+(?: [A-Z][a-zA-Z'’-]+){{1,2}}$")
_AGENDA_MARKER_RE = re.compile(r"^Agenda item\s*:\s*$", re.IGNORECASE)
# The closing `#`s are stripped by `_md_heading`: a lazy title before `\s*#*$` retried the line's
# end at every length, quadratic on "# a###...b".
_MD_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>\S.*)$")
# `Label: text` at the start of a line: a short phrase of words (no sentence punctuation) and optional
# parenthesised parts, then a colon, a space and the turn's first word. The label's shape is checked
# further by `_speaker_label`.
_COLON_LABEL_RE = re.compile(
    r"^(?P<label>(?P<head>[^\W\d_][\w'’.&-]*(?: [\w'’.,&-]+){0,11})(?P<roles>(?: ?\([^()\n:]{1,120}\)){0,3}))"
    r" ?: +(?=\S)"
)
COLON_MIN_TURNS = 4
COLON_MIN_SHARE = 0.3
_MINUTE_WORDS = "|".join(r"\s+".join(map(re.escape, w.split())) for w in MINUTE_NUMBER_WORDS)
_NUMBERED_RE = re.compile(
    rf"^(?:(?:{_MINUTE_WORDS})\.?\s+)?(?P<num>\d{{1,3}}(?:\.\d{{1,2}}){{0,3}})[.)]?\s+(?P<title>\S.*)$", re.IGNORECASE
)
# A minute's own number with its year ("90/18", "Minute 123/24", "12/2019.3"): unambiguous, so it opens an
# agenda item even when the item's text runs on in the same line.
_MINUTE_REF_RE = re.compile(
    rf"^(?:(?:{_MINUTE_WORDS})\.?\s*(?:No\.?\s*)?)?(?P<num>\d{{1,4}}/\d{{2,4}}(?:\.\d{{1,2}})?)[.):]?\s+(?P<rest>\S.*)$",
    re.IGNORECASE,
)
# Where an item's title ends inside its line: "Matters Arising: ...", "Planning – ...", "Apologies. ..."
_LEAD_END_RE = re.compile(r":\s|\s[–—-]\s|\.\s|[:.]$")
LEAD_MAX_WORDS = 15
_DECISION_RE = re.compile(
    r"^(?:it\s+was\s+)?(?:" + "|".join(DECISION_WORDS) + r")\b(?!\s+(?:and|with|by|at|in)\b)", re.IGNORECASE
)
_LIST_ITEM_RE = re.compile(r"^(?:\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)]\s|[-•*]\s)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------- lines


@dataclass
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append(_Line(pos, pos + len(raw), raw.strip()))
        pos += len(raw) + 1
    return out


def _insert_newlines(text: str, positions: list[int]) -> str:
    parts, last = [], 0
    for pos in sorted(set(positions)):
        parts.append(text[last:pos])
        last = pos
    parts.append(text[last:])
    return "\n".join(parts)


def _shift_pages(pages: list[tuple[int, int, int]] | None, positions: list[int]) -> list[tuple[int, int, int]] | None:
    """Map page offsets from the text before newline insertion to the text after it."""
    if not pages or not positions:
        return pages
    inserted = sorted(set(positions))

    def shift(pos: int) -> int:
        return pos + bisect.bisect_right(inserted, pos)

    return [(no, shift(s), shift(e)) for no, s, e in pages]


# ------------------------------------------------------------------------------- speaker transcripts


def _is_name(candidate: str) -> bool:
    return bool(_NAME_RE.match(candidate)) and len(candidate) <= 60


def _header_end(lines: list[_Line]) -> int:
    """Index of the first standalone speaker line: everything before it is the webcast header."""
    for i, line in enumerate(lines):
        m = _SPEAKER_TAIL_RE.match(line.text)
        if m and _is_name(m.group("head")):
            return i
    return 0


def _known_speakers(lines: list[_Line], header_end: int) -> set[str]:
    """Names from the header (the line after each `-` marker) and from standalone speaker lines."""
    names: set[str] = set()
    for prev, line in zip(lines[: header_end - 1], lines[1:header_end], strict=False):
        if prev.text == "-" and _is_name(line.text):
            names.add(line.text)
    for line in lines[header_end:]:
        m = _SPEAKER_TAIL_RE.match(line.text)
        if m and _is_name(m.group("head")):
            names.add(m.group("head"))
    return names


def _header_agenda_titles(lines: list[_Line], header_end: int) -> list[str]:
    titles = []
    for prev, line in zip(lines[: header_end - 1], lines[1:header_end], strict=False):
        if _AGENDA_MARKER_RE.match(prev.text) and len(line.text) >= 3:
            titles.append(line.text)
    return titles


def _split_speaker(head: str, known: set[str]) -> tuple[str, str] | None:
    """(glued words, speaker name) for the part of a speaker line before " - h:mm:ss"."""
    if head in known:
        return "", head
    for name in sorted(known, key=len, reverse=True):
        if head.endswith(name) and len(head) > len(name):
            before = head[: -len(name)]
            # "Dr Jane Francis" is a different, longer name, not words glued to "Jane Francis"
            if not before.endswith(" ") or not _is_name(head):
                return before, name
    if _is_name(head):
        return "", head
    m = _GLUED_NAME_RE.search(head)
    if m and m.start() > 0:
        return head[: m.start()], m.group(0)
    return None


def _split_glued_lines(text: str, speakers: set[str], titles: list[str], body_start: int) -> list[int]:
    """Offsets where a newline must go so glued speaker lines and agenda titles stand alone."""
    numbered = [t for t in titles if re.match(r"^\d", t)]
    positions: list[int] = []
    for line in _lines(text):
        if line.start < body_start or not line.text:
            continue
        raw = text[line.start : line.end]
        lead = len(raw) - len(raw.lstrip())
        m = _SPEAKER_TAIL_RE.match(line.text)
        head_text = line.text
        if m:
            split = _split_speaker(m.group("head"), speakers)
            if split and split[0].strip():
                positions.append(line.start + lead + len(split[0]))
                head_text = split[0]
        for title in sorted(numbered, key=len, reverse=True):
            if head_text.endswith(title) and len(head_text) > len(title):
                positions.append(line.start + lead + len(head_text) - len(title))
                break
    return positions


# -------------------------------------------------------------------------------- colon transcripts


def _speaker_label(text: str) -> str | None:
    """The speaker label of a `Label: text` line ("Sarah Boyack (Edinburgh Central) (Lab)"), else None.

    Generic shape rules: the label's head starts with a capital letter (so "10:30" is no label), has
    at most twelve words, each capitalised, a number ("Lead 2A"), one of `LABEL_CONNECTIVES` or a
    short abbreviation ("hon."), more capitalised words than the others, and no sentence punctuation
    (a comma only between capitalised words); up to three parenthesised parts
    (roles, constituencies, parties) may follow. A colon must be followed by a space, so URLs and
    times are not labels, and a label whose first word is document furniture (`Date:`, `RESOLVED:`,
    `Present:`; `NOT_SPEAKER_LABEL_WORDS`) is not a speaker.
    """
    m = _COLON_LABEL_RE.match(text)
    if not m:
        return None
    head, label = m.group("head"), m.group("label").strip()
    words = head.split()
    if len(head) > 80 or len(label) > 200:
        return None
    if not head[0].isupper():
        return None
    caps = 0
    for i, word in enumerate(words):
        if word.endswith(","):
            # "The Minister for Culture, External Affairs": a comma only between capitalised words
            word = word[:-1]
            if i + 1 >= len(words) or not words[i + 1][0].isupper() or "," in word:
                return None
        if not word or "," in word:
            return None
        if word[0].isupper() or word[0].isdigit():
            caps += 1
        elif word not in LABEL_CONNECTIVES and not _abbreviation(word):
            return None
    if caps <= len(words) - caps or words[-1] in LABEL_CONNECTIVES:
        return None
    first = words[0].lower().rstrip(".,")
    if first in NOT_SPEAKER_LABEL_WORDS or words[0].lower() in NOT_SPEAKER_LABEL_WORDS:
        return None
    # "e.g." or "etc." in a label's head ends a sentence-like phrase; "Mr." and "St." are kept
    if any(w.endswith(".") and len(w) > 4 for w in words):
        return None
    return label


def _abbreviation(word: str) -> bool:
    """A short lower-case abbreviation inside a label ("Several hon. Members")."""
    return word.endswith(".") and 2 <= len(word) <= 4 and word[:-1].isalpha() and word[:-1].islower()


def _bracketed(text: str) -> bool:
    """A whole line in square or round brackets: procedure, a stage direction, a time ("(10.00 am)")."""
    return (text.startswith("[") and text.endswith("]")) or (text.startswith("(") and text.endswith(")"))


def _parse_colon_transcript(text: str, pages: list[tuple[int, int, int]] | None) -> list[Segment]:
    """Turns for `Label: text` lines; a turn runs over the following paragraphs until the next label.

    A markdown heading ends the turn (and is a heading or an agenda item); a bracketed line is a
    speakerless paragraph that does not end it (the speech resumes after "[Interruption.]").
    """
    lines = _lines(text)
    b = _Builder(text, pages)
    agenda: str | None = None
    agenda_level = 99
    heading: str | None = None
    speaker: str | None = None
    for line in lines:
        if not line.text:
            b.close()
            continue
        md = _md_heading(line.text)
        if md:
            speaker = None
            label = _numbered_agenda(md[1], markdown=True)
            b.close()
            if label is not None:
                agenda, agenda_level, heading = label, md[0], label
                b.add(line, "agenda", agenda_item=agenda, heading=heading)
            else:
                heading = md[1]
                if md[0] <= agenda_level:
                    agenda, agenda_level = None, 99
                b.add(line, "heading", agenda_item=agenda, heading=heading)
            b.close()
            continue
        if _bracketed(line.text):
            b.close()
            b.add(line, "paragraph", agenda_item=agenda, heading=heading)
            b.close()
            continue
        label = _speaker_label(line.text)
        if label is not None:
            b.close()
            speaker = label
        kind = "turn" if speaker else "paragraph"
        b.add(line, kind, agenda_item=agenda, heading=heading, speaker=speaker)
    b.close()
    return b.segments


def _colon_transcript(lines: list[str]) -> bool:
    """Whether enough lines start with a speaker label, and some speaker speaks more than once.

    Headings and bracketed lines are not counted. A paper's `Date:` / `Venue:` lines are not labels,
    and a form's one-off `Lead Officer:` / `Contact Name:` fields do not repeat: a transcript's do.
    """
    content = [line for line in lines if not _md_heading(line) and not _bracketed(line)]
    labels = [lab for lab in map(_speaker_label, content) if lab is not None]
    if len(labels) < COLON_MIN_TURNS or len(labels) < COLON_MIN_SHARE * len(content):
        return False
    return len(set(labels)) < len(labels)


# ------------------------------------------------------------------------------------ classification


def _title_like(title: str) -> bool:
    words = re.findall(r"[A-Za-z][\w'’-]*", title)
    long_words = [w for w in words if len(w) > 3]
    if not long_words:
        return bool(words) and words[0][0].isupper()
    caps = sum(1 for w in long_words if w[0].isupper())
    return caps / len(long_words) >= 0.5


def _numbered_agenda(text: str, markdown: bool) -> str | None:
    """The agenda item label for a numbered line that looks like an agenda heading, else None."""
    m = _NUMBERED_RE.match(text)
    if not m:
        return None
    title = m.group("title").strip()
    if not (title[0].isupper() or title[0].isdigit()) or len(title) > 110 or len(title.split()) > 15:
        return None
    if not markdown:
        # numbered minute lines are often sentences ("2. Village sign. Decided it was...")
        if title.endswith((".", ",", ";")) or re.search(r"[.;] [A-Za-z]", title):
            return None
        if not (_title_like(title) or title.endswith(":")):
            return None
    return re.sub(r"\s+", " ", text).rstrip(":").strip()


def _agenda_lead(text: str, prev_blank: bool) -> tuple[str, bool] | None:
    """(label, whole line?) for a minute that opens with its number and runs on in the same line.

    "23/17 Apologies for absence. Apologies were received ..." -> "23/17 Apologies for absence". A bare
    number ("4. Matters Arising: the clerk ...") needs a blank line before it and its title ended by a
    colon or dash, so a numbered list inside an item is not taken for a new item.
    """
    m = _MINUTE_REF_RE.match(text)
    group = "rest"
    if not m:
        m, group = _NUMBERED_RE.match(text), "title"
        if not m or not prev_blank:
            return None
    rest = m.group(group)
    num = " ".join(text[: m.start(group)].split())  # the number as written: "4.", "Minute 93/18"
    if not (rest[0].isupper() or rest[0].isdigit()):
        return None
    end = _LEAD_END_RE.search(rest)
    first = (rest[: end.start()] if end else rest).strip()
    run = _title_run(first)
    lead = run if len(run.split()) >= 2 else first  # "Use of social media, ...": not title-cased, but whole
    if not _MINUTE_REF_RE.match(text):
        explicit = end is not None and end.group(0).strip() in (":", "–", "—", "-")
        if not explicit or not _title_like(lead) or len(lead.split()) > 8:
            return None
    whole = lead == first and (end is None or not rest[end.end():].strip())
    if not lead or len(lead.split()) > LEAD_MAX_WORDS:
        return num, False
    return f"{num} {lead}", whole


def _title_run(text: str) -> str:
    """The title at the start of a line that runs on into its text without punctuation.

    "Apologies and Welcome There were apologies ..." -> "Apologies and Welcome": capitalised words and
    connectives up to the first other lower-case word, cut before a sentence-opening word.
    """
    words = text.split()
    run: list[str] = []
    for w in words:
        bare = w.strip("()‘’'\"“”,")
        if run and bare.lower() in SENTENCE_OPENERS:
            break
        if bare[:1].isupper() or bare[:1].isdigit() or bare.lower() in LABEL_CONNECTIVES:
            run.append(w)
            continue
        break
    while run and run[-1].lower() in LABEL_CONNECTIVES:
        run.pop()
    return " ".join(run) if len(run) < len(words) else text


def opens_decision(text: str) -> bool:
    """A line that opens the record of a decision: "RESOLVED: ...", "Agreed that ...", "It was resolved"."""
    return text[:1].isupper() and bool(_DECISION_RE.match(text))


def _md_heading(text: str) -> tuple[int, str] | None:
    """(level, title) of a markdown `## Title ##` line, closing hashes and spaces dropped; None otherwise."""
    m = _MD_HEADING_RE.match(text)
    if not m:
        return None
    title = m.group("title")
    # the shortest title (at least one character) that leaves only spaces and then `#`s at the end
    return len(m.group("hashes")), title.rstrip("#").rstrip() or title[0]


def _plain_heading(text: str, isolated: bool) -> bool:
    """A short Title Case or UPPER CASE line standing on its own."""
    if not isolated or len(text) > 80 or len(text.split()) > 10 or len(text) < 3:
        return False
    if not (text[0].isupper() or text[0].isdigit()) or text.endswith((".", ",", ";")):
        return False
    if text.startswith(("- ", "* ", "|")):
        return False
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 3 and all(c.isupper() for c in letters):
        return True
    return _title_like(text) and not re.search(r"[.!?] ", text)


# ------------------------------------------------------------------------------------------ builder


class _Builder:
    """Accumulates lines into segments, closing a segment whenever its citation fields would change."""

    def __init__(self, text: str, pages: list[tuple[int, int, int]] | None) -> None:
        self.text = text
        self.segments: list[Segment] = []
        self.page_starts = [s for _, s, _ in pages] if pages else []
        self.page_nos = [no for no, _, _ in pages] if pages else []
        self.open: Segment | None = None
        self.n_lines = 0

    def page_at(self, pos: int) -> int | None:
        if not self.page_starts:
            return None
        idx = bisect.bisect_right(self.page_starts, pos) - 1
        return self.page_nos[max(idx, 0)]

    def close(self) -> None:
        if self.open is not None and self.text[self.open.start : self.open.end].strip():
            self.segments.append(self.open)
        self.open = None
        self.n_lines = 0

    def add(self, line: _Line, kind: str, **fields: str | None) -> None:
        page = self.page_at(line.start)
        seg = self.open
        same = (
            seg is not None
            and seg.kind == kind
            and seg.page == page
            and all(getattr(seg, k) == v for k, v in fields.items())
            and line.end - seg.start <= MAX_SEGMENT_CHARS
        )
        if not same:
            self.close()
            self.open = Segment(start=line.start, end=line.end, kind=kind, page=page, **fields)
        else:
            seg.end = line.end  # type: ignore[union-attr]
        self.n_lines += 1


def _parse_speaker_transcript(text: str, pages: list[tuple[int, int, int]] | None) -> tuple[str, list[Segment]]:
    lines = _lines(text)
    header_end = _header_end(lines)
    speakers = _known_speakers(lines, header_end)
    titles = _header_agenda_titles(lines, header_end)
    body_start = lines[header_end].start
    positions = _split_glued_lines(text, speakers, titles, body_start)
    new_text = _insert_newlines(text, positions)
    pages = _shift_pages(pages, positions)
    text, lines = new_text, _lines(new_text)
    header_end = _header_end(lines)
    title_set = set(titles)

    b = _Builder(text, pages)
    agenda = speaker = ts = None
    for i, line in enumerate(lines):
        if not line.text:
            b.close()
            continue
        if i < header_end:
            b.add(line, "paragraph", agenda_item=None, speaker=None, timestamp=None)
            continue
        m = _SPEAKER_TAIL_RE.match(line.text)
        if m and _is_name(m.group("head")):
            b.close()
            speaker, ts = m.group("head"), m.group("ts")
            b.add(line, "turn", agenda_item=agenda, speaker=speaker, timestamp=ts)
            continue
        label = line.text if line.text in title_set else None
        if label is None and not title_set:
            label = _numbered_agenda(line.text, markdown=False)
        if label is not None:
            agenda = label
            b.close()
            b.add(line, "agenda", agenda_item=agenda, heading=agenda)
            b.close()
            continue
        kind = "turn" if speaker else "paragraph"
        b.add(line, kind, agenda_item=agenda, speaker=speaker, timestamp=ts)
    b.close()
    return text, b.segments


def _parse_bracket_transcript(text: str, pages: list[tuple[int, int, int]] | None) -> list[Segment]:
    b = _Builder(text, pages)
    for line in _lines(text):
        if not line.text:
            b.close()
            continue
        m = _BRACKET_RE.match(line.text)
        full = b.open is not None and (
            b.n_lines >= BRACKET_LINES_PER_SEGMENT or line.end - b.open.start > BRACKET_CHARS_PER_SEGMENT
        )
        if m and full:
            b.close()
        if m and b.open is None:
            b.add(line, "paragraph", timestamp=m.group("ts"))
        else:
            ts = b.open.timestamp if b.open is not None else None
            b.add(line, "paragraph", timestamp=ts)
    b.close()
    return b.segments


def _parse_document(text: str, pages: list[tuple[int, int, int]] | None) -> list[Segment]:
    """Paragraphs under their headings and agenda items; a decision ("RESOLVED: ...") and the numbered
    or bulleted paragraphs that follow it are one "decision" block, which chunking keeps whole."""
    lines = _lines(text)
    b = _Builder(text, pages)
    agenda: str | None = None
    agenda_level = 99
    heading: str | None = None
    decision = False
    for i, line in enumerate(lines):
        if not line.text:
            b.close()
            continue
        prev_blank = i == 0 or not lines[i - 1].text
        next_blank = i + 1 >= len(lines) or not lines[i + 1].text
        md = _md_heading(line.text)
        label = _numbered_agenda(md[1] if md else line.text, markdown=bool(md))
        lead = None if md or (label is not None and prev_blank) else _agenda_lead(line.text, prev_blank)
        if lead is not None and not lead[1]:
            # the item's text runs on in its first line: a new item, and that line is its first paragraph
            agenda, agenda_level, heading = lead[0], 7, lead[0]
            decision = False
            b.close()
            b.add(line, "paragraph", agenda_item=agenda, heading=heading)
            continue
        if lead is not None:
            label = lead[0]
        if label is not None and (md or prev_blank or lead or label.endswith(":") or line.text.endswith(":")):
            level = md[0] if md else 7
            agenda, agenda_level, heading = label, level, label
            decision = False
            b.close()
            b.add(line, "agenda", agenda_item=agenda, heading=heading)
            b.close()
            continue
        starts_decision = not md and opens_decision(line.text)  # "RESOLVED:" alone is no heading
        if not starts_decision and (md or _plain_heading(line.text, prev_blank and next_blank)):
            heading = md[1] if md else line.text
            if md and md[0] <= agenda_level:
                agenda, agenda_level = None, 99
            decision = False
            b.close()
            b.add(line, "heading", agenda_item=agenda, heading=heading)
            b.close()
            continue
        if starts_decision:
            if not decision or prev_blank:
                b.close()  # each decision is its own block
            decision = True
        elif decision and prev_blank and not _LIST_ITEM_RE.match(line.text):
            decision = False  # a new paragraph that is not one of the decision's numbered points
        b.add(line, "decision" if decision else "paragraph", agenda_item=agenda, heading=heading)
    b.close()
    return b.segments


def detect_format(text: str) -> str:
    """ "speaker", "bracket", "colon" or "document", from the share of transcript-shaped lines.

    "colon": enough lines start with a `Speaker: ` label (see `_colon_transcript`).
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "document"
    bracket = sum(1 for line in lines if _BRACKET_RE.match(line.strip()))
    if bracket >= 3 and bracket >= 0.3 * len(lines):
        return "bracket"
    speaker = sum(1 for line in lines if _SPEAKER_TAIL_RE.match(line.strip()))
    if speaker >= 3:
        return "speaker"
    return "colon" if _colon_transcript([line.strip() for line in lines]) else "document"


def parse_structure(text: str, pages: list[tuple[int, int, int]] | None = None) -> tuple[str, list[Segment]]:
    """Segments for `text` (possibly rewritten: glued speaker lines are split onto their own line).

    `pages` are (page_number, start, end) offsets into `text`; offsets of the returned segments
    refer to the returned text.
    """
    fmt = detect_format(text)
    if fmt == "speaker":
        return _parse_speaker_transcript(text, pages)
    if fmt == "bracket":
        return text, _parse_bracket_transcript(text, pages)
    if fmt == "colon":
        return text, _parse_colon_transcript(text, pages)
    return text, _parse_document(text, pages)


def iter_turns(segments: list[Segment]) -> Iterator[Segment]:
    """The speaker-turn segments, in order."""
    return (s for s in segments if s.kind == "turn")
