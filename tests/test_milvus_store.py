"""The Milvus store (milvus-lite): the same answers as the local index, no local folder, atomic alias switches.

Skipped where pymilvus or milvus-lite are absent (`pip install 'councilqa[milvus]'`).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="pymilvus not installed: pip install 'councilqa[milvus]'")
pytest.importorskip("milvus_lite", reason="milvus-lite not installed: pip install 'councilqa[milvus]'")

from fastapi.testclient import TestClient  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from common.settings import Settings  # noqa: E402
from core.engine import Engine  # noqa: E402
from indexer.build import build_index  # noqa: E402
from indexer.embed import FakeEmbedder  # noqa: E402
from indexer.index import CouncilIndex, IndexLoadError  # noqa: E402
from indexer.milvus_expr import filters_expression, literal  # noqa: E402
from indexer.milvus_read import load_milvus_index  # noqa: E402
from indexer.milvus_store import Names, connect, live_names, read_manifest  # noqa: E402
from service.app import create_app  # noqa: E402
from tests.conftest import write_tiny_corpus  # noqa: E402
from tests.test_service_api import FAKE_CONFIG  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["library closure savings", "school counselling waiting list", "council tax increase",
           "foster carers leisure", "pothole repairs rural roads"]


def _settings(root: Path, store: str, **more: object) -> Settings:
    values: dict[str, object] = {"index_dir": root / "index", "cache_dir": root / "cache", "chunk_tokens": 60,
                                 "chunk_overlap": 10, "store": store, "milvus_uri": str(root / "milvus.db"), **more}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    """One build of the tiny corpus, read from its folder and from Milvus (with its folder moved away)."""
    root = tmp_path_factory.mktemp("milvus_store")
    papers = write_tiny_corpus(root / "papers")
    build_index([papers], _settings(root, "milvus"), embedder=FakeEmbedder(), progress=False)
    local = Engine(CouncilIndex.load(root / "index"), FakeEmbedder(), _settings(root, "local"), FAKE_CONFIG)
    shutil.copytree(root / "index", root / "kept")
    shutil.rmtree(root / "index")  # from here on nothing local exists to read
    milvus = Engine.load(_settings(root, "milvus"), embedder=FakeEmbedder())
    milvus.answer_config = FAKE_CONFIG
    yield local, milvus, root
    local.close()
    milvus.close()


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_search_ranks_and_scores_as_the_local_index(both, mode: str) -> None:
    local, milvus, _ = both
    for q in QUERIES:
        a = local.search(q, mode=mode, k=8)
        b = milvus.search(q, mode=mode, k=8)
        assert [h.passage.id for h in a.hits] == [h.passage.id for h in b.hits], (mode, q)
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=1e-4, atol=1e-5)
        assert [h.passage.to_dict() for h in a.hits] == [h.passage.to_dict() for h in b.hits]


def test_filters_facets_documents_and_answers_match(both) -> None:
    local, milvus, _ = both
    for filters in ({"council": "Borsetshire County Council"}, {"doc_type": "transcript"},
                    {"speaker": "Jennifer Aldridge"}, {"date_from": "2021-01-01", "date_to": "2022-12-31"}):
        a = local.search("children", mode="hybrid", filters=filters, auto_filters=False)
        b = milvus.search("children", mode="hybrid", filters=filters, auto_filters=False)
        assert [h.passage.id for h in a.hits] == [h.passage.id for h in b.hits], filters
    assert local.facets() == milvus.facets()
    assert local.documents(10, 1) == milvus.documents(10, 1)
    decided = 0
    for doc in local.documents(10, 0).documents:
        assert local.document(doc["doc_id"]) == milvus.document(doc["doc_id"])
        mine = local._store().decisions_of(doc["doc_id"])
        assert mine == milvus._store().decisions_of(doc["doc_id"]) and all(p.role == "decision" for p in mine)
        decided += len(mine)
    assert decided > 0
    assert local.meetings() == milvus.meetings()
    a, b = local.ask("How much will the library review save?"), milvus.ask("How much will the library review save?")
    assert (a.text, a.found, a.citations) == (b.text, b.found, b.citations)


def test_long_documents_are_kept_in_pieces_and_spans_read_across_them(tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    text = "\n\n".join(f"Paragraph {i}: the committee discussed item {i} of the plan." for i in range(900))
    (papers / "long.txt").write_text(text)
    settings = _settings(tmp_path, "milvus")
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    index = load_milvus_index(settings, "fake-hash-64")
    try:
        store = index.passages
        doc_id = store.documents(1, 0)[1][0]["doc_id"]
        full = store.document(doc_id)[1]  # type: ignore[index]
        assert len(full) > 2 * 16_000 and full == CouncilIndex.load(settings.index_dir).passages.document(doc_id)[1]
        for start, end in ((0, 10), (15_990, 16_010), (5, 40_000), (len(full) - 3, len(full) + 50), (40, 20)):
            assert store.text_span(doc_id, start, end) == full[start:end], (start, end)
        assert store.text_span("no-such-document", 0, 10) == ""
    finally:
        index.passages.close()


def test_served_with_no_index_folder_at_all(both) -> None:
    _, _, root = both
    assert not (root / "index").exists()
    settings = _settings(root, "milvus", index_dir=root / "nowhere" / "index")
    assert not settings.index_dir.exists()
    engine = Engine.load(settings, embedder=FakeEmbedder())
    with TestClient(create_app(settings, engine)) as client:
        health = client.get("/health").json()
        assert health["passages"] > 0 and health["index_dir"].startswith("milvus:")
        hits = client.get("/search", params={"q": "library closure", "mode": "bm25"}).json()["results"]
        assert hits and "library" in hits[0]["text"].lower()
    assert not (root / "nowhere").exists()


def test_expressions_are_built_from_typed_values() -> None:
    assert literal('Quo"te \\ back') == '"Quo\\"te \\\\ back"'
    assert literal(7) == "7"
    with pytest.raises(TypeError):
        literal(["a"])  # type: ignore[arg-type]
    hostile = 'x" or council != "'
    assert filters_expression({"council": hostile}) == f"(council == {json.dumps(hostile)})"
    assert filters_expression({"date_from": "2021-01-01", "speaker": "A"}) == \
        '(array_contains(speakers, "A")) and (date >= "2021-01-01")'
    assert filters_expression({}) is None


def test_a_hostile_filter_value_matches_nothing(both) -> None:
    _, milvus, _ = both
    rows = milvus.index.passages.rows_matching({"council": 'x" or council != "'})
    assert rows is not None and len(rows) == 0
    assert len(milvus.index.passages.rows_matching({"council": "Borsetshire County Council"})) > 0


def test_no_published_build_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexLoadError, match="holds no published build.*COUNCILQA_STORE=milvus"):
        load_milvus_index(_settings(tmp_path, "milvus"))


def test_bad_prefix_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="milvus_prefix"):
        _settings(tmp_path, "milvus", milvus_prefix="bad-name; drop")


def test_each_build_switches_the_alias_and_keeps_one_before_it(tmp_path: Path) -> None:
    papers = write_tiny_corpus(tmp_path / "papers")
    settings = _settings(tmp_path, "milvus")
    builds = []
    for _ in range(3):
        build_index([papers], settings, embedder=FakeEmbedder(), progress=False, force=True)
        client = connect(settings)
        try:
            builds.append(live_names(client, settings.milvus_prefix).build)  # type: ignore[union-attr]
            orphan = Names(settings.milvus_prefix, "deadbeef00000000")  # what a killed build leaves
            if len(builds) == 2:
                client.create_collection(orphan.passages, dimension=4)
        finally:
            client.close()
    client = connect(settings)
    try:
        left = {n for c in client.list_collections() if (n := Names.of_collection(settings.milvus_prefix, c))}
        assert {n.build for n in left} == {builds[1], builds[2]}, "the live build and the one before it"
        assert read_manifest(client, settings.milvus_prefix, builds[0]) is None
    finally:
        client.close()
    index = load_milvus_index(settings, "fake-hash-64")
    try:
        assert index.build_id == builds[2] and index.current_build_id() == builds[2]
    finally:
        index.passages.close()


# milvus-lite serves one process at a time (the first to open the file holds it until it exits): the
# builds and the checks each run in a process of their own, as builder and API nodes would.
_PROCESS = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from common.settings import Settings
s = Settings(index_dir=Path({index!r}), cache_dir=Path({cache!r}), chunk_tokens=60, chunk_overlap=10, store="milvus",
             milvus_uri={uri!r})
if sys.argv[1] == "build":
    from indexer.build import build_index
    from indexer.embed import FakeEmbedder
    print("started", flush=True)
    build_index([Path({papers!r})], s, embedder=FakeEmbedder(), progress=False, force=True)
    print("built", flush=True)
else:
    from indexer.milvus_store import Names, connect, count_rows, live_names, read_manifest
    client = connect(s)
    live = live_names(client, s.milvus_prefix)
    manifest = read_manifest(client, s.milvus_prefix, live.build) if live else None
    complete = manifest is not None and all(client.has_collection(n) for n in live.all)
    if complete:
        client.load_collection(live.passages)
        complete = count_rows(client, live.passages) == manifest["passages"]
    builds = sorted({{n.build for c in client.list_collections() if (n := Names.of_collection(s.milvus_prefix, c))}})
    print(json.dumps({{"live": live.build if live else None, "complete": complete, "builds": builds}}))
"""


