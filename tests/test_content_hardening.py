"""Hostile and mislabelled files (issue 12): zip bombs, deep HTML, encrypted PDFs, bytes that lie about their type.

Every input is generated here; each test would fail on the loader before the issue's fixes.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import struct
import time
import zipfile

import pytest
from fixtures.pdfgen import make_pdf

from indexer import loaders
from indexer.loaders import extract_html, load_document, sniff
from indexer.models import SkipFile
from indexer.structure import _md_heading

PAPER = "Salford City Council\n\nPlanning Committee\n\nThe committee agreed the budget for the library.\n"


def _docx_bytes(*paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs or ("Wolverhampton City Council budget minutes.",):
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _with_member(package: bytes, name: str, size: int) -> bytes:
    """`package` with one more part of `size` zero bytes, deflated (zeros shrink about 1,000 times)."""
    buf = io.BytesIO(package)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as fh:
        chunk = bytes(2**20)
        for _ in range(size // len(chunk)):
            fh.write(chunk)
    return buf.getvalue()


def _declaring(package: bytes, name: str, size: int) -> bytes:
    """`package` with the central directory's uncompressed size of part `name` rewritten to `size` (< 4 GiB)."""
    data = bytearray(package)
    entry = -1
    while (entry := data.find(b"PK\x01\x02", entry + 1)) != -1:
        name_len = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_len].decode() == name:
            struct.pack_into("<I", data, entry + 24, size)
            return bytes(data)
    raise AssertionError(f"no central directory entry for {name}")


def _pdf(encrypt: dict | None = None) -> bytes:
    from pypdf import PdfReader, PdfWriter

    raw = make_pdf([["Trafford Council", "Report to: Executive Committee - 4 March 2024"], ["Budget page two"]])
    if encrypt is None:
        return raw
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    writer.encrypt(**encrypt)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _skip_reason(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SkipFile) as err:
        load_document(path)
    return str(err.value)


# ------------------------------------------------------------------------------------- D4: zip bombs


def test_docx_part_with_a_huge_ratio_is_refused_before_parsing(tmp_path):
    bomb = _with_member(_docx_bytes(), "word/media/image1.bin", 8 * 2**20)  # 8 MiB of zeros: ~8 KiB stored
    assert len(bomb) < 100_000
    t0 = time.perf_counter()
    reason = _skip_reason(tmp_path, "bomb.docx", bomb)
    assert time.perf_counter() - t0 < 1
    assert "zip bomb" in reason and "MAX_ZIP_RATIO" in reason and "word/media/image1.bin" in reason


def test_docx_declaring_a_gigabyte_is_refused_from_its_central_directory(tmp_path):
    # 1 GiB inside: only the central directory is read, nothing is decompressed
    bomb = _declaring(_docx_bytes(), "word/document.xml", 2**30)
    reason = _skip_reason(tmp_path, "gig.docx", bomb)
    assert "MAX_ZIP_MEMBER_BYTES" in reason and "word/document.xml" in reason and "1,024.0 MiB" in reason


def test_docx_whose_parts_add_up_past_the_total_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_ZIP_TOTAL_BYTES", 20_000)  # python-docx's template alone unpacks to ~37 kB
    reason = _skip_reason(tmp_path, "many.docx", _docx_bytes())
    assert "MAX_ZIP_TOTAL_BYTES limit of 20,000 bytes" in reason


def test_docx_styles_are_read_once_not_per_paragraph():
    import docx

    document = docx.Document()
    for i in range(1_500):
        document.add_heading(f"Item {i}", level=2) if i % 10 == 0 else document.add_paragraph(f"Paragraph {i}.")
    document.add_paragraph("Closing words", style="Title")
    buf = io.BytesIO()
    document.save(buf)
    t0 = time.perf_counter()
    pages, _ = loaders.extract_docx(buf.getvalue())
    assert time.perf_counter() - t0 < 2  # python-docx's Paragraph.style: ~4 s for these
    text = pages[0][1]
    assert text.startswith("## Item 0\n\nParagraph 1.") and text.endswith("\n\n# Closing words")


def test_docx_with_too_many_paragraphs_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_DOCX_BLOCKS", 3)
    reason = _skip_reason(tmp_path, "long.docx", _docx_bytes("a b", "c d", "e f", "g h"))
    assert "MAX_DOCX_BLOCKS" in reason


def test_a_normal_docx_passes_the_zip_checks(tmp_path):
    path = tmp_path / "ok.docx"
    path.write_bytes(_docx_bytes("Wolverhampton City Council budget minutes."))
    assert "budget minutes" in load_document(path).text


