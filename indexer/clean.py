"""Text cleaning: remove markup and layout artefacts without ever dropping content words.

Cleaning runs before structure parsing, so it must keep line structure meaningful (speaker lines,
agenda lines, headings stay on their own lines) and must not join glued speaker lines: that needs
knowledge of the document's speakers, which is `structure`'s job.
"""

from __future__ import annotations

import html
import re
from collections import Counter

# Real HTML tag names only: a generic `<word ...>` pattern would eat text like "<£10k" or "<Name>".
_BLOCK_TAGS = "p|div|br|li|ul|ol|tr|table|tbody|thead|tfoot|h[1-6]|blockquote|section|article|hr"
_INLINE_TAGS = "i|b|em|strong|u|span|a|font|sup|sub|small|big|td|th|s|strike|mark|abbr|cite|code|o:p"
_BLOCK_TAG_RE = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^<>\n]*/?>", re.IGNORECASE)
_INLINE_TAG_RE = re.compile(rf"</?(?:{_INLINE_TAGS})\b[^<>\n]*/?>", re.IGNORECASE)
_ENTITY_RE = re.compile(r"&(?:#\d{1,6}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,10});")

_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")  # zero-width, BOM, soft hyphen
_HYPHEN_BREAK_RE = re.compile(r"(?<=[A-Za-z])-\n(?=[a-z])")
# Any whitespace but a newline: tabs, no-break, em, thin, ideographic and every other Unicode space.
_MULTISPACE_RE = re.compile(r"[^\S\n]+")
# Only ",;:!?" and a sentence-final "." — a space before "." mid-line may be an ellipsis or decimal.
_SPACE_BEFORE_PUNCT_RE = re.compile(r"(?<=\w) +([,;!?]|\.(?=\s|$))")
_CALLOUT_RE = re.compile(r"^(>\s*)*\[![a-zA-Z]+\][-+]?\s*", re.MULTILINE)
_BLOCKQUOTE_RE = re.compile(r"^(?:>[ \t]?)+", re.MULTILINE)
_PAGE_NUMBER_RE = re.compile(r"\d+")


def strip_comments(text: str) -> str:
    """Each complete `<!-- ... -->` replaced by a space; an unterminated `<!--` and what follows it are kept.

    A loop over `str.find`, not `<!--.*?-->`: that regex rescanned to the end of the text from every
    `<!--` when no `-->` followed, quadratic in a text of many `<!--`.
    """
    out: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break
        out += (text[pos:start], " ")
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def strip_html_remnants(text: str) -> str:
    """Drop HTML tags and decode entities left in exported text (e.g. `<p>` inside table rows)."""
    if "<" not in text and "&" not in text:
        return text
    text = strip_comments(text)
    text = _BLOCK_TAG_RE.sub("\n", text)  # block tags separated content, keep it separated
    text = _INLINE_TAG_RE.sub("", text)
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)


def strip_markdown_noise(text: str) -> str:
    """Remove emphasis markers and blockquote/callout prefixes; headings (`#`) are kept for structure."""
    text = text.replace("**", "")
    text = _CALLOUT_RE.sub("", text)
    return _BLOCKQUOTE_RE.sub("", text)


def join_hyphenated(text: str) -> str:
    """Rejoin words split across lines ("manage-\\nment" -> "management")."""
    return _HYPHEN_BREAK_RE.sub("", text)


def drop_consecutive_duplicates(lines: list[str]) -> list[str]:
    """Keep one of each run of identical non-blank lines (blank lines between them do not break a run)."""
    out: list[str] = []
    last = None
    for line in lines:
        key = line.strip()
        if key and key == last:
            # also drop the blank lines we kept since the previous copy
            while out and not out[-1].strip():
                out.pop()
            continue
        if key:
            last = key
        out.append(line)
    return out


def fix_spacing(line: str) -> str:
    """The line with each run of whitespace (any Unicode space) made one space, stripped, and no space before
    punctuation."""
    line = _MULTISPACE_RE.sub(" ", line).strip()
    return _SPACE_BEFORE_PUNCT_RE.sub(r"\1", line)


