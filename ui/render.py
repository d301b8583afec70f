"""Pure functions that turn API responses into text for the page and for downloads.

No Streamlit here, so everything is easy to test. HTML is always escaped before any
markup is added.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from common import fields
from common.dates import long_date
from common.fields import CITATION_FIELDS
from common.language import STOPWORDS  # the words never highlighted (generic English)

# The columns of the sources CSV: rank and score, every citation field of the table, then where and what.
CSV_COLUMNS = ["rank", "score", *(f.cite_as for f in CITATION_FIELDS), "document_id", "char_start", "char_end",
               "text"]

# The columns of an answer's sources CSV: the answer's number [n] first, then its quotes.
SOURCE_COLUMNS = ["n", "search_rank", "score", *(f.cite_as for f in CITATION_FIELDS), "document_id", "char_start",
                  "char_end", "quotes", "text"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_CITE = re.compile(r"\[(\d+)\]")
_CITES = re.compile(r"(?:\[\d+\])+")  # "[1]" or a run "[1][2][3]"
_PART = re.compile(r"^(Decided|Proposed|Said):", re.MULTILINE)  # the parts of an answer about a decision


# ---------------------------------------------------------------- small formatting helpers


format_date = long_date  # '2024-11-27' -> '27 November 2024' (common.dates)


def md_escape(text: str) -> str:
    """Make text show literally in st.markdown."""
    return re.sub(r"([\\`*_{}\[\]<>#+|$~])", r"\\\1", text)


def label_of(key: str) -> str:
    """What a person reads for a filter: its label in the field table, or its name made readable."""
    try:
        return fields.filter_label(key)
    except KeyError:  # a filter this page does not know: still shown
        return key.replace("_", " ").capitalize()


def filter_label(key: str, value: str) -> str:
    """A filter chip's text, "Council: City of Wolverhampton Council" or "From: 1 January 2024"."""
    is_date = key in fields.FILTER_NAMES and fields.is_date_filter(key)
    return f"{label_of(key)}: {format_date(value) if is_date else value}"


def flat_citation(item: dict[str, Any]) -> dict[str, Any]:
    """A search result ({rank, score, text, citation: {...}}) or an /ask citation (already flat) as one dict."""
    if isinstance(item.get("citation"), dict):
        return {**item["citation"], **{k: v for k, v in item.items() if k != "citation"}}
    return dict(item)


def timestamp_seconds(timestamp: str | None) -> int | None:
    """'1:08:09' -> 4089; '08:09' -> 489."""
    if not timestamp:
        return None
    try:
        parts = [int(p) for p in timestamp.strip().split(":")]
    except ValueError:
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def source_link(c: dict[str, Any]) -> str | None:
    """The URL to open the original: PDF pages get #page=N, YouTube webcasts start at the cited time."""
    url = c.get("url") or c.get("source_url")
    if not url:
        return None
    parts = urlsplit(url)
    if c.get("page") and not parts.fragment:
        return f"{url}#page={int(c['page'])}"
    seconds = timestamp_seconds(c.get("timestamp"))
    host = parts.netloc.lower()
    if seconds and ("youtube.com" in host or "youtu.be" in host) and "t=" not in parts.query:
        return f"{url}{'&' if parts.query else '?'}{urlencode({'t': seconds})}"
    return url


def citation_heading(c: dict[str, Any]) -> str:
    """'City of Wolverhampton Council · Children & Young People Scrutiny Panel · 27 November 2024'."""
    return " · ".join(x for x in (c.get("council"), c.get("committee"), format_date(c.get("date"))) if x)


def citation_details(c: dict[str, Any]) -> list[str]:
    """Agenda item, speaker and time, page, document type: whatever is known."""
    out = []
    if c.get("access") == "restricted":  # only callers whose key may read restricted papers ever see one
        out.append("Restricted: not for publication")
    if c.get("agenda_item"):
        out.append(f"Agenda item: {c['agenda_item']}")
    said = {(q.get("speaker"), q.get("timestamp")): None for q in c.get("quotes") or [] if q.get("speaker")}
    if len({s for s, _ in said}) > 1:  # an /ask citation quoting several turns (a question and its answer)
        out.append("Speakers: " + "; ".join(s + (f" at {t}" if t else "") for s, t in said))
    elif c.get("speaker"):
        out.append(f"Speaker: {c['speaker']}" + (f" at {c['timestamp']}" if c.get("timestamp") else ""))
    elif c.get("timestamp"):
        out.append(f"At {c['timestamp']} in the recording")
    if c.get("page"):
        out.append(f"Page {c['page']}")
    if c.get("doc_type"):
        out.append(str(c["doc_type"]).replace("_", " ").capitalize())
    if c.get("role") and c["role"] != "discussion":
        out.append(str(c["role"]).capitalize() + (f" (vote: {c['vote']})" if c.get("vote") else ""))
    return out


