"""Find council papers on disk and load them into `Document`s: text, structure, metadata, hash.

Every way a file can be unusable ends in `SkipFile(reason)`, so a bulk build reports bad files
instead of crashing on them.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import json
import logging
import os
import stat
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString

from indexer.clean import clean_text, strip_page_furniture
from indexer.metadata import MANIFEST_NAMES, CouncilRegistry, resolve_metadata
from indexer.models import Document, SkipFile
from indexer.structure import parse_structure

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
# Bump when extraction, cleaning or structure output changes, so incremental builds redo every file.
LOADER_VERSION = "1"

# (page number or None, raw text) per page, plus hints for metadata inference (e.g. an HTML <title>)
Extracted = tuple[list[tuple[int | None, str]], dict[str, str]]

# ------------------------------------------------------------------------------------------ discover


def _is_hidden(path: Path) -> bool:
    return path.name.startswith((".", "~$")) or path.name == "__pycache__"  # dotfiles, Office lock files


@dataclass
class Found:
    """What discovery found: each supported file with the input folder it was found under, and the skips.

    Every real folder and file is visited once, keyed by (st_dev, st_ino): a symlink loop or a second
    link to a folder already walked is reported, not followed again.
    """

    files: list[tuple[Path, Path | None]] = field(default_factory=list)  # (file, input folder; None if given)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it is not indexed
    _dirs: dict[tuple[int, int], Path] = field(default_factory=dict)
    _inodes: dict[tuple[int, int], Path] = field(default_factory=dict)

    def enter(self, folder: Path, st: os.stat_result) -> bool:
        """Whether to walk `folder`: False, with the reason, when its real folder was walked already."""
        first = self._dirs.setdefault((st.st_dev, st.st_ino), folder)
        if first != folder:
            self.skipped[str(folder)] = (
                f"symlink loop: leads back to {first}, a folder above it; remove the link" if first in folder.parents
                else f"same folder as {first} (a link to it), indexed there once")
        return first == folder

    def add(self, path: Path, root: Path | None, st: os.stat_result) -> None:
        """Record a regular file: a supported paper once (at the first path to it), else why it is skipped."""
        if _ignorable(path):
            return
        reason = _unsupported(path, given=root is None)
        if reason is not None:
            self.skipped[str(path)] = reason
            return
        first = self._inodes.setdefault((st.st_dev, st.st_ino), path)
        if first is path:  # the first path to this file: a file given again at the same path is silent
            self.files.append((path, root))
        elif first != path:
            self.skipped[str(path)] = f"same file as {first} (a link to it), indexed once"


def _own_path(given: Path) -> Path:
    """`given`, absolute, with its folder's symlinks resolved but not its own: a link keeps its own name."""
    given = Path(given)
    return given.resolve() if given.name in ("", ".", "..") else given.parent.resolve() / given.name


def _stat(path: Path) -> tuple[os.stat_result | None, str]:
    """The entry's stat (through symlinks), or None and why it cannot be used."""
    try:
        return path.stat(), ""
    except OSError as exc:
        if not path.is_symlink():
            return None, f"cannot read: {exc.strerror or exc}; check its permissions"
        if exc.errno == errno.ELOOP:
            return None, "symlink loop: the link leads back to itself; remove or fix the link"
        return None, f"dangling symlink: its target {os.readlink(path)} does not exist; remove or fix the link"


_SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _not_regular(mode: int) -> str:
    kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "a special file")
    return f"{kind}, not a regular file: only files are indexed"


def _visit(path: Path, root: Path | None, found: Found) -> None:
    """Walk a folder, record a file, or give the entry's skip reason."""
    st, problem = _stat(path)
    if st is None:
        found.skipped[str(path)] = problem
    elif stat.S_ISDIR(st.st_mode):
        if found.enter(path, st):
            _walk(path, root or path, found)
    elif stat.S_ISREG(st.st_mode):
        found.add(path, root, st)
    else:
        found.skipped[str(path)] = _not_regular(st.st_mode)


def _walk(folder: Path, root: Path, found: Found) -> None:
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        found.skipped[str(folder)] = f"cannot list folder: {exc.strerror or exc}; check its permissions"
        return
    for child in children:
        if not _is_hidden(child):
            _visit(child, root, found)


def _ignorable(path: Path) -> bool:
    """Metadata files that travel with documents: sidecars and manifests are not documents."""
    if path.name in MANIFEST_NAMES:
        return True
    if path.suffix.lower() == ".json":
        suffixes = SUPPORTED_SUFFIXES + tuple(s.upper() for s in SUPPORTED_SUFFIXES)
        return any(path.with_suffix(s).is_file() for s in suffixes)
    return False


# A README.md inside a corpus folder describes the corpus; indexing it would pollute search results.
_DOC_FILE_STEMS = {"README", "LICENSE", "LICENCE", "CHANGELOG"}


def _unsupported(path: Path, given: bool) -> str | None:
    """Why a regular file is not a paper to index (folder documentation, another type), None if it is one."""
    if path.stem.upper() in _DOC_FILE_STEMS and not given:
        return "folder documentation (README/LICENSE), not a council paper"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kind = path.suffix.lower() or "(no extension)"
        return f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
    return None