def clean_text(text: str) -> str:
    """Clean one document (or one PDF page) of markup and layout artefacts; content words are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _INVISIBLE_RE.sub("", text)
    text = strip_html_remnants(text)
    text = strip_markdown_noise(text)
    text = join_hyphenated(text)
    lines = [fix_spacing(line) for line in text.split("\n")]
    lines = drop_consecutive_duplicates(lines)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _furniture_key(line: str) -> str:
    # Page furniture differs only by its page number ("Page 3 of 12"), so compare with digits masked.
    return _PAGE_NUMBER_RE.sub("#", line.strip().lower())


def strip_page_furniture(pages: list[str], edge_lines: int = 3, min_share: float = 0.5) -> list[str]:
    """Remove header/footer lines repeated at the top or bottom of most pages of a PDF.

    Only the first/last `edge_lines` non-blank lines of a page are candidates, so a phrase that
    merely recurs in the body is never removed.
    """
    if len(pages) < 3:
        return pages
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_furniture_key(line) for line in _edge_lines(page, edge_lines)})
    threshold = max(3, int(len(pages) * min_share))
    furniture = {key for key, n in counts.items() if n >= threshold and key}
    if not furniture:
        return pages
    return [_drop_edge_furniture(page, furniture, edge_lines) for page in pages]


def _edge_count(n_lines: int, n: int) -> int:
    # a short page's middle lines are body text, not furniture
    return max(1, min(n, n_lines // 3))


def _edge_lines(page: str, n: int) -> list[str]:
    lines = [line for line in page.split("\n") if line.strip()]
    k = _edge_count(len(lines), n)
    return lines[:k] + lines[-k:]


def _drop_edge_furniture(page: str, furniture: set[str], n: int) -> str:
    lines = page.split("\n")
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    k = _edge_count(len(nonblank), n)
    edges = set(nonblank[:k] + nonblank[-k:])
    return "\n".join(line for i, line in enumerate(lines) if not (i in edges and _furniture_key(line) in furniture))


# "Page 3 of 12" written into the text itself (a PDF exported to text, minutes typed with a running header).
_PAGE_MARK_RE = re.compile(r"(?<![\w/])Page\s+(\d{1,4})\s+of\s+(\d{1,4})(?![\w/])", re.IGNORECASE)
MIN_HEADER_WORDS = 4


def split_at_page_markers(text: str) -> list[tuple[int, str]] | None:
    """The text cut into its pages at "Page N of M" markers, the markers removed; None when it has none.

    Only a run of at least two markers numbered one after another with the same total counts, so a
    sentence that mentions "page 3 of 5" is left alone. A marker at the very start means the markers
    head their pages; otherwise each ends its page. Words repeated right after every marker (a running
    header: the clerk's name and address) are removed as well.
    """
    marks = list(_PAGE_MARK_RE.finditer(text))
    if len(marks) < 2:
        return None
    numbers = [int(m.group(1)) for m in marks]
    totals = {m.group(2) for m in marks}
    if len(totals) != 1 or numbers != list(range(numbers[0], numbers[0] + len(numbers))) \
            or numbers[-1] > int(totals.pop()):
        return None
    if not text[: marks[0].start()].strip() or numbers[0] > 1:  # markers head their pages
        pages = [(n, text[m.end(): nxt.start() if nxt else len(text)])
                 for n, m, nxt in zip(numbers, marks, [*marks[1:], None], strict=True)]
        if text[: marks[0].start()].strip():
            pages.insert(0, (numbers[0] - 1, text[: marks[0].start()]))
    else:  # markers end their pages
        starts = [0, *(m.end() for m in marks)]
        pages = [(n, text[s: m.start()]) for n, s, m in zip(numbers, starts, marks, strict=False)]
        if text[marks[-1].end():].strip():
            pages.append((numbers[-1] + 1, text[marks[-1].end():]))
    return _drop_running_header(pages)


def _common_words(texts: list[list[str]]) -> int:
    common = 0
    for column in zip(*texts, strict=False):
        if len(set(column)) != 1:
            break
        common += 1
    return common


def _drop_running_header(pages: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Remove the words that every page (or every page but the first, a title page) opens with, when
    there are at least `MIN_HEADER_WORDS` of them."""
    header: list[str] = []
    for group in (pages, pages[1:]):
        texts = [t.split() for _, t in group if t.strip()]
        if len(texts) >= 2 and (common := _common_words(texts)) >= MIN_HEADER_WORDS:
            header = texts[0][:common]
            break
    if not header:
        return pages
    common = len(header)
    out = []
    for n, t in pages:
        words = t.split()
        if words[:common] == header:
            t = _after_words(t, common)
        out.append((n, t))
    return out


def _after_words(text: str, n: int) -> str:
    """`text` from the end of its n-th word on."""
    matches = list(re.finditer(r"\S+", text))
    return text[matches[n - 1].end():] if len(matches) >= n else ""
