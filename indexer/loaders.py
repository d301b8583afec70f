"""Load council papers into `Document`s: text, structure, metadata, hash (finding them: indexer/discover.py).

Every way a file can be unusable ends in `SkipFile(reason)`, so a bulk build reports bad files
instead of crashing on them.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.clean import clean_text, split_at_page_markers, strip_page_furniture
from indexer.discover import SUPPORTED_SUFFIXES, Found, discover, find_files  # noqa: F401 - re-exported
from indexer.metadata import CouncilRegistry, resolve_metadata
from indexer.models import Document, SkipFile
from indexer.roles import assign_roles
from indexer.structure import parse_structure

log = logging.getLogger(__name__)

# Bump when extraction, cleaning or structure output changes, so incremental builds redo every file.
LOADER_VERSION = "4"

# (page number or None, raw text) per page, plus hints for metadata inference (e.g. an HTML <title>)
Extracted = tuple[list[tuple[int | None, str]], dict[str, str]]

# ------------------------------------------------------------------------------------------- decoding

_ALLOWED_CONTROL = {9, 10, 12, 13, 27}


def looks_binary(raw: bytes) -> bool:
    """NUL bytes or many control characters: cp1252 would "decode" such bytes, so check first."""
    sample = raw[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if (b < 32 and b not in _ALLOWED_CONTROL) or b == 127)
    return controls > 0.02 * max(len(sample), 1)


# Byte-order marks, UTF-32 first: its little-endian BOM (FF FE 00 00) begins with UTF-16's (FF FE).
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_CONTROL_CHARS = {c: None for c in (*range(32), 127) if c not in _ALLOWED_CONTROL}
MAX_CONTROL_SHARE = 0.02  # of decoded text that may be NULs and other control characters


def control_share(text: str) -> float:
    """The share of the first 64K characters of `text` that are NULs or other control characters (not tab,
    newline, form feed, carriage return or escape)."""
    sample = text[:65536]
    return (len(sample) - len(sample.translate(_CONTROL_CHARS))) / max(len(sample), 1)


def _decode_with_bom(raw: bytes) -> str | None:
    """Text decoded by the BOM's encoding; None without a BOM. SkipFile for bytes that encoding cannot read,
    and for "text" that is mostly NULs and control characters (binary data that happens to start FF FE)."""
    problem = ""
    for bom, codec, name in _UNICODE_BOMS:
        if not raw.startswith(bom):
            continue
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:  # FF FE 00 00 may also be UTF-16 starting with U+0000: try it next
            problem = f"undecodable text: bad {name} ({exc.reason})"
            continue
        share = control_share(text)
        if share > MAX_CONTROL_SHARE:
            raise SkipFile(f"binary content: decoded as {name} (it starts with a {name} byte-order mark), "
                           f"{share:.0%} of its characters are NULs or control characters, not text")
        return text
    if problem:
        raise SkipFile(problem)
    return None


def decode_text(raw: bytes) -> str:
    """Text from the file's bytes: UTF-32 or UTF-16 with a BOM, else UTF-8 (BOM dropped), else cp1252.

    Raises SkipFile for binary content (NUL or control bytes, or BOM-decoded text that is mostly control
    characters) or bytes no encoding reads.
    """
    text = _decode_with_bom(raw)
    if text is not None:
        return text
    if looks_binary(raw):
        raise SkipFile("binary content (NUL bytes or control characters), not a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SkipFile("undecodable text: neither UTF-8 nor cp1252")


# ------------------------------------------------------------------------------------------ sniffing

# What a file's bytes are is read from them, not from its name: a PDF saved as .txt, a web page saved as
# .pdf, a UTF-32 text. `sniff` returns one of these kinds, or another format's name from _OTHER_FORMATS.
PDF, ZIP, UTF32, UTF16, HTML, TEXT, BINARY = "pdf", "zip", "utf-32", "utf-16", "html", "text", "binary data"
_MAGIC = (
    (b"%PDF-", PDF),
    (b"PK\x03\x04", ZIP), (b"PK\x05\x06", ZIP), (b"PK\x07\x08", ZIP),
    (codecs.BOM_UTF32_LE, UTF32), (codecs.BOM_UTF32_BE, UTF32),  # before UTF-16: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF16_LE, UTF16), (codecs.BOM_UTF16_BE, UTF16),
)
# Formats we do not read, so a skip reason can say what the file really is.
_OTHER_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office file (.doc, .xls or .ppt)"),
    (b"{\\rtf", "an RTF document"), (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"\x7fELF", "an executable program"), (b"OggS", "an Ogg media file"),
)
_HTML_STARTS = (b"<!doctype html", b"<html")
_DESCRIBED = {
    PDF: "a PDF", ZIP: "a ZIP archive", UTF32: "UTF-32 text", UTF16: "UTF-16 text", TEXT: "plain text",
    HTML: "an HTML page (a saved web page: often an error or sign-in page)", BINARY: "binary data",
}


def sniff(raw: bytes) -> str:
    """What the file's first bytes say it is: PDF, ZIP, UTF32, UTF16, HTML (a doctype or <html> first),
    TEXT, BINARY (NULs or control bytes), or another format's name ("a PNG image")."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    for magic, name in _OTHER_FORMATS:
        if raw.startswith(magic):
            return name
    head = raw[:1024].removeprefix(codecs.BOM_UTF8).lstrip().lower()
    if head.startswith(b"%pdf-"):
        return PDF
    if head.startswith(_HTML_STARTS) or head.startswith(b"<?xml") and any(s in head for s in _HTML_STARTS):
        return HTML
    return BINARY if looks_binary(raw) else TEXT