def find_files(paths: Sequence[Path]) -> Found:
    """Supported files under `paths`, sorted, each at its own path (a symlink keeps its name) with the input
    folder it was found under, and every other entry with the reason it is skipped.

    Raises FileNotFoundError for a path that does not exist.
    """
    found = Found()
    for given in paths:
        own = _own_path(Path(given))
        if not os.path.lexists(own):
            raise FileNotFoundError(f"input path does not exist: {given}")
        _visit(own, None, found)
    found.files.sort(key=lambda item: item[0])
    return found


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Supported files under `paths` (sorted, deduplicated) and (path, reason) for files we skip."""
    found = find_files(paths)
    return [path for path, _ in found.files], sorted(found.skipped.items())


# ------------------------------------------------------------------------------------------- decoding

_ALLOWED_CONTROL = {9, 10, 12, 13, 27}


def looks_binary(raw: bytes) -> bool:
    """NUL bytes or many control characters: cp1252 would "decode" such bytes, so check first."""
    sample = raw[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if (b < 32 and b not in _ALLOWED_CONTROL) or b == 127)
    return controls > 0.02 * max(len(sample), 1)


def decode_text(raw: bytes) -> str:
    """Text from the file's bytes: UTF-16 with a BOM, else UTF-8 (BOM dropped), else cp1252.

    Raises SkipFile for binary content or bytes no encoding reads.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SkipFile(f"undecodable text: bad UTF-16 ({exc.reason})") from exc
    if looks_binary(raw):
        raise SkipFile("binary content (NUL bytes or control characters), not a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SkipFile("undecodable text: neither UTF-8 nor cp1252")


# ---------------------------------------------------------------------------------------- extractors


def extract_text_file(raw: bytes) -> Extracted:
    """A .txt or .md file as one page of decoded text, with no metadata hints."""
    return [(None, decode_text(raw))], {}


_HTML_DROP = ("script", "style", "noscript", "template", "head", "svg", "iframe")
_HTML_BLOCKS = ("p", "div", "section", "article", "blockquote", "table", "ul", "ol", "header", "footer", "main")


def extract_html(raw: bytes) -> Extracted:
    """The visible text of an HTML page as one page, and its <title> as a metadata hint.

    Headings get `#` markers, list items `-`, table cells `|` and blocks line breaks, for structure parsing.
    """
    soup = BeautifulSoup(decode_text(raw), "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    # Give block elements line breaks and headings `#` markers so structure parsing sees them.
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.insert_before(NavigableString("\n\n" + "#" * level + " "))
            tag.insert_after(NavigableString("\n\n"))
    for tag in soup.find_all("br"):
        tag.replace_with(NavigableString("\n"))
    for tag in soup.find_all("li"):
        tag.insert_before(NavigableString("\n- "))
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(NavigableString(" | "))
    for tag in soup.find_all(["tr", "dt", "dd"]):
        tag.insert_after(NavigableString("\n"))
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_after(NavigableString("\n\n"))
    return [(None, soup.get_text())], ({"title": title} if title else {})


def _docx_paragraph(paragraph: Any) -> str:
    text = paragraph.text
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
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


def extract_docx(raw: bytes) -> Extracted:
    """The paragraphs and tables of a DOCX file in order as one page, headings marked `#`; its title as a hint.

    Raises SkipFile for a corrupt package.
    """
    import docx  # python-docx; imported here so text-only builds do not pay for it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
        blocks = []
        for item in document.iter_inner_content():
            blocks.append(_docx_table(item) if hasattr(item, "rows") else _docx_paragraph(item))
        title = document.core_properties.title or ""
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise SkipFile(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # lxml and python-docx raise many types on malformed packages
        raise SkipFile(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    return [(None, "\n\n".join(blocks))], ({"title": title} if title.strip() else {})


def extract_pdf(raw: bytes) -> Extracted:
    """The text of each page of a PDF, numbered from 1, and its title as a hint.

    Opens PDFs with an owner password only; raises SkipFile for a password-protected, corrupt or empty PDF.
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # owner-password-only PDFs open with an empty user password
            except DependencyError as exc:
                raise SkipFile(f"encrypted PDF that cannot be decrypted here: {exc}") from exc
            if not opened:
                raise SkipFile("password-protected PDF (needs a password to open)")
        pages: list[tuple[int | None, str]] = [
            (i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)
        ]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except SkipFile:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on bad files
        raise SkipFile(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    if not pages:
        raise SkipFile("corrupt PDF: no pages")
    return pages, ({"title": title} if title.strip() else {})


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
        return clean_text(pages[0][1]), None
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


def load_document(path: Path, registry: CouncilRegistry | None = None, raw: bytes | None = None) -> Document:
    """Read (unless `raw`, the file's bytes, is given), extract, clean, parse and describe one file.

    Raises SkipFile with the reason.
    """
    path = Path(path)
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(no extension)'}")
    raw = _bytes_of(path, raw)
    if not raw.strip():
        raise SkipFile("empty file" if not raw else "empty file (whitespace only)")
    pages, hints = extractor(raw)
    if all(not text.strip() for _, text in pages):
        raise SkipFile("empty file (whitespace only)" if path.suffix.lower() in (".txt", ".md") else
                       "no extractable text (image-only or empty document?)")  # fmt: skip
    text, page_offsets = _assemble(pages)
    if not text.strip():
        plain = path.suffix.lower() in (".txt", ".md")
        raise SkipFile("empty file (whitespace only)" if plain else "no extractable text after cleaning")
    text, segments = parse_structure(text, page_offsets)
    meta, record = resolve_metadata(path, text, registry, hints)
    return Document(
        meta=meta,
        text=text,
        segments=segments,
        source_path=str(path),
        content_hash=content_hash(raw, record),
    )
