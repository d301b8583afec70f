"""Issue 12, hardening: odd names, symlink loops, special files, clashing ids, damaged leftovers, sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.settings import Settings
from councilqa.cli import app
from indexer import index as index_module
from indexer import pipeline
from indexer.build import IndexBuildError, build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex, IndexLoadError, recover_interrupted
from indexer.loaders import discover, find_files, load_document
from indexer.metadata import default_doc_ids, is_safe_doc_id
from indexer.models import SkipFile
from indexer.pipeline import FileRecord, MetadataBytes

ROOT = Path(__file__).resolve().parents[1]


def _text(topic: str, n: int = 6) -> str:
    return "\n\n".join(f"Paragraph {i}: the committee discussed {topic} item {i} at length." for i in range(n))


def _write(path: Path, text: str, **meta: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if meta:
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def _settings(tmp_path: Path, index: str = "index", cache: str = "cache") -> Settings:
    return Settings(index_dir=tmp_path / index, cache_dir=tmp_path / cache, chunk_tokens=60, chunk_overlap=10)


def _build(paths: list[Path], settings: Settings, **kw: object):  # type: ignore[no-untyped-def]
    return build_index(paths, settings, embedder=FakeEmbedder(), progress=False, **kw)


def _ids(settings: Settings) -> list[str]:
    return sorted(CouncilIndex.load(settings.index_dir).passages.document_hashes())


def _bytes_name(folder: Path, name: bytes, data: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
        fh.write(data)


# ------------------------------------------------------------------------------ D2: non-UTF-8 names


def test_a_file_name_that_is_not_utf8_is_indexed_and_the_summary_prints(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "good.txt", _text("parks"))
    _bytes_name(corpus, b"bad\xff.txt", _text("bins").encode())
    _bytes_name(corpus, b"empty\xfe.txt", b"")
    settings = _settings(tmp_path)
    report = _build([corpus], settings)
    assert report.documents == 2
    assert [Path(p).name for p, _ in report.skipped] == ["empty\udcfe.txt"]
    summary = report.summary()
    summary.encode("utf-8")  # strict: prints on any UTF-8 terminal
    assert "empty\\xfe.txt: empty file" in summary
    idx = CouncilIndex.load(settings.index_dir)
    assert all(is_safe_doc_id(d) for d in idx.passages.document_hashes())
    assert len(idx.passages.document_hashes()) == 2
    again = _build([corpus], settings)  # its fingerprint is stable: unchanged, so taken as it is
    assert again.up_to_date


# ------------------------------------------------------------------------------ D3: symlink loops


def test_a_symlink_loop_is_walked_once_and_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "sub" / "a.txt", "x")
    (corpus / "notes.xyz").write_text("not a paper")
    os.symlink("..", corpus / "sub" / "up")
    files, skipped = discover([corpus])
    assert [f.name for f in files] == ["a.txt"]
    reasons = dict(skipped)
    assert [p for p in reasons if p.endswith("notes.xyz")] == [str(corpus / "notes.xyz")]  # once, not 40 times
    assert reasons[str(corpus / "sub" / "up")].startswith("symlink loop")


def test_two_symlink_loops_are_not_exponential(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "a" / "x.txt", "x")
    (corpus / "b").mkdir()
    os.symlink("..", corpus / "a" / "loop1")
    os.symlink("..", corpus / "b" / "loop2")
    script = "import sys; from indexer.loaders import discover; f, s = discover([sys.argv[1]]); print(len(f), len(s))"
    out = subprocess.run([sys.executable, "-c", script, str(corpus)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=30)  # before: 60 s and more, 1.3 GB
    assert out.stdout.split() == ["1", "2"]


# ------------------------------------------------------------------------- D7: ids from the path


def test_papers_with_the_same_name_in_different_folders_all_keep_an_id(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    for folder in ("", "2024-01", "2024-02"):
        _write(corpus / folder / "minutes.txt", _text(f"minutes {folder or 'top'}"))
    settings = _settings(tmp_path)
    report = _build([corpus], settings)
    assert (report.documents, report.skipped) == (3, [])
    assert _ids(settings) == ["2024-01--minutes", "2024-02--minutes", "minutes"]


def test_one_paper_in_two_formats_gets_both_extensions_in_any_order() -> None:
    root = Path("/corpus")
    files = [(root / "minutes.pdf", root), (root / "minutes.docx", root), (root / "a b" / "x.txt", root)]
    ids = default_doc_ids(files)
    assert ids == {root / "minutes.pdf": "minutes-pdf", root / "minutes.docx": "minutes-docx",
                   root / "a b" / "x.txt": "a-b--x"}
    assert default_doc_ids(files[::-1]) == ids
    assert all(is_safe_doc_id(i) for i in ids.values())


def test_files_with_the_same_text_are_both_indexed_and_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "agenda.txt", _text("budgets"))
    _write(corpus / "agenda.md", _text("budgets"))
    settings = _settings(tmp_path)
    report = _build([corpus], settings)
    assert _ids(settings) == ["agenda-md", "agenda-txt"]
    assert report.same_text == [[str(corpus / "agenda.md"), str(corpus / "agenda.txt")]]
    assert "same text" in report.summary()


# ------------------------------------------------------------------------------- D11: unsafe ids


@pytest.mark.parametrize("doc_id", ["a/b", "..", "x y", "a?b"])
def test_a_sidecar_id_that_cannot_be_fetched_is_refused_with_the_fix(tmp_path: Path, doc_id: str) -> None:
    path = _write(tmp_path / "a.txt", "Some minutes.", doc_id=doc_id)
    with pytest.raises(SkipFile) as err:
        load_document(path)
    assert str(err.value) == f"doc_id {doc_id!r} in sidecar a.json: use letters, digits, '.', '_' or '-'"


def test_a_manifest_id_that_cannot_be_fetched_is_skipped_in_the_build(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "a.txt", _text("parks"))
    _write(corpus / "b.txt", _text("roads"))
    (corpus / "manifest.jsonl").write_text(json.dumps({"file": "b.txt", "doc_id": "roads/2024"}) + "\n")
    report = _build([corpus], _settings(tmp_path))
    assert report.skipped == [(str(corpus / "b.txt"),
                               "doc_id 'roads/2024' in manifest.jsonl line 1: use letters, digits, '.', '_' or '-'")]


def test_an_unsafe_id_from_a_previous_index_is_caught_too(tmp_path: Path) -> None:
    record = FileRecord(_write(tmp_path / "a.txt", "Minutes."), default_id="a")
    pipeline.read(record, MetadataBytes())
    record.doc = load_document(record.path, None, record.raw)
    record.doc.meta.doc_id = "a/b"
    record.doc.meta.extra["meta_sources"]["doc_id"] = "sidecar"  # as an older build accepted it
    pipeline.settle(record)
    assert record.skip == "doc_id 'a/b' in sidecar a.json: use letters, digits, '.', '_' or '-'"


# -------------------------------------------------------------------- D12: what discovery skips


def test_fifos_dangling_and_looping_links_each_get_a_reason(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "a.txt", "x")
    os.mkfifo(corpus / "pipe.txt")
    os.symlink("nowhere.txt", corpus / "dangling.txt")
    os.symlink("loop2.txt", corpus / "loop1.txt")
    os.symlink("loop1.txt", corpus / "loop2.txt")
    reasons = dict(discover([corpus])[1])
    assert "FIFO" in reasons[str(corpus / "pipe.txt")]
    assert reasons[str(corpus / "dangling.txt")].startswith("dangling symlink")
    assert reasons[str(corpus / "loop1.txt")].startswith("symlink loop")
    assert reasons[str(corpus / "loop2.txt")].startswith("symlink loop")


def test_a_symlink_is_reported_under_its_own_path(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "a.txt", _text("parks"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "empty.txt").write_text("")
    os.symlink(tmp_path / "elsewhere" / "empty.txt", corpus / "link.txt")
    report = _build([corpus], _settings(tmp_path))
    assert report.skipped == [(str(corpus / "link.txt"), "empty file")]
    found = find_files([corpus])
    assert [p for p, _ in found.files] == [corpus / "a.txt", corpus / "link.txt"]


def test_a_raw_library_error_says_what_failed_and_the_fix(tmp_path: Path) -> None:
    record = FileRecord(_write(tmp_path / "a.txt", "x"), raw=b"x")

    def broken(path: Path, registry: object, raw: bytes) -> None:
        raise zlib.error("Error -3 while decompressing data: incorrect header check")

    pipeline.parse(record, broken)  # type: ignore[arg-type]
    assert record.skip is not None and record.skip.startswith("could not extract its text (error: Error -3")
    assert "re-export" in record.skip


# ---------------------------------------------------------------------- D13: recovering a swap


def test_recovery_restores_the_complete_copy_not_the_last_by_name(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _build([_write(tmp_path / "papers" / "a.txt", _text("parks")).parent], settings)
    good = CouncilIndex.load(settings.index_dir).manifest
    damaged = tmp_path / ".index.old-99999-1"  # sorts after the good one by name: "9" > "1"
    shutil.copytree(settings.index_dir, damaged)
    (damaged / "passages.sqlite").unlink()  # half deleted: its manifest is still there
    settings.index_dir.rename(tmp_path / ".index.old-100000-2")
    idx = CouncilIndex.load(settings.index_dir)
    assert idx.build_id == good["build_id"] and idx.passages.count() == good["passages"]


def test_the_manifest_records_each_file_and_loading_checks_sizes_only(tmp_path: Path, monkeypatch) -> None:
    settings = _settings(tmp_path)
    _build([_write(tmp_path / "papers" / "a.txt", _text("parks")).parent], settings)
    files = json.loads((settings.index_dir / "manifest.json").read_text())["files"]
    assert {"passages.sqlite", "vectors.faiss", "vectors.json"} <= set(files)
    assert any(f.startswith("bm25/") for f in files)
    assert all(set(v) == {"size", "sha256"} for v in files.values())
    monkeypatch.setattr(index_module, "_sha256", lambda path: pytest.fail("a normal load hashes no file"))
    CouncilIndex.load(settings.index_dir)
    with (settings.index_dir / "vectors.faiss").open("ab") as fh:
        fh.write(b"\x00")
    with pytest.raises(IndexLoadError, match="damaged.*vectors.faiss"):
        CouncilIndex.load(settings.index_dir)


def test_leftovers_of_dead_builds_are_removed_and_a_live_build_is_left_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _build([_write(tmp_path / "papers" / "a.txt", _text("parks")).parent], settings)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".index.old-{dead.pid}-1", tmp_path / f".index.tmp-{dead.pid}-1"]
    live = tmp_path / f".index.tmp-{os.getpid()}-{2**40}"  # this process, building in another thread
    for folder in (*stale, live):
        folder.mkdir()
    recover_interrupted(settings.index_dir)
    assert [p.exists() for p in stale] == [False, False] and live.exists()


# ------------------------------------------------------------------------------- D16: sources


def test_indexing_another_folder_adds_it_and_keeps_the_rest(tmp_path: Path) -> None:
    corpus, extra = tmp_path / "corpus", tmp_path / "extra"
    _write(corpus / "a.txt", _text("parks"))
    _write(corpus / "b.txt", _text("roads"))
    _write(extra / "c.txt", _text("taxis"))
    settings = _settings(tmp_path)
    _build([corpus], settings)
    report = _build([extra], settings)
    assert (report.removed_documents, _ids(settings)) == ([], ["a", "b", "c"])
    assert json.loads((settings.index_dir / "manifest.json").read_text())["sources"] == [
        str(corpus.resolve()), str(extra.resolve())]
    (corpus / "b.txt").unlink()
    report = _build([corpus], settings)
    assert report.removed_documents == ["b"] and "is gone" in report.removed_reasons["b"]
    assert "removed 1 document(s):" in report.summary() and "    b: its file" in report.summary()
    report = _build([extra], settings, replace=True)
    assert report.removed_documents == ["a"] and "--replace" in report.removed_reasons["a"]
    assert _ids(settings) == ["c"]


def test_a_source_folder_that_is_gone_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    corpus, extra = tmp_path / "corpus", tmp_path / "extra"
    _write(corpus / "a.txt", _text("parks"))
    _write(extra / "c.txt", _text("taxis"))
    settings = _settings(tmp_path)
    _build([corpus], settings)
    shutil.rmtree(corpus)
    with pytest.raises(IndexBuildError, match=r"corpus, which no longer exists.*--replace"):
        _build([extra], settings)


def test_a_copied_index_says_it_re_embedded_what_it_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _build([_write(tmp_path / "papers" / "a.txt", _text("parks")).parent], settings)
    shutil.copytree(settings.index_dir, tmp_path / "copy")
    copied = _settings(tmp_path, index="copy", cache="fresh-cache")  # the cache stayed beside the original
    report = _build([tmp_path / "papers"], copied, force=True)
    assert (report.reused_documents, report.reembedded_documents) == (1, 1) and report.embedded == report.chunks
    assert "1 of them re-embedded: their vectors were not in the embedding cache" in report.summary()


def test_the_index_command_offers_replace() -> None:
    result = CliRunner().invoke(app, ["index", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "--replace" in result.output and "adds extra/" in " ".join(result.output.split())


def test_the_summary_of_every_kind_of_skip_prints_safely(tmp_path: Path) -> None:
    corpus = tmp_path / "papers"
    _write(corpus / "a.txt", _text("parks"))
    os.symlink(os.fsdecode(b"gone\xff.txt"), corpus / "link.txt")
    script = textwrap.dedent(f"""
        from pathlib import Path
        from common.settings import Settings
        from indexer.build import build_index
        from indexer.embed import FakeEmbedder
        s = Settings(index_dir=Path({str(tmp_path / 'index')!r}), cache_dir=Path({str(tmp_path / 'c')!r}))
        print(build_index([Path({str(corpus)!r})], s, embedder=FakeEmbedder(), progress=False).summary())
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8:strict"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "dangling symlink: its target gone\\xff.txt" in out.stdout