def describe(kind: str) -> str:
    """A sniffed kind in words, for a skip reason: "an HTML page (...)", "a PNG image"."""
    return _DESCRIBED.get(kind, kind)


# ---------------------------------------------------------------------------------------- extractors

# Limits on what one file may make the build unpack or hold. A DOCX is a ZIP package: its central
# directory gives every part's uncompressed size before anything is decompressed (see `check_zip`).
MAX_ZIP_TOTAL_BYTES = 256 * 2**20  # all parts together, uncompressed (a long report with images: ~50 MiB)
MAX_ZIP_MEMBER_BYTES = 32 * 2**20  # one part, uncompressed (a 1,000-page document.xml: ~10 MiB)
MAX_ZIP_RATIO = 100  # uncompressed / compressed size of one part; Word's XML compresses 5-20 times,
ZIP_RATIO_MIN_BYTES = 2**20  # ... so only parts over 1 MiB are held to it; zeros compress 1,000 times
MAX_ZIP_MEMBERS = 10_000  # parts in one package
MAX_DOCX_BLOCKS = 100_000  # paragraphs and tables of one DOCX (~6 s to read; a 1,000-page report: ~20,000)
MAX_TEXT_CHARS = 5_000_000  # characters extracted from one document (a 1,000-page report: ~3 million)
_extract_log = logging.getLogger(__name__ + ".extract")  # re-logged with the file's name by `file_warnings`


def extract_text_file(raw: bytes) -> Extracted:
    """A .txt or .md file as one page of decoded text, with no metadata hints."""
    return [(None, decode_text(raw))], {}


_HTML_DROP = frozenset(("script", "style", "noscript", "template", "head", "svg", "iframe"))
_HTML_BLOCKS = ("p", "div", "section", "article", "blockquote", "table", "ul", "ol", "header", "footer", "main")
# Markers written where an element starts and where it ends, so structure parsing sees headings,
# list items, table cells and blocks.
_HTML_START = {"br": "\n", "li": "\n- ", **{f"h{n}": "\n\n" + "#" * n + " " for n in range(1, 7)}}
_HTML_END = {
    **dict.fromkeys(_HTML_BLOCKS, "\n\n"), **{f"h{n}": "\n\n" for n in range(1, 7)},
    "td": " | ", "th": " | ", "tr": "\n", "dt": "\n", "dd": "\n",
}
_HTML_PRESERVE = frozenset(("pre", "textarea"))
_ASCII_SPACES = " \n\t\f\r"


