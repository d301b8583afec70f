"""The build embeds every quotable sentence once, so an answer encodes nothing but its question."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from common.settings import Settings
from core.engine import Engine
from indexer import sentence_vectors as sv
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex
from indexer.units import split_blocks, turn_labels
from tests.conftest import write_tiny_corpus
from tests.test_service_api import FAKE_CONFIG

QUESTION = "how many foster carers did the recruitment campaign add?"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("units")
    papers = write_tiny_corpus(root / "papers")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", chunk_tokens=60, chunk_overlap=10)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    return settings


def test_every_passage_has_its_units_stored_with_their_vectors(built: Settings) -> None:
    index = CouncilIndex.load(built.index_dir)
    assert index.sentences is not None
    passages = index.passages.get(list(range(index.passages.count())))
    fake = FakeEmbedder()
    for p in passages:
        stored = index.sentences.of_row(p.row)  # type: ignore[arg-type]
        spans = [(s, e) for s, e, _ in split_blocks(p.text, turn_labels(p))]
        assert list(stored) == spans
        if spans:
            want = fake.encode_passages([p.text[s:e] for s, e in spans])
            np.testing.assert_allclose(np.vstack(list(stored.values())), want, atol=2e-3)
    assert len(index.sentences) == sum(len(index.sentences.of_row(r)) for r in range(len(passages)))


def test_an_answer_encodes_no_sentence_and_is_the_same_as_without_stored_vectors(built: Settings,
                                                                                 tmp_path: Path) -> None:
    with_units = Engine(CouncilIndex.load(built.index_dir), FakeEmbedder(), built, answer_config=FAKE_CONFIG)
    plain_dir = tmp_path / "plain"
    shutil.copytree(built.index_dir, plain_dir)
    manifest = json.loads((plain_dir / "manifest.json").read_text())  # as an index built before sentences
    for name in sv.FILES:
        (plain_dir / name).unlink()
        manifest["files"].pop(name)
    del manifest["sentences"]
    (plain_dir / "manifest.json").write_text(json.dumps(manifest))
    plain_index = CouncilIndex.load(plain_dir)
    assert plain_index.sentences is None
    plain = Engine(plain_index, FakeEmbedder(), built, answer_config=FAKE_CONFIG)

    a, b = with_units.ask(QUESTION).to_dict(), plain.ask(QUESTION).to_dict()
    assert a["found"] and a["answer"] == b["answer"]
    assert [(c["document_id"], c["quote_start"], c["quote_end"]) for c in a["citations"]] == \
        [(c["document_id"], c["quote_start"], c["quote_end"]) for c in b["citations"]]
    # Nothing encoded at answer time but a sentence a chunk boundary cut, taken whole from the document
    # (the build stored its two pieces): at most one at each end of each of the answer's passages.
    assert with_units.stats()["sentence_cache"]["misses"] <= 2 * len(a["citations"])
    assert plain.stats()["sentence_cache"]["misses"] > 0


def test_above_the_limit_no_sentence_vectors_are_written(tmp_path: Path) -> None:
    papers = write_tiny_corpus(tmp_path / "papers")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", sentence_vectors_max=1)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    assert not any((settings.index_dir / f).exists() for f in sv.FILES)
    assert CouncilIndex.load(settings.index_dir).sentences is None


def test_unit_spans_point_into_each_passage() -> None:
    from indexer.models import Passage

    ps = [Passage("a", "d", "First sentence is here. Second sentence follows it.", 0, 51),
          Passage("b", "d", "", 51, 51)]
    spans, ptr = sv.unit_spans(ps)
    assert ptr.tolist() == [0, 2, 2]
    assert [ps[0].text[s:e] for s, e in spans] == ["First sentence is here.", "Second sentence follows it."]