def meeting_label(m: dict[str, Any], with_counts: bool = False) -> str:
    """'27 November 2024 · Cabinet (Birmingham City Council)' (and, with counts, '· 3 passages, 1 decision')."""
    where = m.get("committee") or ""
    if m.get("council") and m.get("council") not in where:
        where = f"{where} ({m['council']})" if where else m["council"]
    label = " · ".join(x for x in (format_date(m.get("date")), where) if x)
    if with_counts:
        n, d = int(m.get("passages") or 0), len(m.get("decisions") or [])
        label += f" · {n} passage{'s' if n != 1 else ''}" + (f", {d} decision{'s' if d != 1 else ''}" if d else "")
    return label


def vote_text(vote: dict[str, Any] | None) -> str:
    """A parsed vote as a person reads it: 'carried, 11 for, 2 against' ('' when none was recorded)."""
    if not vote:
        return ""
    head = (vote.get("outcome") or "recorded") + (" unanimously" if vote.get("unanimous") else "")
    counts = [f"{vote[k]} {k}" for k in ("for", "against", "abstained", "absent") if vote.get(k) is not None]
    return ", ".join([head, *counts])


def citation_text(c: dict[str, Any]) -> str:
    """One-line plain-text citation, for the briefing note."""
    bits = [c.get("title"), citation_heading(c), *citation_details(c)]
    return ". ".join(str(b) for b in bits if b)


# ---------------------------------------------------------------- highlighting


def query_terms(question: str) -> list[str]:
    """The words worth highlighting: no stopwords, no duplicates, longest first."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(question.lower()):
        word = word.strip("'’-")
        if len(word) > 1 and word not in STOPWORDS:
            seen.setdefault(word)
    return sorted(seen, key=len, reverse=True)


def _term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alts = "|".join(re.escape(t) for t in terms)
    return re.compile(rf"(?<![\w])(?:{alts})(?:s|es|ed|ing|d)?(?![\w])", re.IGNORECASE)


def highlight(text: str, question: str) -> str:
    """Escape `text` for HTML and wrap the question's words (and simple plurals/tenses) in <mark>."""
    pattern = _term_pattern(query_terms(question))
    if pattern is None:
        return html.escape(text)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def quote_spans(c: dict[str, Any]) -> list[tuple[int, int]]:
    """Offsets into the passage text (`c["text"]`) of every quote of an /ask citation, sorted, not overlapping.

    Uses `quotes` (document offsets) when present, else `quote`/`quote_start`; falls back to finding the
    quote's text in the passage when the offsets do not fit.
    """
    text = c.get("text") or ""
    base = c.get("char_start")
    items = c.get("quotes") or ([{"text": c["quote"], "start": c.get("quote_start")}] if c.get("quote") else [])
    spans = []
    for q in items:
        qt = q.get("text") or ""
        if not qt:
            continue
        start = q.get("start")
        s = start - base if isinstance(start, int) and isinstance(base, int) else -1
        if not (s >= 0 and text[s : s + len(qt)] == qt):
            s = text.find(qt)
        if s >= 0:
            spans.append((s, s + len(qt)))
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def passage_html(text: str, question: str, quote: str | list[tuple[int, int]] | None = None) -> str:
    """The passage with question words highlighted; the answer's supporting quotes underlined.

    `quote` is one quote's text, or the (start, end) offsets in `text` of every quote (see quote_spans).
    """
    if isinstance(quote, str):
        start = text.find(quote) if quote else -1
        spans = [(start, start + len(quote))] if start >= 0 else []
    else:
        spans = [(s, e) for s, e in (quote or []) if 0 <= s < e <= len(text)]
    if not spans:
        return highlight(text, question)
    out, pos = [], 0
    for s, e in spans:
        out.append(highlight(text[pos:s], question))
        out.append(f'<span class="cqa-quote">{highlight(text[s:e], question)}</span>')
        pos = e
    out.append(highlight(text[pos:], question))
    return "".join(out)


