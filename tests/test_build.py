"""The index build: manifest, incremental re-indexing, atomic replacement, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import indexer.build as build_module
from common.settings import Settings
from indexer.build import IndexBuildError, build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex, IndexLoadError

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, stem: str, text: str, **meta: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.txt"
    path.write_text(text)
    if meta:
        (folder / f"{stem}.json").write_text(json.dumps(meta))
    return path


def _para(topic: str, n: int = 12) -> str:
    line = "Paragraph {i} about {topic}: the committee discussed {topic} item {i} at length."
    return "\n\n".join(line.format(i=i, topic=topic) for i in range(n))


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "papers"
    _write(folder, "a", _para("libraries"), council="Borsetshire County Council", date="2024-03-01", doc_type="minutes")
    _write(folder, "b", _para("potholes"), council="Borsetshire County Council", date="2024-04-01", doc_type="minutes")
    _write(folder, "c", _para("parks"), council="Ambridge Parish Council", date="2023-05-01", doc_type="minutes")
    return folder


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_tokens=60, chunk_overlap=10, **kw)


def test_build_writes_a_self_describing_index(tmp_path: Path, corpus: Path) -> None:
    emb = FakeEmbedder()
    report = build_index([corpus], _settings(tmp_path), embedder=emb, progress=False)
    assert (report.documents, report.skipped, report.embedded) == (3, [], report.chunks)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["model"] == {"id": "fake-hash-64", "dimension": 64, "normalized": True,
                                 "metric": "inner_product", "backend_used": "fake"}
    assert manifest["chunking"]["chunk_tokens"] == 60 and manifest["chunking"]["tokenizer"] == "cl100k_base"
    assert manifest["documents"] == 3 and manifest["passages"] == report.chunks
    assert len(manifest["corpus_hash"]) == 64 and manifest["dense"]["kind"] == "flat"
    idx = CouncilIndex.load(tmp_path / "index", expected_model_id="fake-hash-64")
    assert idx.passages.count() == report.chunks == idx.dense.size
    assert sorted(f["value"] for f in idx.passages.facets()["councils"]) == [
        "Ambridge Parish Council", "Borsetshire County Council"]


def test_loading_refuses_a_different_model(tmp_path: Path, corpus: Path) -> None:
    build_index([corpus], _settings(tmp_path), embedder=FakeEmbedder(), progress=False)
    with pytest.raises(IndexLoadError, match=r"built with model 'fake-hash-64'.*councilqa index"):
        CouncilIndex.load(tmp_path / "index", expected_model_id="sentence-transformers/all-MiniLM-L6-v2")


def test_missing_index_names_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexLoadError, match="councilqa index corpus/ --index-dir"):
        CouncilIndex.load(tmp_path / "nothing")


def test_incremental_rebuild_embeds_only_what_changed(tmp_path: Path, corpus: Path) -> None:
    settings = _settings(tmp_path)
    first = build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)

    emb = FakeEmbedder()
    again = build_index([corpus], settings, embedder=emb, progress=False)
    assert (again.up_to_date, again.embedded, emb.calls) == (True, 0, 0)

    # Change one paragraph of one document: only its new chunks are embedded.
    text = (corpus / "b.txt").read_text().replace("Paragraph 3 about potholes", "Paragraph 3 about gritting")
    (corpus / "b.txt").write_text(text)
    emb = FakeEmbedder()
    changed = build_index([corpus], settings, embedder=emb, progress=False)
    assert changed.reused_documents == 2
    assert changed.embedded == 1 and changed.sentences_embedded == 1  # the new chunk and its one new sentence
    assert emb.calls == changed.embedded + changed.sentences_embedded
    assert changed.chunks == first.chunks

    # Add a document: only its chunks are embedded. Remove one: it disappears.
    _write(corpus, "d", _para("allotments"), council="Ambridge Parish Council")
    (corpus / "a.txt").unlink()
    (corpus / "a.json").unlink()
    emb = FakeEmbedder()
    added = build_index([corpus], settings, embedder=emb, progress=False)
    idx = CouncilIndex.load(settings.index_dir)
    record = idx.passages.document_record("d")
    assert record is not None
    d_chunks = len(record[1])
    assert added.removed_documents == ["a"]
    assert emb.calls == added.embedded + added.sentences_embedded
    assert added.embedded == d_chunks and added.sentences_embedded > 0
    assert idx.passages.document("a") is None and idx.passages.document("d") is not None


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(tmp_path: Path, corpus: Path) -> None:
    (corpus / "empty.txt").write_text("   \n")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    _write(corpus, "badmeta", "Some text about meetings.")
    (corpus / "badmeta.json").write_text("{not json")
    report = build_index([corpus], _settings(tmp_path), embedder=FakeEmbedder(), progress=False)
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert report.documents == 3
    assert set(skipped) == {"empty.txt", "binary.txt", "broken.pdf", "badmeta.txt"}
    assert all(reason for reason in skipped.values())
    assert "json" in skipped["badmeta.txt"].lower()


def test_nothing_indexable_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    with pytest.raises(IndexBuildError, match="Nothing could be indexed"):
        build_index([folder], _settings(tmp_path), embedder=FakeEmbedder(), progress=False)


def test_missing_folder_and_unwritable_index_fail_before_any_work(tmp_path: Path, corpus: Path) -> None:
    emb = FakeEmbedder()
    with pytest.raises(IndexBuildError, match="does not exist"):
        build_index([tmp_path / "nope"], _settings(tmp_path), embedder=emb, progress=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings = Settings(index_dir=blocker / "index", cache_dir=tmp_path / "cache")
    with pytest.raises(IndexBuildError, match="choose a writable --index-dir"):
        build_index([corpus], settings, embedder=emb, progress=False)
    assert emb.calls == 0


def test_failed_build_leaves_previous_index_intact(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    settings = _settings(tmp_path)
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    before = json.loads((settings.index_dir / "manifest.json").read_text())
    _write(corpus, "d", _para("allotments"))

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("indexer.sparse.SparseBM25.save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    assert json.loads((settings.index_dir / "manifest.json").read_text()) == before
    assert CouncilIndex.load(settings.index_dir).passages.count() == before["passages"]
    assert not list(tmp_path.glob(".index.tmp-*"))


def test_interrupted_swap_is_recovered_on_load(tmp_path: Path, corpus: Path) -> None:
    settings = _settings(tmp_path)
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    # The state a kill between the two renames of the swap leaves behind.
    settings.index_dir.rename(tmp_path / ".index.old-1-1")
    assert CouncilIndex.load(settings.index_dir).passages.count() > 0


_KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from common.settings import Settings
    from indexer.build import build_index
    from indexer.embed import FakeEmbedder
    s = Settings(index_dir=Path(sys.argv[2]), cache_dir=Path(sys.argv[3]), chunk_tokens=40, chunk_overlap=5)
    print("ready", flush=True)
    build_index([Path(sys.argv[1])], s, embedder=FakeEmbedder(), progress=False, force=True)
""")


