"""Fuzz build: the five seed papers of corpus/ plus hundreds of broken, hostile and mislabelled files.

    python -m bench.bench_fuzz_build                        # the real embedding model, as `councilqa index` uses
    python -m bench.bench_fuzz_build --fake                 # the hashing FakeEmbedder: no model, a quick check
    python -m bench.bench_fuzz_build --fake --files 40 --light    # the smoke test's size (a few seconds)
    python -m bench.bench_fuzz_build --keep /tmp/fuzz       # keep the generated folder and the index

The files are generated in a temporary folder: empty, whitespace-only and binary files, other formats under
our extensions, truncated and corrupt PDFs and DOCX, password PDFs, DOCX zip bombs (a real 1 GiB one
unless --light), deeply nested and unclosed HTML, pathological long lines (hash runs, every Unicode space,
punctuation and digit runs), UTF-32 and BOM-garbage text, a PDF renamed .txt, 1-byte pages, broken sidecars,
a symlink loop, a FIFO, a name that is not UTF-8, and the same name in two subfolders. Some generated files
are legitimately good (a UTF-32 paper, a renamed PDF, an AES-restricted PDF...): they are listed, and
they alone may join the seeds in the index.

The build runs in a subprocess (`build_index`, as the CLI runs it). Printed: its exit code, wall time, peak
memory (ru_maxrss of that subprocess, from wait4), the documents indexed, the skip reasons grouped with
counts, and what reached stderr. Exit status 1 when a bad file was indexed, a seed was missing, the build
failed, or a target (under 120 s, under 2 GiB) was missed.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tiny PDF writer of the test fixtures

from bench.common import LOCAL_CORPUS, machine  # noqa: E402

TARGET_SECONDS = 120
TARGET_MIB = 2048
N = 50_000  # characters in a pathological line


# ------------------------------------------------------------------------------------------- contents

_TOPICS = ("the library budget", "a new village sign", "road gritting routes", "the youth centre lease",
           "allotment rents", "the play area fence", "street lighting", "the parish newsletter")


def paper(i: int) -> str:
    """A short, distinct council paper."""
    topic = _TOPICS[i % len(_TOPICS)]
    return (f"Ashcombe Parish Council\n\nFinance Committee\n\n"
            f"Minutes of the meeting held on {1 + i % 27} March 2024.\n\n"
            f"1. Apologies\n\nApologies were received from Councillor Number {i}.\n\n2. {topic.title()}\n\n"
            f"Members discussed {topic} and agreed to consult residents before the next meeting (item {i}).\n")


def pdf_bytes(text: str) -> bytes:
    from fixtures.pdfgen import make_pdf

    paragraphs = [p for p in text.split("\n") if p.strip()]
    return make_pdf([paragraphs[:4], paragraphs[4:]])


def encrypted_pdf(text: str, user: str, algorithm: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password=user, owner_password="owner", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for para in text.split("\n\n"):
        document.add_paragraph(para)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _docx_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx_bytes(paper(0)))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_bomb(light: bool) -> bytes:
    """A real DOCX whose word/document.xml unpacks to 1 GiB (about 4.5 MB on disk); 64 MiB with --light."""
    parts = _docx_parts()
    size = (64 if light else 1024) * 2**20
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in parts.items():
            if name != "word/document.xml":
                archive.writestr(name, data)
        with archive.open("word/document.xml", "w", force_zip64=True) as fh:
            head = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                    b'wordprocessingml/2006/main"><w:body>')
            fh.write(head)
            block = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>" * (2**20 // 38)
            for _ in range(size // len(block)):
                fh.write(block)
            fh.write(b"</w:body></w:document>")
    return buf.getvalue()


def declared_bomb() -> bytes:
    """A DOCX whose central directory says word/document.xml holds 3.9 GB (nothing of the kind is stored)."""
    data = bytearray(docx_bytes(paper(1)))
    pos = -1
    while (pos := data.find(b"PK\x01\x02", pos + 1)) != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == b"word/document.xml":
            struct.pack_into("<I", data, pos + 24, 0xFFFF0000)
    return bytes(data)


def many_parts_bomb() -> bytes:
    """A DOCX with 300 extra parts of 1 MiB of zeros each (under each part's limits, over the total)."""
    parts = _docx_parts()
    buf = io.BytesIO()
    zeros = bytes(2**20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        for i in range(300):
            archive.writestr(f"word/media/part{i}.bin", zeros[: 2**20 - 1])  # just under the ratio check
    return buf.getvalue()


def pathological_lines() -> dict[str, str]:
    """Long lines without words: super-linear regexes used to stall on these."""
    lines = {
        "hash_run": "#" * N, "md_heading": "# a" + "#" * N + "b", "a_run": "a" * N, "A_dash": "A-" * (N // 2),
        "digits": "1" * N, "colons": ":" * N, "open_parens": "(" * N, "dots": "." * N, "commas": "," * N,
        "comment_starts": "<!--" * (N // 4), "entity_starts": "&#" * (N // 2), "pipes": "|" * N,
        "dash_lines": "-\n" * (N // 2), "blank_lines": " \n" * (N // 2), "mixed": "1.:(#- ,;!?\t" * (N // 12),
        "times": "12:34:56 " * (N // 9), "quotes": "'’" * (N // 2), "brackets": "[0:00:0" * (N // 7),
    }
    for c in range(0x3001):
        if chr(c).isspace() and chr(c) != "\n":
            lines[f"space_U+{c:04X}"] = "a" + chr(c) * N + "b"
    return lines


# ---------------------------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One generated entry: `make` writes it under the folder; `good` ones may be indexed, the others not."""

    name: str  # the path below the folder (what `make` creates first)
    kind: str
    make: Callable[[Path], None]
    good: bool = False


def _write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return make


def _with_sidecar(rel: str, text: str, sidecar: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        _write(rel, text)(root)
        (root / rel).with_suffix(".json").write_text(sidecar)

    return make


def _symlink(rel: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)

    return make


def _fifo(rel: str) -> Callable[[Path], None]:
    return lambda root: os.mkfifo(root / rel)


def _bytes_name(name: bytes, data: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        with open(os.path.join(os.fsencode(root), name), "wb") as fh:
            fh.write(data.encode())

    return make


def bad_kinds(light: bool) -> dict[str, list[Case]]:
    """The bad entries, by kind; every kind is represented before any kind repeats."""
    rng = random.Random(12)
    pdf, docx = pdf_bytes(paper(2)), docx_bytes(paper(3))
    k: dict[str, list[Case]] = {}

    def add(kind: str, name: str, make: Callable[[Path], None]) -> None:
        k.setdefault(kind, []).append(Case(f"{kind}/{name}", kind, make))

    for ext in ("txt", "md", "html", "htm", "pdf", "docx"):
        add("empty", f"empty.{ext}", _write(f"empty/empty.{ext}", b""))
    for name, data in (("blank.txt", " \n\t\n"), ("nbsp.md", "\u00a0\n\u200b"), ("bom.txt", "\ufeff")):
        add("empty", name, _write(f"empty/{name}", data))
    for i in range(20):
        ext = ("txt", "md", "html", "htm")[i % 4]
        add("binary", f"random_{i}.{ext}", _write(f"binary/random_{i}.{ext}", rng.randbytes(200 + 997 * i)))
    for name, magic in (("image.html", b"\x89PNG\r\n\x1a\n"), ("photo.txt", b"\xff\xd8\xff\xe0"),
                        ("legacy.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), ("archive.txt", b"\x1f\x8b\x08"),
                        ("program.md", b"\x7fELF\x02\x01"), ("letter.txt", b"{\\rtf1\\ansi Dear Sir}")):
        add("other_format", name, _write(f"other_format/{name}", magic + rng.randbytes(500)))
    for i in range(12):
        cut = int(len(pdf) * (i + 1) / 13)
        add("truncated_pdf", f"cut_{i}.pdf", _write(f"truncated_pdf/cut_{i}.pdf", pdf[:cut]))
    corrupt_pdfs = {
        "header_only.pdf": b"%PDF-1.4\n",
        "garbage.pdf": b"%PDF-1.7\n" + rng.randbytes(5000),
        "flate_garbage.pdf": pdf.replace(b"<< /Length", b"<< /Filter /FlateDecode /Length"),
        "no_pages.pdf": pdf.replace(b"/Count 2", b"/Count 0").replace(b"/Kids [4 0 R 6 0 R]", b"/Kids []"),
        "loop_pages.pdf": pdf.replace(b"/Kids [4 0 R 6 0 R]", b"/Kids [2 0 R]"),
    }
    for name, data in corrupt_pdfs.items():
        add("corrupt_pdf", name, _write(f"corrupt_pdf/{name}", data))
    for i in range(12):
        cut = int(len(docx) * (i + 1) / 13)
        add("truncated_docx", f"cut_{i}.docx", _write(f"truncated_docx/cut_{i}.docx", docx[:cut]))
    parts = _docx_parts()
    corrupt_docx = {
        "pk_garbage.docx": b"PK\x03\x04" + rng.randbytes(3000),
        "workbook.docx": _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
        "bad_xml.docx": _zip({**parts, "word/document.xml": b"<w:document><w:body><w:p>unclosed"}),
        "no_types.docx": _zip({k2: v for k2, v in parts.items() if k2 != "[Content_Types].xml"}),
        "empty_zip.docx": _zip({}),
        "text.docx": b"just some words typed into a file named .docx",
    }
    for name, data in corrupt_docx.items():
        add("corrupt_docx", name, _write(f"corrupt_docx/{name}", data))
    for algorithm in ("RC4-40", "RC4-128", "AES-128", "AES-256"):
        name = f"locked_{algorithm}.pdf"
        add("password_pdf", name, _write(f"password_pdf/{name}", encrypted_pdf(paper(4), "secret", algorithm)))
    add("zip_bomb", "gigabyte.docx", _write("zip_bomb/gigabyte.docx", zip_bomb(light)))
    add("zip_bomb", "declared.docx", _write("zip_bomb/declared.docx", declared_bomb()))
    add("zip_bomb", "many_parts.docx", _write("zip_bomb/many_parts.docx", many_parts_bomb()))
    add("zip_bomb", "zeros_ratio.docx", _write("zip_bomb/zeros_ratio.docx",
                                               _zip({**parts, "word/media/z.bin": bytes(8 * 2**20)})))
    nested = {
        "divs_100k.html": "<div>" * 100_000 + "</div>" * 100_000,
        "divs_16k.htm": "<html><body>" + "<div>" * 16_000,
        "unclosed_10k.html": "<span><p><table><tr><td>" * 10_000,
        "bold_italic_50k.html": "<b><i>" * 50_000,
        "lists_20k.html": "<ul><li>" * 20_000,
    }
    for name, data in nested.items():
        add("nested_html", name, _write(f"nested_html/{name}", data))
    for name, line in pathological_lines().items():
        ext = "md" if name.startswith(("hash", "md")) else "txt"
        add("long_line", f"{name}.{ext}", _write(f"long_line/{name}.{ext}", line + "\n"))
    wide = {
        "nuls_utf32.txt": codecs.BOM_UTF32_LE + bytes(4000),
        "nuls_utf16.txt": codecs.BOM_UTF16_LE + bytes(4000),
        "controls_utf16.md": codecs.BOM_UTF16_BE + "\x01\x02\x03\x04".encode("utf-16-be") * 500,
        "bad_utf16.txt": codecs.BOM_UTF16_LE + b"\x00\xd8" * 100,  # lone surrogates
    }
    for name, data in wide.items():
        add("bom_garbage", name, _write(f"bom_garbage/{name}", data))
    for name, data in (("one.htm", b"x"), ("lt.html", b"<"), ("dot.txt", b"."), ("a.md", b"a\n"), ("dash.htm", b"-")):
        add("tiny", name, _write(f"tiny/{name}", data))
    mislabelled = {
        "error_page.pdf": b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>",
        "login.pdf": b"<html><body><form>Sign in to continue</form></body></html>",
        "notes.pdf": b"These are plain text notes saved with a .pdf name.",
        "page.docx": b"<!DOCTYPE html><html><body>Access denied</body></html>",
    }
    for name, data in mislabelled.items():
        add("mislabelled", name, _write(f"mislabelled/{name}", data))
    sidecars = {
        "invalid_json.txt": '{"council": "X",}', "list_json.txt": "[1, 2]",
        "bad_date.txt": '{"date": "the thirty-second of Smarch"}', "bad_id.txt": '{"doc_id": "../escape"}',
        "number_title.txt": '{"title": {"nested": true}}',
    }
    for i, (name, sidecar) in enumerate(sidecars.items()):
        add("broken_sidecar", name, _with_sidecar(f"broken_sidecar/{name}", paper(40 + i), sidecar))
    add("symlink", "loop_dir", _symlink("symlink/loop_dir", "."))
    add("symlink", "up_dir", _symlink("symlink/inner/up", "../.."))
    add("symlink", "a.txt", lambda root: (_symlink("symlink/a.txt", "b.txt")(root),
                                          _symlink("symlink/b.txt", "a.txt")(root)))
    add("symlink", "dangling.txt", _symlink("symlink/dangling.txt", "nowhere.txt"))
    add("special", "pipe.txt", lambda root: ((root / "special").mkdir(exist_ok=True), _fifo("special/pipe.txt")(root)))
    for name in ("sheet.xlsx", "old.doc", "notes.rtf", "README.md"):
        add("unsupported", name, _write(f"unsupported/{name}", paper(50)))
    return k


def good_cases() -> list[Case]:
    """Generated files that are legitimately good papers: these may be indexed."""
    return [
        Case("good/utf32_le.txt", "good", _write("good/utf32_le.txt", paper(60).encode("utf-32")), True),
        Case("good/utf32_be.txt", "good", _write("good/utf32_be.txt",
                                                 codecs.BOM_UTF32_BE + paper(61).encode("utf-32-be")), True),
        Case("good/renamed_pdf.txt", "good", _write("good/renamed_pdf.txt", pdf_bytes(paper(62))), True),
        Case("good/renamed_docx.txt", "good", _write("good/renamed_docx.txt", docx_bytes(paper(63))), True),
        Case("good/html_page.txt", "good", _write("good/html_page.txt", "<!DOCTYPE html><html><body><p>"
                                                  + paper(64).replace("\n\n", "</p><p>") + "</p></body></html>"), True),
        Case("good/aes_restricted.pdf", "good",
             _write("good/aes_restricted.pdf", encrypted_pdf(paper(65), "", "AES-256")), True),
        Case("good/rc4_restricted.pdf", "good",
             _write("good/rc4_restricted.pdf", encrypted_pdf(paper(66), "", "RC4-128")), True),
        Case("good/deep_page.html", "good", _write("good/deep_page.html", "<div>" * 100_000 + "<p>"
                                                   + paper(67).replace("\n\n", "</p><p>") + "</p>"), True),
        Case("good/long_hash_line.md", "good", _write("good/long_hash_line.md", paper(68) + "#" * 20_000 + "\n"), True),
        Case("good/em_spaces.txt", "good", _write("good/em_spaces.txt", paper(69) + "x" + "\u2003" * 20_000 + "y\n"),
             True),
        Case("good/paren_line.txt", "good", _write("good/paren_line.txt", paper(70) + "(" * 20_000 + "\n"), True),
        Case("good/recoverable_xref.pdf", "good", _write("good/recoverable_xref.pdf", re.sub(
            rb"startxref\n\d+", b"startxref\n999999", pdf_bytes(paper(74)))), True),  # pypdf rebuilds the xref
        Case("dup/a/minutes.txt", "good", _write("dup/a/minutes.txt", paper(71)), True),
        Case("dup/b/minutes.txt", "good", _write("dup/b/minutes.txt", paper(72)), True),
        Case(os.fsdecode(b"odd_name/caf\xe9_minutes.txt"), "good",
             lambda root: ((root / "odd_name").mkdir(), _bytes_name(b"odd_name/caf\xe9_minutes.txt", paper(73))(root)),
             True),
    ]


def generate(root: Path, n_bad: int, light: bool) -> tuple[list[Case], list[Case], list[str]]:
    """Write the seeds, `n_bad` bad entries (round-robin over the kinds) and the good files under `root`."""
    corpus = sorted(LOCAL_CORPUS.glob("*.txt"))
    for path in corpus:
        shutil.copy2(path, root / path.name)
        if path.with_suffix(".json").is_file():
            shutil.copy2(path.with_suffix(".json"), root / path.with_suffix(".json").name)
    kinds = bad_kinds(light)
    bad: list[Case] = []
    depth = 0
    while len(bad) < n_bad and any(depth < len(v) for v in kinds.values()):
        bad += [cases[depth] for cases in kinds.values() if depth < len(cases)][: n_bad - len(bad)]
        depth += 1
    good = good_cases()
    for case in bad + good:
        case.make(root)
    return bad, good, [p.name for p in corpus]


# ----------------------------------------------------------------------------------------------- child


def child(corpus: Path, work: Path, fake: bool, out: Path) -> int:
    """Build the index of `corpus` into `work/index`; write what was indexed and skipped to `out`."""
    import sqlite3

    from common.settings import Settings
    from indexer.build import build_index
    from indexer.index import PASSAGES

    embedder = None
    if fake:
        from indexer.embed import FakeEmbedder

        embedder = FakeEmbedder()
    settings = Settings(index_dir=work / "index", cache_dir=work / "cache")
    report = build_index([corpus], settings, embedder=embedder, progress=False)
    with sqlite3.connect(work / "index" / PASSAGES) as db:
        docs = db.execute("SELECT doc_id, source_path FROM documents ORDER BY doc_id").fetchall()
    out.write_text(json.dumps({"documents": docs, "skipped": report.skipped, "chunks": report.chunks,
                               "seconds": report.seconds}))
    return 0


def run_child(corpus: Path, work: Path, fake: bool, timeout: float) -> dict:
    """The build in a subprocess: its exit code, wall time, peak RSS (wait4's ru_maxrss), result and stderr."""
    out, log = work / "result.json", work / "child.log"
    cmd = [sys.executable, "-m", "bench.bench_fuzz_build", "--child", str(corpus), str(work), str(out)]
    cmd += ["--fake"] if fake else []
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result = json.loads(out.read_text()) if out.is_file() else {}
    return {"rc": proc.returncode, "wall": wall, "peak_mib": usage.ru_maxrss / 1024, "result": result,
            "log": log.read_text(errors="replace"), "timed_out": wall >= timeout}


def _group(reason: str, root: str) -> str:
    """A skip reason with its file-specific parts (paths, names, numbers) masked, for counting alike reasons."""
    reason = reason.replace(root, "<dir>")
    reason = re.sub(r"<dir>\S*", "<path>", reason)
    reason = re.sub(r"\b[\w.-]+\.(?:json|txt|md|pdf|docx|html?)\b", "<file>", reason)
    reason = re.sub(r"\d[\d,.]*", "#", reason)
    return reason[:160]


def _shown(name: str) -> str:
    """A path as the index stores and this report prints it: bytes that are not UTF-8 as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def report(run: dict, corpus: Path, bad: list[Case], good: list[Case], seeds: list[str], fake: bool) -> int:
    """Print the run's figures; 1 when a bad file was indexed, a seed is missing, or a target was missed."""
    result = run["result"]
    root = str(corpus.resolve())
    indexed = {}
    for doc_id, source in result.get("documents", []):
        rel = os.path.relpath(Path(source).resolve(), root) if source else f"(no source path: {doc_id})"
        indexed[rel] = doc_id
    good_names = {_shown(c.name) for c in good}
    indexed = {_shown(rel): doc_id for rel, doc_id in indexed.items()}
    unexpected = sorted(rel for rel in indexed if rel not in good_names and rel not in seeds)
    missing_seeds = sorted(set(seeds) - set(indexed))
    good_indexed = sorted(rel for rel in indexed if rel in good_names)
    print(f"# Fuzz build\n\nMachine: {machine()}")
    print(f"Embedder: {'FakeEmbedder (--fake)' if fake else 'the real model (settings default)'}")
    print(f"Input: {len(seeds)} seed papers + {len(bad)} bad entries ({len({c.kind for c in bad})} kinds) "
          f"+ {len(good)} good generated files\n")
    print(f"exit code: {run['rc']}" + (" (killed: timed out)" if run["timed_out"] else ""))
    print(f"wall time: {run['wall']:.1f} s (target < {TARGET_SECONDS} s)")
    print(f"peak memory: {run['peak_mib']:,.0f} MiB (target < {TARGET_MIB:,} MiB)")
    print(f"documents indexed: {len(indexed)} = {len(seeds) - len(missing_seeds)} seeds + {len(good_indexed)} "
          f"of {len(good)} good generated files + {len(unexpected)} unexpected; {result.get('chunks', 0)} chunks")
    for rel in unexpected:
        print(f"  UNEXPECTED (a bad file was indexed): {rel}")
    for rel in missing_seeds:
        print(f"  MISSING seed: {rel}")
    for rel in sorted(good_names - set(good_indexed)):
        print(f"  good file not indexed: {rel}")
    skipped = result.get("skipped", [])
    groups = Counter(_group(reason, root) for _, reason in skipped)
    print(f"\nskipped: {len(skipped)} entries, {len(groups)} distinct reasons\n")
    for reason, n in groups.most_common():
        print(f"{n:5}  {reason}")
    lines = [ln for ln in run["log"].splitlines() if ln.strip()]
    unnamed = [ln for ln in lines if root not in ln and str(corpus) not in ln]
    print(f"\nbuild output: {len(lines)} lines, {len(unnamed)} naming no file" + (":" if unnamed else ""))
    for ln in unnamed[:8]:
        print(f"  {ln[:200]}")
    ok = (run["rc"] == 0 and not unexpected and not missing_seeds and run["wall"] < TARGET_SECONDS
          and run["peak_mib"] < TARGET_MIB)
    print(f"\nresult: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fake", action="store_true", help="the hashing FakeEmbedder instead of the real model")
    ap.add_argument("--files", type=int, default=10_000,
                    help="at most this many bad entries (default: all, about 160); each kind comes before repeats")
    ap.add_argument("--light", action="store_true", help="64 MiB instead of 1 GiB zip bombs: quick to generate")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before the build is killed")
    ap.add_argument("--keep", type=Path, default=None, help="generate into this (new) folder and keep it")
    ap.add_argument("--child", nargs=3, metavar=("CORPUS", "WORK", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        corpus, work, out = map(Path, args.child)
        return child(corpus, work, args.fake, out)
    work = args.keep or Path(tempfile.mkdtemp(prefix="councilqa-bench-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    corpus.mkdir()
    try:
        t0 = time.perf_counter()
        bad, good, seeds = generate(corpus, args.files, args.light)
        print(f"(generated in {time.perf_counter() - t0:.1f} s under {corpus})", file=sys.stderr)
        run = run_child(corpus, work, args.fake, args.timeout)
        rc = report(run, corpus, bad, good, seeds, args.fake)
        if run["rc"] != 0:
            print("\nbuild output (last lines):\n" + "\n".join(run["log"].splitlines()[-15:]))
        return rc
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