@pytest.mark.parametrize("name", ["long.txt", "long.docx", "long.pdf", "long.html"])
def test_extracted_text_is_capped(tmp_path, monkeypatch, name):
    monkeypatch.setattr(loaders, "MAX_TEXT_CHARS", 2_000)
    words = "The council agreed the budget. " * 100  # 3,100 characters
    content = {
        "long.txt": words.encode(),
        "long.docx": _docx_bytes(words),
        "long.pdf": make_pdf([[words[:1500]], [words[:1500]]]),
        "long.html": f"<html><body><p>{words}</p></body></html>".encode(),
    }[name]
    reason = _skip_reason(tmp_path, name, content)
    assert "too much text" in reason and "MAX_TEXT_CHARS limit of 2,000" in reason


# ---------------------------------------------------------------------------------- D5: linear HTML


def _nested(n: int) -> bytes:
    return ("<html><body>" + "<div>" * n + "deep words" + "</div>" * n + "<p>after words</p></body></html>").encode()


def test_deeply_nested_html_is_linear_and_keeps_all_text():
    t0 = time.perf_counter()
    pages, _ = extract_html(_nested(10_000))
    t_small = time.perf_counter() - t0
    assert t_small < 2  # BeautifulSoup took ~10 s here
    t0 = time.perf_counter()
    pages, _ = extract_html(_nested(100_000))  # 1.1 MB; BeautifulSoup: a projected 17 minutes
    t_big = time.perf_counter() - t0
    assert t_big < 5 and t_big < max(30 * t_small, 0.5)
    text = pages[0][1]
    assert "deep words" in text and "after words" in text  # lxml's tree would stop at depth 256 (2,048)


def test_unclosed_table_tags_are_linear():
    raw = ("<span><p><table><tr><td>cell " * 10_000).encode()  # BeautifulSoup: 23 s
    t0 = time.perf_counter()
    pages, _ = extract_html(raw)
    assert time.perf_counter() - t0 < 3
    assert pages[0][1].count("cell") == 10_000


def test_html_markers_and_title():
    raw = (b"<!DOCTYPE html><html><head><title>Cabinet &amp; <b>Council</b></title><script>x()</script></head>"
           b"<body><h2>Budget</h2><p>one<br>two<!-- hidden --></p><ul><li>a</li></ul>"
           b"<table><tr><th>Q</th><td>A</td></tr></table><template><title>no</title></template>"
           b"<pre>  kept  </pre></body></html>")
    pages, hints = extract_html(raw)
    assert hints == {"title": "Cabinet & <b>Council</b>"}  # a <title> holds text only, as BeautifulSoup saw it
    assert pages[0][1] == "\n\n## Budget\n\none\ntwo\n\n\n- a\n\nQ | A | \n\n\n  kept  "


# ------------------------------------------------------------------------------------ D6: regexes


@pytest.mark.parametrize("line,expected", [
    ("## Budget ##", (2, "Budget")), ("# C#", (1, "C")), ("# ###", (1, "#")), ("# Foo # #", (1, "Foo #")),
    ("####### seven", None), ("#nospace", None), ("### 2.1 Item", (3, "2.1 Item")),
])  # fmt: skip
def test_markdown_heading_titles(line, expected):
    assert _md_heading(line) == expected


def test_markdown_heading_with_a_long_hash_run_is_fast():
    t0 = time.perf_counter()
    assert _md_heading("# a" + "#" * 48_000 + "b") == (1, "a" + "#" * 48_000 + "b")  # was 7.8 s
    assert time.perf_counter() - t0 < 0.5


# ------------------------------------------------------------------------------- D8: encrypted PDFs


def test_pypdf_has_an_aes_provider():
    from pypdf._crypt_providers import crypt_provider

    assert crypt_provider[0] != "local_crypt_fallback", "install `cryptography` (a project dependency)"


@pytest.mark.parametrize("algorithm", ["AES-256", "AES-128"])
def test_pdf_with_aes_permissions_only_is_indexed(tmp_path, algorithm):
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_pdf({"user_password": "", "owner_password": "x", "algorithm": algorithm}))
    doc = load_document(path)
    assert "Budget page two" in doc.text and {s.page for s in doc.segments} == {1, 2}


def test_pdf_needing_a_password_says_so(tmp_path):
    raw = _pdf({"user_password": "secret", "owner_password": "x", "algorithm": "AES-256"})
    assert _skip_reason(tmp_path, "locked.pdf", raw).startswith("password-protected PDF: it needs a password")


# --------------------------------------------------------------------------- D12: bytes, not names