def test_killing_a_build_at_any_moment_leaves_previous_index_loadable(tmp_path: Path, corpus: Path) -> None:
    settings = _settings(tmp_path)
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    expected = CouncilIndex.load(settings.index_dir).manifest["corpus_hash"]
    for i in range(40):  # a bigger corpus so that the build takes a while
        _write(corpus, f"extra{i}", _para(f"topic {i}", 30), council="Borsetshire County Council")
    script = tmp_path / "build.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes: set[str] = set()
    for delay in (0.05, 0.4, 0.8, 1.2, 1.6, 2.4):
        proc = subprocess.Popen([sys.executable, str(script), str(corpus), str(settings.index_dir),
                                 str(settings.resolved_cache_dir)], env=env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # imports done
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        idx = CouncilIndex.load(settings.index_dir)  # never raises: old or new index, whole
        assert idx.passages.count() == idx.dense.size == idx.manifest["passages"]
        outcomes.add("new" if idx.manifest["corpus_hash"] != expected else "old")
    assert "old" in outcomes, "at least one kill landed mid-build"


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    settings = _settings(tmp_path)
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    _write(corpus, "d", _para("allotments"), council="Ambridge Parish Council")
    parsed: list[str] = []
    real = build_module.load_document

    def spy(path: Path, registry: object = None, raw: bytes | None = None):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return real(path, registry, raw)

    monkeypatch.setattr(build_module, "load_document", spy)
    report = build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    assert parsed == ["d.txt"]
    assert (report.documents, report.reused_documents) == (4, 3)
    (corpus / "a.json").write_text(json.dumps({"council": "Borsetshire County Council", "date": "2024-03-02"}))
    parsed.clear()
    report = build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    assert parsed == ["a.txt"], "a sidecar edit re-reads its document"
    assert CouncilIndex.load(settings.index_dir).passages.document("a")[0].date == "2024-03-02"  # type: ignore[index]
