"""The indexer with the real embedding model and real council papers (marked slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from common.settings import Settings
from indexer.build import build_index
from indexer.chunk import ChunkSettings, chunk_document
from indexer.embed import load_embedder
from indexer.index import CouncilIndex
from indexer.loaders import load_document

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COUNCILQA_SHARED", ROOT.parent / "shared"))
SEEDS = sorted((ROOT / "corpus").glob("*.txt"))


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return load_embedder(Settings(embed_backend="torch-fp32"))


def test_every_chunk_of_every_seed_fits_the_model(embedder) -> None:  # type: ignore[no-untyped-def]
    assert len(SEEDS) == 5
    assert embedder.max_tokens == 254  # all-MiniLM-L6-v2: 256 positions less [CLS] and [SEP]
    settings = ChunkSettings(200, 30, embedder.max_tokens)
    for path in SEEDS:
        doc = load_document(path)
        passages = chunk_document(doc, settings, embedder.count_tokens)
        assert passages, path
        for p in passages:
            assert embedder.count_tokens(p.text) <= embedder.max_tokens, (path.name, p.char_start)
            assert doc.text[p.char_start:p.char_end] == p.text


def test_youth_zone_chunk_is_attributed_to_alison_hinds(embedder) -> None:  # type: ignore[no-untyped-def]
    doc = load_document(ROOT / "corpus" / "003_9c533fb1d9fb01b2.txt")
    passages = chunk_document(doc, ChunkSettings(200, 30, embedder.max_tokens), embedder.count_tokens)
    hits = [p for p in passages if "reduction in the contribution to the youth zone" in p.text]
    assert hits
    for p in hits:
        assert p.speaker == "Alison Hinds"
        assert p.timestamp is not None
        h, m, s = map(int, p.timestamp.split(":"))
        assert (1, 8, 9) <= (h, m, s) <= (1, 19, 23)
        assert p.agenda_item is not None and p.agenda_item.startswith("8 Our Future Council")
        assert (p.council, p.date, p.doc_type) == ("City of Wolverhampton Council", "2024-11-27", "transcript")


@pytest.mark.skipif(not (SHARED / "corpora").is_dir(), reason="../shared/corpora is absent on this machine")
def test_real_model_build_on_a_sample_of_shared_corpora(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    for folder in sorted((SHARED / "corpora").iterdir()):
        if not folder.is_dir():
            continue
        dest = sample / folder.name
        dest.mkdir(parents=True)
        for txt in sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_size)[:3]:
            (dest / txt.name).symlink_to(txt)
            (dest / f"{txt.stem}.json").symlink_to(txt.with_suffix(".json"))
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    report = build_index([sample], settings, progress=False)
    assert (report.documents, report.skipped) == (9, [])
    idx = CouncilIndex.load(settings.index_dir, expected_model_id="sentence-transformers/all-MiniLM-L6-v2")
    councils = {f["value"] for f in idx.passages.facets()["councils"]}
    sidecars = {json.loads(p.read_text())["council"] for p in sample.rglob("*.json")}
    assert councils == sidecars
    assert idx.dense.dimension == 384 and idx.dense.size == report.chunks
    again = build_index([sample], settings, progress=False)
    assert again.up_to_date and again.embedded == 0