@pytest.mark.slow
def test_a_build_killed_at_random_moments_leaves_the_alias_on_a_complete_build(tmp_path: Path) -> None:
    papers = write_tiny_corpus(tmp_path / "papers")
    script = tmp_path / "node.py"
    script.write_text(_PROCESS.format(root=str(ROOT), index=str(tmp_path / "index"), cache=str(tmp_path / "cache"),
                                      uri=str(tmp_path / "milvus.db"), papers=str(papers)))

    def run(what: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, str(script), what], capture_output=True, timeout=120, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def state() -> dict:
        return dict(json.loads(run("check").stdout.strip().splitlines()[-1]))

    started = time.monotonic()
    run("build")
    whole = time.monotonic() - started  # one uninterrupted build: the span the kills are spread over
    first = state()
    assert first["complete"] and first["builds"] == [first["live"]]
    rng = random.Random(16)
    finished, lives = [], {first["live"]}
    for trial in range(12):
        proc = subprocess.Popen([sys.executable, str(script), "build"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, whole * 1.05))
        proc.send_signal(signal.SIGKILL)
        finished.append("built" in proc.communicate(timeout=30)[0].decode())
        now = state()
        assert now["live"] is not None and now["complete"], f"trial {trial}: the alias names an incomplete build"
        lives.add(now["live"])
    assert not all(finished), "every build finished before its kill: the kills tested nothing"
    run("build")
    last = state()
    assert last["complete"] and len(last["builds"]) <= 2, f"the next build dropped what killed ones left: {last}"