def answer_markdown(answer: str) -> str:
    """The answer for st.markdown: literal $ kept literal, runs of [n] markers in bold, each line of the
    answer (its lead line, each quote) a line of its own."""
    safe = answer.replace("\\", "\\\\").replace("$", "\\$")
    bold = _CITES.sub(lambda m: f"**{m.group(0)}**", safe)
    bold = _PART.sub(lambda m: f"**{m.group(1)}:**", bold)  # "Decided:", "Proposed:", "Said:" as headings
    return "  \n".join(bold.split("\n"))


def document_html(text: str, start: int | None, end: int | None, window: int | None = 2500,
                  quotes: list[tuple[int, int]] | None = None) -> tuple[str, bool]:
    """The document with the cited span shown: the passage [start, end) in a light band, and within it
    each quoted sentence (`quotes`, document offsets) in a <mark>, the first with id="cited" (the page
    scrolls to it). Without quotes inside the span, the whole span is the <mark>.

    With `window`, only that many characters either side of the span are shown (cut at a space);
    returns the HTML and whether the text was cut.
    """
    valid = start is not None and end is not None and 0 <= start < end <= len(text)
    if not valid:
        shown = text if window is None else text[: window * 2]
        return html.escape(shown), len(shown) < len(text)
    assert start is not None and end is not None
    lo, hi = 0, len(text)
    if window is not None:
        lo = max(0, start - window)
        hi = min(len(text), end + window)
        if lo > 0:
            lo = text.find(" ", lo, start) + 1 or lo
        if hi < len(text):
            cut = text.rfind(" ", end, hi)
            hi = cut if cut > 0 else hi
    body = (
        ("… " if lo > 0 else "")
        + html.escape(text[lo:start])
        + _cited_span(text, start, end, quotes or [])
        + html.escape(text[end:hi])
        + (" …" if hi < len(text) else "")
    )
    return body, lo > 0 or hi < len(text)


def _cited_span(text: str, start: int, end: int, quotes: list[tuple[int, int]]) -> str:
    inside = sorted((max(s, start), min(e, end)) for s, e in quotes if s < end and e > start and s < e)
    if not inside:
        return f'<mark id="cited">{html.escape(text[start:end])}</mark>'
    out, pos = ['<span class="cqa-cited-passage">'], start
    for i, (s, e) in enumerate(inside):
        s = max(s, pos)
        if s >= e:
            continue
        out.append(html.escape(text[pos:s]))
        mark = '<mark id="cited">' if i == 0 else "<mark>"
        out.append(f"{mark}{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:end]) + "</span>")
    return "".join(out)


def quote_offsets(c: dict[str, Any]) -> list[tuple[int, int]]:
    """The document offsets of an /ask citation's quotes (empty for a search result)."""
    return [(int(q["start"]), int(q["end"])) for q in c.get("quotes") or []
            if isinstance(q.get("start"), int) and isinstance(q.get("end"), int)]


def spans_param(spans: list[tuple[int, int]]) -> str:
    """'10-20,30-45': spans for a URL query parameter."""
    return ",".join(f"{s}-{e}" for s, e in spans)


def parse_spans(value: str | None) -> list[tuple[int, int]]:
    """The spans of `spans_param`, ignoring any part that is not two whole numbers."""
    out = []
    for part in (value or "").split(","):
        a, _, b = part.partition("-")
        if a.isdigit() and b.isdigit() and int(a) < int(b):
            out.append((int(a), int(b)))
    return out


# ---------------------------------------------------------------- downloads


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({col: "" if row.get(col) is None else row.get(col) for col in columns})
    return buf.getvalue()


def results_csv(items: list[dict[str, Any]]) -> str:
    """Search results as CSV, one row per passage, numbered by rank."""
    return _csv([flat_citation(item) for item in items], CSV_COLUMNS)


def sources_csv(citations: list[dict[str, Any]]) -> str:
    """An answer's sources as CSV, numbered as the answer cites them ([n]), each row with its quotes."""
    rows = [{**c, "search_rank": c.get("rank"),
             "quotes": "\n".join(" ".join(str(q.get("shown") or q.get("text") or "").split())
                                  for q in c.get("quotes") or [])}
            for c in sorted(citations, key=lambda c: c.get("n") or 0)]
    return _csv(rows, SOURCE_COLUMNS)


def slug(text: str, limit: int = 60) -> str:
    """A file-name part from text: lower-case words joined by "-", cut after a whole word, never inside one."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        longer = f"{out}-{word}" if out else word
        if len(longer) > limit and out:
            break
        out = longer[:limit] if not out else longer  # a first word longer than the limit is all there is
    return out or "results"