class _HtmlText:
    """An lxml parser target collecting a page's visible text with structure markers, and its first <title>.

    The parser calls `start`, `end` and `data` once per event, so the work is linear in the page
    whatever its nesting; there is no tree (lxml's tree stops at 256 levels, or 2,048 with huge_tree,
    silently dropping the rest of the page; its parser events do not). Text is gathered into text nodes
    (the data between two events) and, as BeautifulSoup did, a node of ASCII whitespace only becomes one
    newline or space outside <pre> and <textarea>. Comments and processing instructions end a node and
    are not text.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.dropped = 0  # depth inside an element whose content is not visible text (script, head...)
        self.preserved = 0  # depth inside <pre> or <textarea>, whose whitespace is kept as it is
        self.title_depth = 0  # depth inside the first <title>; -1 once it has closed
        self.title_nodes: list[str] = []  # its text nodes
        self.templates = 0  # open <template>s: their content is inert, a <title> in one is not the page's
        self.title_inert = False
        self._node: list[str] = []  # the data calls of the current text node

    def _flush(self) -> None:
        """End the current text node: into the title and the text, as the state it was read in says."""
        if not self._node:
            return
        node = "".join(self._node)
        self._node = []
        if self.title_depth > 0:
            self.title_nodes.append(node)
        if self.dropped:
            return
        if not self.preserved and not node.strip(_ASCII_SPACES):
            node = "\n" if "\n" in node else " "
        self.parts.append(node)

    def start(self, tag: str, attrib: Any, nsmap: Any = None) -> None:
        """An element opens: its start marker, unless inside a dropped element."""
        self._flush()
        if self.title_depth > 0:
            self.title_depth += 1
        elif self.title_depth == 0 and tag == "title":
            self.title_depth, self.title_inert = 1, self.templates > 0
        self.templates += tag == "template"
        self.preserved += tag in _HTML_PRESERVE
        if self.dropped or tag in _HTML_DROP:
            self.dropped += 1
        elif tag in _HTML_START:
            self.parts.append(_HTML_START[tag])

    def end(self, tag: str) -> None:
        """An element closes: its end marker, unless inside a dropped element."""
        self._flush()
        if self.title_depth > 0:
            self.title_depth -= 1
            if self.title_depth == 0:
                self.title_depth = -1
        self.templates -= tag == "template" and self.templates > 0
        self.preserved -= tag in _HTML_PRESERVE and self.preserved > 0
        if self.dropped:
            self.dropped -= 1
        elif tag in _HTML_END:
            self.parts.append(_HTML_END[tag])

    def data(self, text: str) -> None:
        """Text, which the next event files into the page's text (unless dropped) and the title."""
        self._node.append(text)

    def comment(self, text: str) -> None:
        """A comment: not text, but it ends the text node before it."""
        self._flush()

    def pi(self, target: str, data: str | None = None) -> None:
        """A processing instruction: not text, but it ends the text node before it."""
        self._flush()

    def close(self) -> tuple[str, str]:
        """The page's text and its title (the first <title>'s text nodes, stripped, joined by spaces)."""
        self._flush()
        title = " ".join(node.strip() for node in self.title_nodes if node.strip())
        return "".join(self.parts), "" if self.title_inert else title


def extract_html(raw: bytes) -> Extracted:
    """The visible text of an HTML page as one page, and its <title> as a metadata hint.

    Headings get `#` markers, list items `-`, table cells `|` and blocks line breaks, for structure parsing.
    One pass over lxml's parser events: linear in the page, however deeply nested or unclosed its tags.
    Raises SkipFile for binary content and for markup lxml cannot read at all.
    """
    from lxml import etree

    text = decode_text(raw)
    # Already decoded, so the page's own <meta charset> must not re-decode it: hand lxml UTF-8 and say so.
    # huge_tree lifts libxml2's 10 MB limit on one text node; no_network keeps it off the network.
    parser = etree.HTMLParser(target=_HtmlText(), encoding="utf-8", huge_tree=True, no_network=True)
    try:
        body, title = etree.fromstring(text.encode("utf-8", "replace"), parser)
    except etree.LxmlError as exc:
        raise SkipFile(_failed("HTML", "the page could not be parsed", exc)) from exc
    return [(None, body)], ({"title": title} if title else {})


