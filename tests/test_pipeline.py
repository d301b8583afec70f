"""The build's stages, each on its own: one `FileRecord` per file, bytes read once, unchanged files not parsed."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import indexer.build as build_module
import indexer.chunk as chunk_module
from common.settings import Settings
from indexer import pipeline
from indexer.build import build_index
from indexer.cache import EmbeddingCache
from indexer.chunk import ChunkSettings, chunk_document
from indexer.embed import FakeEmbedder
from indexer.loaders import load_document
from indexer.models import Document, DocumentMeta, Segment
from indexer.pipeline import EmbedderHandle, FileRecord, MetadataBytes, PreviousIndex
from indexer.tokens import count_tokens
from tests.test_build import _write


def _para(topic: str, n: int = 8) -> str:
    line = "Paragraph {i} about {topic}: the committee discussed {topic} item {i} at length."
    return "\n\n".join(line.format(i=i, topic=topic) for i in range(n))


def _settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_tokens=60, chunk_overlap=10)


def _read(path: Path) -> FileRecord:
    record = FileRecord(path)
    pipeline.read(record, MetadataBytes())
    return record


class _CountingLoader:
    """`load_document` with its (path, registry, raw) signature, recording the files it parses."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def __call__(self, path: Path, registry: object = None, raw: bytes | None = None) -> Document:
        self.parsed.append(path.name)
        return load_document(path, None, raw)