def test_above_the_exact_search_limit_the_vectors_get_an_ivf_index(tmp_path: Path) -> None:
    papers = write_tiny_corpus(tmp_path / "papers")
    settings = _settings(tmp_path, "milvus", exact_search_max=5)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    index = load_milvus_index(settings, "fake-hash-64")
    try:
        assert index.manifest["dense"]["milvus_index"] == "IVF_SQ8" and index.dense.params == {"nprobe": 1}
        query = FakeEmbedder().encode_queries(["library closure savings"])
        rows = index.dense.search(query, 3)[1][0]
        assert rows[0] == CouncilIndex.load(settings.index_dir).dense.search(query, 3)[1][0][0]
    finally:
        index.passages.close()


def test_a_filter_is_searched_by_its_own_expression(both, monkeypatch: pytest.MonkeyPatch) -> None:
    _, milvus, _ = both
    rows = milvus.index.passages.rows_matching({"council": "City of Felpersham Council"})
    assert rows.expr == '(council == "City of Felpersham Council")' and rows[1:].expr is None
    sent: list[str] = []
    search = milvus.index.passages.client.search
    monkeypatch.setattr(milvus.index.passages.client, "search",
                        lambda *a, **kw: sent.append(kw["filter"]) or search(*a, **kw))
    by_expr = milvus.index.sparse.search(["council tax"], 5, rows)
    by_ids = milvus.index.sparse.search(["council tax"], 5, np.asarray(rows))
    assert sent[0] == rows.expr and len(sent) == 2 and "row" in sent[1]  # the plain array: by its ids
    np.testing.assert_array_equal(by_expr[1], by_ids[1])


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_milvus_own_hybrid_search_keeps_to_the_filters(both, method: str) -> None:
    _, milvus, _ = both
    milvus.milvus_fusion = method
    try:
        hits = milvus.search("library closure savings", mode="hybrid", k=5).hits
        assert hits and "library" in hits[0].passage.text.lower()
        only = milvus.search("children", mode="hybrid", filters={"doc_type": "transcript"}, auto_filters=False).hits
        assert only and {h.passage.doc_type for h in only} == {"transcript"}
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    finally:
        milvus.milvus_fusion = "project"