class _DocxStyles:
    """Paragraph style names by style id, read once per document.

    python-docx's `Paragraph.style` scans every style of the document on each call (2.5 ms a paragraph
    with its default template, so 25 s for 10,000 paragraphs); this resolves an id the same way: the
    first style with the id if it is a paragraph style, else the default paragraph style.
    """

    def __init__(self, document: Any) -> None:
        from docx.enum.style import WD_STYLE_TYPE

        first: dict[str, Any] = {}
        for style in document.styles:
            first.setdefault(style.style_id, style)
        self.names = {sid: s.name or "" for sid, s in first.items() if s.type == WD_STYLE_TYPE.PARAGRAPH}
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        self.default = (default.name or "") if default is not None else ""

    def name(self, paragraph: Any) -> str:
        """The name of the paragraph's style ("Heading 2"); "" when it has none and there is no default."""
        style_id = paragraph._p.style
        return self.default if style_id is None else self.names.get(style_id, self.default)


def _docx_paragraph(paragraph: Any, styles: _DocxStyles) -> str:
    text = paragraph.text
    style = styles.name(paragraph)
    if style.startswith("Heading") and style[-1:].isdigit():
        return "#" * int(style[-1]) + " " + text if text.strip() else text
    if style == "Title" and text.strip():
        return "# " + text
    return text