@pytest.fixture()
def read_counts(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    """Every `Path.read_bytes` call, by resolved path."""
    counts: Counter[Path] = Counter()
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        counts[self.resolve()] += 1
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return counts


# ---------------------------------------------------------------------------------- discover, read


def test_discover_makes_one_record_per_supported_file(tmp_path: Path) -> None:
    _write(tmp_path, "b", "Some minutes.", council="Ambridge Parish Council")
    _write(tmp_path, "a", "Other minutes.")
    (tmp_path / "notes.xyz").write_text("not a paper")
    records, skipped = pipeline.discover_files([tmp_path])
    assert [r.path.name for r in records] == ["a.txt", "b.txt"]  # sidecars are not documents
    assert all(r.raw is None and r.doc is None and r.skip is None for r in records)
    assert [Path(p).name for p, _ in skipped] == ["notes.xyz"]


def _old_file_fingerprint(path: Path) -> str:
    """The recipe of the fingerprints stored in existing indexes, as the build computed it before."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for p in (path, path.with_suffix(".json"), path.parent / "manifest.jsonl", path.parent / "manifest.csv"):
        if p.is_file():
            h.update(p.name.encode() + b"\x00" + p.read_bytes())
    return h.hexdigest()


def test_read_takes_the_bytes_and_a_fingerprint_old_indexes_share(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", "Minutes of the cabinet.", council="Borsetshire County Council")
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"file": "a.txt", "committee": "Cabinet"}) + "\n")
    record = _read(path)
    assert record.raw == path.read_bytes() and record.skip is None
    assert record.fingerprint == _old_file_fingerprint(path)
    (tmp_path / "a.json").write_text(json.dumps({"council": "Ambridge Parish Council"}))
    assert _read(path).fingerprint != record.fingerprint, "a sidecar edit changes the fingerprint"


def test_a_folder_manifest_is_read_once_for_all_its_files(tmp_path: Path, read_counts: Counter[Path]) -> None:
    paths = [_write(tmp_path, stem, f"Minutes {stem}.") for stem in ("a", "b", "c")]
    (tmp_path / "manifest.csv").write_text("file,committee\na.txt,Cabinet\n")
    metadata = MetadataBytes()
    for path in paths:
        pipeline.read(FileRecord(path), metadata)
    assert read_counts[(tmp_path / "manifest.csv").resolve()] == 1
    assert all(read_counts[p.resolve()] == 1 for p in paths)


def test_an_unreadable_file_is_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()  # reading a directory fails like an unreadable file
    record = _read(tmp_path / "folder.txt")
    assert record.raw is None and record.skip is not None and record.skip.startswith("cannot read file")


# ------------------------------------------------------------------------------------------ parse


def test_parse_uses_the_bytes_already_read_not_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", "Minutes on disk.")
    record = FileRecord(path, raw=b"Minutes held in memory.")
    loader = _CountingLoader()
    pipeline.parse(record, loader)
    assert record.doc is not None and record.doc.text == "Minutes held in memory."
    assert loader.parsed == ["a.txt"]


def test_load_document_accepts_the_bytes(tmp_path: Path, read_counts: Counter[Path]) -> None:
    path = _write(tmp_path, "a", "Minutes on disk.")
    raw = path.read_bytes()
    doc = load_document(path, raw=raw)
    assert doc.text == "Minutes on disk." and doc.content_hash == load_document(path).content_hash
    assert read_counts[path.resolve()] == 2, "the bytes given are not read again"


def test_a_file_that_fails_to_parse_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", "   \n")
    record = _read(path)
    pipeline.parse(record, load_document)
    assert record.doc is None and record.skip is not None and "empty" in record.skip


def test_parse_leaves_councils_to_canonicalise(tmp_path: Path) -> None:
    early = _read(_write(tmp_path, "a", "Budget minutes.", council="Wolverhampton"))
    late = _read(_write(tmp_path, "b", "Parks minutes.", council="City of Wolverhampton Council"))
    for record in (early, late):
        pipeline.parse(record, load_document)
    assert early.doc is not None and late.doc is not None
    assert early.doc.meta.council == "Wolverhampton"  # tidied only: the other spelling is not yet known
    registry = pipeline.canonicalise([early.doc, late.doc])
    assert early.doc.meta.council == late.doc.meta.council == "City of Wolverhampton Council"
    assert registry.canonical("wolverhampton") == "City of Wolverhampton Council"


def test_drop_duplicates_keeps_the_first_file_with_an_id(tmp_path: Path) -> None:
    records = [_read(_write(tmp_path, stem, f"Minutes {stem}.", doc_id="same")) for stem in ("a", "b")]
    for record in records:
        pipeline.parse(record, load_document)
    pipeline.drop_duplicates(records)
    assert records[0].indexed and not records[1].indexed
    assert records[1].skip == f"duplicate document id 'same' (also {records[0].path})"


# -------------------------------------------------------------------------------- reuse, whole build


def test_an_unchanged_file_is_taken_from_the_previous_index_not_parsed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    corpus = tmp_path / "papers"
    _write(corpus, "a", _para("libraries"), council="Borsetshire County Council")
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    _write(corpus, "b", _para("potholes"))
    fingerprint = json.loads((settings.index_dir / "manifest.json").read_text())["fingerprint"]
    previous = PreviousIndex(settings.index_dir, fingerprint)
    try:
        records, _ = pipeline.discover_files([corpus])
        loader = _CountingLoader()
        pipeline.load_files(records, previous, loader, progress=False)
    finally:
        previous.close()
    assert loader.parsed == ["b.txt"]
    unchanged, new = records
    assert unchanged.doc is not None and unchanged.doc.meta.council == "Borsetshire County Council"
    assert unchanged.passages and new.passages is None
    assert unchanged.raw is None and new.raw is None, "bytes are dropped once a file is loaded"


def test_a_build_reads_each_file_once_and_parses_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_counts: Counter[Path],
) -> None:
    settings = _settings(tmp_path)
    corpus = tmp_path / "papers"
    paths = [_write(corpus, stem, _para(stem), council="Ambridge Parish Council") for stem in ("a", "b", "c")]
    loader = _CountingLoader()
    monkeypatch.setattr(build_module, "load_document", loader)
    build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    assert sorted(loader.parsed) == ["a.txt", "b.txt", "c.txt"]
    assert {p: read_counts[p.resolve()] for p in paths} == {p: 1 for p in paths}

    paths[1].write_text(_para("gritting"))
    read_counts.clear()
    loader.parsed.clear()
    report = build_index([corpus], settings, embedder=FakeEmbedder(), progress=False)
    assert loader.parsed == ["b.txt"], "unchanged files are not parsed"
    assert {p: read_counts[p.resolve()] for p in paths} == {p: 1 for p in paths}
    assert (report.documents, report.reused_documents) == (3, 2)


# ------------------------------------------------------------------------------------ chunk, embed


def _mixed_sentences_doc() -> Document:
    """Sentences of 37 tokens, each a chunk of its own under 40, then short ones that share chunks."""
    long = [f"Sentence {i} names {' '.join(f'w{i}x{j}' for j in range(8))}." for i in range(4)]
    short = [f"Item {k} was agreed." for k in range(12)]
    text = " ".join(long + short)
    meta = DocumentMeta(doc_id="d", council="Borsetshire County Council")
    return Document(meta=meta, text=text, segments=[Segment(0, len(text))])


def test_each_chunk_text_is_counted_once_and_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: Counter[str] = Counter()

    def counting(text: str) -> int:
        counted[text] += 1
        return count_tokens(text)

    monkeypatch.setattr(chunk_module, "count_tokens", counting)
    doc = _mixed_sentences_doc()
    passages = chunk_document(doc, ChunkSettings(40, 5, 254), FakeEmbedder().count_tokens)
    assert [p.text.startswith("Sentence") for p in passages[:4]] == [True] * 4
    assert any(p.text.count("agreed") > 1 for p in passages), "some chunks hold several pieces"
    assert max(counted.values()) == 1, "no text is tokenised twice"
    assert all(p.n_tokens == count_tokens(p.text) for p in passages)


def test_chunk_reuses_previous_passages_or_chunks_anew(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    record = _read(_write(tmp_path / "papers", "a", _para("parks"), council="Ambridge Parish Council"))
    pipeline.parse(record, load_document)
    previous = PreviousIndex(settings.index_dir, {})  # no previous index: nothing to reuse
    embedders = EmbedderHandle(settings, FakeEmbedder())
    pipeline.chunk(record, previous, pipeline.make_chunker(settings, embedders))
    assert record.passages and not record.reused
    assert all(p.council == "Ambridge Parish Council" for p in record.passages)

    assert record.doc is not None
    record.doc.meta.council = "Ambridge Parish Council (renamed)"  # as `canonicalise` may do on a later build
    pipeline.chunk(record, previous, lambda doc: pytest.fail("reused passages are not chunked again"))
    assert all(p.council == "Ambridge Parish Council (renamed)" for p in record.passages)


def test_embed_takes_cached_vectors_and_embeds_only_new_texts(tmp_path: Path) -> None:
    record = _read(_write(tmp_path / "papers", "a", _para("allotments")))
    pipeline.parse(record, load_document)
    assert record.doc is not None
    passages = chunk_document(record.doc, ChunkSettings(60, 10, 254), FakeEmbedder().count_tokens)
    cache = EmbeddingCache(tmp_path / "cache", "fake")
    try:
        first = FakeEmbedder()
        vectors, embedded = pipeline.embed(passages, lambda: first, cache, 4, progress=False)
        assert embedded == first.calls == len(passages) and vectors.shape == (len(passages), 64)
        again = FakeEmbedder()
        cached, embedded = pipeline.embed(passages, lambda: again, cache, 4, progress=False)
    finally:
        cache.close()
    assert embedded == again.calls == 0
    np.testing.assert_array_equal(cached, vectors)


def test_the_embedder_is_loaded_only_when_needed(tmp_path: Path) -> None:
    given = EmbedderHandle(_settings(tmp_path), FakeEmbedder())
    assert given.loaded and given.backend() == given.backend_used() == "fake"
    assert given.model_id() == "fake-hash-64"
    lazy = EmbedderHandle(Settings(embed_backend="torch-fp32"))
    assert not lazy.loaded and lazy.backend() == "torch-fp32" and lazy.backend_used() == ""