def test_sniff():
    assert sniff(b"%PDF-1.7\n...") == "pdf" and sniff(b"PK\x03\x04rest") == "zip"
    assert sniff("x".encode("utf-32")) == "utf-32" and sniff("x".encode("utf-16")) == "utf-16"
    assert sniff(b"\xef\xbb\xbf \n<!DOCTYPE HTML><html>") == "html" and sniff(b"<html><body>") == "html"
    assert sniff(b"\x89PNG\r\n\x1a\n\x00\x00") == "a PNG image" and sniff(b"plain words") == "text"
    assert sniff(b"\x00\x01\x02binary") == "binary data"


def test_pdf_renamed_txt_is_read_as_a_pdf(tmp_path):
    path = tmp_path / "renamed.txt"
    path.write_bytes(_pdf())
    doc = load_document(path)
    assert "Budget page two" in doc.text and "obj" not in doc.text and {s.page for s in doc.segments} == {1, 2}


def test_docx_renamed_txt_is_read_as_a_docx(tmp_path):
    path = tmp_path / "renamed.txt"
    path.write_bytes(_docx_bytes("Wolverhampton City Council budget minutes."))
    assert load_document(path).text == "Wolverhampton City Council budget minutes."


def test_html_saved_as_txt_is_read_as_html(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(b"<!DOCTYPE html><html><head><script>var x;</script></head><body><p>Council minutes</p></body>")
    assert load_document(path).text == "Council minutes"


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be", "utf-16"])
def test_unicode_with_a_bom_is_decoded(tmp_path, encoding):
    bom = {"utf-32": b"", "utf-32-be": codecs.BOM_UTF32_BE, "utf-16": b""}[encoding]
    path = tmp_path / "wide.txt"
    path.write_bytes(bom + PAPER.encode(encoding))
    doc = load_document(path)
    assert doc.text == PAPER.strip() and "\x00" not in doc.text


@pytest.mark.parametrize("name,content,expected", [
    ("garbage16.txt", codecs.BOM_UTF16_LE + bytes(400), "binary content: decoded as UTF-16"),
    ("nuls32.txt", codecs.BOM_UTF32_LE + bytes(400), "binary content: decoded as UTF-32"),
    ("one.htm", b"x", "empty document: no words"),
    ("dots.txt", b"... 12 -- ## ((", "empty document: no words"),
    ("error.pdf", b"<!DOCTYPE html><html><body>Access denied</body></html>", "not a PDF: the file has no %PDF- header;"
                                                                               " its bytes are an HTML page"),
    ("notes.docx", b"just some words", "corrupt DOCX: not a ZIP package"),
    ("image.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content: the bytes are a PNG image, not a .html"),
    ("old.txt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "legacy Microsoft Office file"),
    ("truncated.pdf", make_pdf([["Some text"]])[:200], "corrupt PDF: its structure is damaged or truncated ["),
    ("truncated.docx", _docx_bytes()[:3000], "corrupt DOCX: its ZIP package is damaged or truncated [zipfile."),
])  # fmt: skip
def test_content_that_is_not_what_its_name_says_is_skipped_with_a_reason(tmp_path, name, content, expected):
    assert expected in _skip_reason(tmp_path, name, content)


def test_a_damaged_compressed_stream_is_said_in_words(tmp_path):
    data = bytearray(_docx_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 40] = b"\xff" * 40  # the deflated bytes of document.xml, not the directory
    reason = _skip_reason(tmp_path, "damaged.docx", bytes(data))
    assert reason.startswith("corrupt DOCX: a compressed stream inside it is damaged [zlib.error: Error -3")


def test_zip_packages_other_than_word_are_named(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert "it is an Excel workbook (XLSX)" in _skip_reason(tmp_path, "sheet.docx", buf.getvalue())
    assert "the bytes are an Excel workbook (XLSX), not a .txt file" in _skip_reason(tmp_path, "s.txt", buf.getvalue())


def test_pypdf_warnings_name_the_file(tmp_path, caplog):
    path = tmp_path / "shifted.pdf"
    path.write_bytes(re.sub(rb"startxref\n\d+", b"startxref\n99999", _pdf()))  # pypdf warns, then recovers
    with caplog.at_level(logging.WARNING):
        doc = load_document(path)
    assert "Budget page two" in doc.text
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]  # none reach stderr unnamed
    ours = [r.getMessage() for r in caplog.records if r.name == "indexer.loaders"]
    assert ours and all(m.startswith(f"{path}: ") for m in ours) and any("startxref" in m for m in ours)
    assert logging.getLogger("pypdf").propagate and not logging.getLogger("pypdf").handlers  # restored