def _docx_table(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = cell.text.strip()
            if not cells or value != cells[-1]:  # merged cells repeat their text
                cells.append(value)
        rows.append(" | ".join(cells))
    return "\n".join(rows)


def check_zip(archive: zipfile.ZipFile, kind: str = "DOCX") -> None:
    """Refuse a ZIP package (a DOCX) that would expand past the MAX_ZIP_* limits, before anything reads it.

    Reads only the central directory: zipfile never yields more than a member's recorded size, so these
    sizes bound what parsing can unpack. Raises SkipFile naming the member and the limit.
    """
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise SkipFile(f"{kind} refused: {len(members):,} parts in its ZIP package, over the MAX_ZIP_MEMBERS "
                       f"limit of {MAX_ZIP_MEMBERS:,}")
    total = 0
    for info in members:
        size = info.file_size
        if size > MAX_ZIP_MEMBER_BYTES:
            raise SkipFile(f"{kind} refused (a zip bomb?): its part {info.filename} would expand to "
                           f"{_mib(size)}, over the MAX_ZIP_MEMBER_BYTES limit of {_mib(MAX_ZIP_MEMBER_BYTES)}")
        ratio = size / max(info.compress_size, 1)
        if size >= ZIP_RATIO_MIN_BYTES and ratio > MAX_ZIP_RATIO:
            raise SkipFile(f"{kind} refused (a zip bomb?): its part {info.filename} expands {ratio:,.0f} times "
                           f"({_mib(info.compress_size)} to {_mib(size)}), over the MAX_ZIP_RATIO limit of "
                           f"{MAX_ZIP_RATIO}")
        total += size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise SkipFile(f"{kind} refused (a zip bomb?): its parts would expand to over {_mib(total)}, "
                           f"over the MAX_ZIP_TOTAL_BYTES limit of {_mib(MAX_ZIP_TOTAL_BYTES)}")


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def check_text_length(n_chars: int) -> None:
    """SkipFile when a document's extracted text has more than MAX_TEXT_CHARS characters."""
    if n_chars > MAX_TEXT_CHARS:
        raise SkipFile(f"too much text: {n_chars:,} characters extracted (at least), over the MAX_TEXT_CHARS "
                       f"limit of {MAX_TEXT_CHARS:,} for one document")


def extract_docx(raw: bytes) -> Extracted:
    """The paragraphs and tables of a DOCX file in order as one page, headings marked `#`; its title as a hint.

    The ZIP package is checked against the MAX_ZIP_* limits first, and the text against MAX_TEXT_CHARS and
    MAX_DOCX_BLOCKS as it is read. Raises SkipFile for a corrupt or oversized package.
    """
    import docx  # python-docx; imported here so text-only builds do not pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            check_zip(archive)
        document = docx.Document(io.BytesIO(raw))
        styles = _DocxStyles(document)
        blocks = []
        n_chars = 0
        for item in document.iter_inner_content():
            blocks.append(_docx_table(item) if hasattr(item, "rows") else _docx_paragraph(item, styles))
            n_chars += len(blocks[-1]) + 2
            check_text_length(n_chars)
            if len(blocks) > MAX_DOCX_BLOCKS:
                raise SkipFile(f"DOCX refused: over {MAX_DOCX_BLOCKS:,} paragraphs and tables, the "
                               f"MAX_DOCX_BLOCKS limit for one document")
        title = document.core_properties.title or ""
    except SkipFile:
        raise
    except Exception as exc:  # zipfile, lxml and python-docx raise many types on malformed packages
        raise SkipFile(_failed("DOCX", _explain(exc, "the Word package could not be read"), exc)) from exc
    return [(None, "\n\n".join(blocks))], ({"title": title} if title.strip() else {})


def extract_pdf(raw: bytes) -> Extracted:
    """The text of each page of a PDF, numbered from 1, and its title as a hint.

    Opens PDFs with an owner password only (restrictions on printing or copying, any encryption, AES
    included); a page whose text cannot be read is left out. Raises SkipFile for a PDF that needs a
    password to open, a corrupt PDF, one with no readable page, and one over MAX_TEXT_CHARS.
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(raw))  # an encrypted PDF is tried with the empty user password here
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("password-protected PDF: it needs a password to open, and none is known")
        pages: list[tuple[int | None, str]] = []
        failures: list[Exception] = []
        n_chars = 0
        for i, page in enumerate(reader.pages):
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # one damaged page (a bad stream, font or operator) spoils only itself
                failures.append(exc)
                continue
            pages.append((i + 1, text))
            n_chars += len(text)
            check_text_length(n_chars)
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except SkipFile:
        raise
    except DependencyError as exc:
        raise SkipFile(f"encrypted PDF that cannot be decrypted here: a library it needs is missing "
                       f"(pypdf needs `cryptography` for AES) {_raw_error(exc)}") from exc
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on bad files
        raise SkipFile(_failed("PDF", _explain(exc, "its structure is damaged or truncated"), exc)) from exc
    if failures and not pages:
        raise SkipFile(_failed("PDF", f"the text of none of its {len(failures)} page(s) could be read: "
                                      + _explain(failures[0], "its page content is damaged"), failures[0]))
    if failures:
        _extract_log.warning("%d of %d PDF pages could not be read and are left out: %s", len(failures),
                             len(failures) + len(pages), _raw_error(failures[0]))
    if not pages:
        raise SkipFile("corrupt PDF: no pages")
    return pages, ({"title": title} if title.strip() else {})


def _raw_error(exc: BaseException) -> str:
    """The library's own error in brackets, for the end of a skip reason: `[zlib.error: Error -3 ...]`."""
    module = type(exc).__module__
    name = type(exc).__name__ if module in ("builtins", "") or "." in module else f"{module}.{type(exc).__name__}"
    message = " ".join(str(exc).split())
    message = message[:300] + ("..." if len(message) > 300 else "")
    return f"[{name}: {message}]" if message else f"[{name}]"


def _explain(exc: BaseException, default: str) -> str:
    """What failed, in words, for the library errors bad files cause."""
    from lxml import etree

    if isinstance(exc, zlib.error):
        return "a compressed stream inside it is damaged"
    if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile):
        return "its ZIP package is damaged or truncated"
    if isinstance(exc, EOFError):
        return "the file ends too early (truncated)"
    if isinstance(exc, KeyError):
        return "a part it needs is missing"
    if isinstance(exc, etree.XMLSyntaxError):
        return "its XML is malformed"
    if isinstance(exc, RecursionError | MemoryError):
        return "it is too deeply nested or too large to read"
    if type(exc).__name__ == "PackageNotFoundError":
        return "it is not a Word package"
    return default


def _failed(kind: str, what: str, exc: BaseException) -> str:
    """A skip reason for a file its extractor could not read: `corrupt PDF: <what> [<the raw error>]`."""
    return f"corrupt {kind}: {what} {_raw_error(exc)}"


EXTRACTORS: dict[str, Callable[[bytes], Extracted]] = {
    ".txt": extract_text_file,
    ".md": extract_text_file,
    ".html": extract_html,
    ".htm": extract_html,
    ".pdf": extract_pdf,
    ".docx": extract_docx,
}

# --------------------------------------------------------------------------------------------- load


def _assemble(pages: list[tuple[int | None, str]]) -> tuple[str, list[tuple[int, int, int]] | None]:
    """Clean each page and join them; page offsets refer to the joined, cleaned text."""
    if len(pages) == 1 and pages[0][0] is None:
        marked = split_at_page_markers(pages[0][1])
        if marked is None:
            return clean_text(pages[0][1]), None
        pages = list(marked)  # a text with "Page N of M" markers: its pages, as a PDF's would be
    texts = strip_page_furniture([text for _, text in pages])
    parts: list[str] = []
    offsets: list[tuple[int, int, int]] = []
    pos = 0
    for (number, _), text in zip(pages, texts, strict=True):
        cleaned = clean_text(text)
        if not cleaned:
            continue
        if parts:
            pos += 2  # the "\n\n" between pages
        offsets.append((number or len(offsets) + 1, pos, pos + len(cleaned)))
        parts.append(cleaned)
        pos += len(cleaned)
    return "\n\n".join(parts), offsets


def content_hash(raw: bytes, record: dict[str, Any]) -> str:
    """SHA-256 of the file's bytes, its metadata record and the loader version: a change means reload it."""
    digest = hashlib.sha256(raw)
    digest.update(b"\x00" + json.dumps(record, sort_keys=True, default=str).encode())
    digest.update(b"\x00loader-" + LOADER_VERSION.encode())
    return digest.hexdigest()


def read_file(path: Path) -> bytes:
    """The file's bytes; SkipFile with the reason when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read file: {exc.strerror or exc}") from exc


def _bytes_of(path: Path, raw: bytes | None) -> bytes:
    return raw if raw is not None else read_file(path)


# The parts a ZIP-based format always has, to name a package that is not a Word document.
_ZIP_FORMATS = (
    ("word/document.xml", "a Word document (DOCX)"), ("xl/workbook.xml", "an Excel workbook (XLSX)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (PPTX)"), ("content.xml", "an OpenDocument file (ODT/ODS)"),
)


def _zip_extractor(raw: bytes, suffix: str) -> Callable[[bytes], Extracted]:
    """extract_docx for a ZIP package holding a Word document; SkipFile saying what any other ZIP is."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
    except Exception as exc:  # BadZipFile, and OSError/ValueError on a mangled directory
        what = _explain(exc, "its ZIP package is damaged or truncated")
        if suffix == ".docx":
            raise SkipFile(_failed("DOCX", what, exc)) from exc
        raise SkipFile(f"binary content: the bytes start like a ZIP archive, but {what} {_raw_error(exc)}") from exc
    kind = next((name for part, name in _ZIP_FORMATS if part in names), "a ZIP archive")
    if "word/document.xml" in names:
        return extract_docx
    if suffix == ".docx":
        raise SkipFile(f"corrupt DOCX: its ZIP package has no word/document.xml; it is {kind}")
    raise SkipFile(f"unsupported content: the bytes are {kind}, not a {suffix} file")


def choose_extractor(suffix: str, raw: bytes) -> Callable[[bytes], Extracted]:
    """The extractor for a file with this (lower-case) extension and these bytes, chosen by what the bytes are.

    A PDF or a Word document is read as one whatever its extension; a .txt or .md that is an HTML page is read
    as HTML. A .pdf or .docx that is something else, and other formats' bytes in a text file, raise SkipFile
    naming what the bytes are.
    """
    kind = sniff(raw)
    if kind == PDF:
        return extract_pdf
    if kind == ZIP:
        return _zip_extractor(raw, suffix)
    if suffix == ".pdf":
        if b"%PDF-" in raw[:1024]:  # the header may follow some junk; readers accept it within the first 1 KB
            return extract_pdf
        raise SkipFile(f"not a PDF: the file has no %PDF- header; its bytes are {describe(kind)}")
    if suffix == ".docx":
        raise SkipFile(f"corrupt DOCX: not a ZIP package, which every DOCX is; its bytes are {describe(kind)}")
    if kind == HTML and suffix in (".txt", ".md"):
        return extract_html
    if kind not in (UTF32, UTF16, HTML, TEXT, BINARY):  # BINARY: the text decoder says why it is not text
        what = "unsupported content" if kind == "an RTF document" else "binary content"
        raise SkipFile(f"{what}: the bytes are {describe(kind)}, not a {suffix} file")
    return EXTRACTORS[suffix]


# Loggers whose warnings name no file: while a file is read they are collected, then logged with its name.
_FILE_LOGGERS = ("pypdf", "docx", _extract_log.name)
MAX_WARNINGS_PER_FILE = 5  # distinct messages logged for one file; the rest are counted


class _Collector(logging.Handler):
    """Counts the warnings logged while one file is read, by logger and message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record (libraries repeat one warning hundreds of times on a damaged file)."""
        self.counts[(record.name, record.getMessage())] += 1


@contextmanager
def file_warnings(path: Path) -> Iterator[None]:
    """Log what pypdf, python-docx and the extractors warn about while `path` is read through this module's
    logger, with the file's name: once per message with a count, at most MAX_WARNINGS_PER_FILE messages.

    On their own those warnings reach stderr with no file name. Not for concurrent use: the libraries'
    loggers are shared by the whole process.
    """
    collector = _Collector()
    loggers = [logging.getLogger(name) for name in _FILE_LOGGERS]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(collector)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in zip(loggers, saved, strict=True):
            logger.removeHandler(collector)
            logger.propagate = propagate
        messages = collector.counts.most_common()
        for (name, message), n in messages[:MAX_WARNINGS_PER_FILE]:
            log.warning("%s: %s (%s%s)", path, message, name, f", {n} times" if n > 1 else "")
        if len(messages) > MAX_WARNINGS_PER_FILE:
            log.warning("%s: %d more warnings not shown", path, len(messages) - MAX_WARNINGS_PER_FILE)


# At least one word: two letters together that are not part of a run of more than 40.
_WORD_RE = re.compile(r"(?<![^\W\d_])[^\W\d_]{2,40}(?![^\W\d_])")


def load_document(path: Path, registry: CouncilRegistry | None = None, raw: bytes | None = None) -> Document:
    """Read (unless `raw`, the file's bytes, is given), extract, clean, parse and describe one file.

    The extractor is chosen by what the bytes are (`choose_extractor`), not only by the extension. Raises
    SkipFile with the reason.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTRACTORS:
        raise SkipFile(f"unsupported file type {path.suffix or '(no extension)'}")
    raw = _bytes_of(path, raw)
    if not raw.strip():
        raise SkipFile("empty file" if not raw else "empty file (whitespace only)")
    with file_warnings(path):
        extractor = choose_extractor(suffix, raw)
        if extractor is extract_text_file and len(raw) > 4 * MAX_TEXT_CHARS:  # 4 bytes a character at most
            check_text_length(len(raw) // 4)
        pages, hints = extractor(raw)
    plain = extractor is extract_text_file
    if all(not text.strip() for _, text in pages):
        raise SkipFile("empty file (whitespace only)" if plain else
                       "no extractable text (image-only or empty document?)")  # fmt: skip
    check_text_length(sum(len(text) for _, text in pages))
    text, page_offsets = _assemble(pages)
    if not text.strip():
        raise SkipFile("empty file (whitespace only)" if plain else "no extractable text after cleaning")
    if not _WORD_RE.search(text):
        raise SkipFile(f"empty document: no words in its {len(text):,} characters of text")
    text, segments = parse_structure(text, page_offsets)
    meta, record = resolve_metadata(path, text, registry, hints)
    assign_roles(text, segments, meta.doc_type)
    return Document(
        meta=meta,
        text=text,
        segments=segments,
        source_path=str(path),
        content_hash=content_hash(raw, record),
    )
