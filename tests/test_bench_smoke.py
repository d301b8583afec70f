"""The benchmark scripts run end to end in their --smoke form (figures are printed, never asserted).

Together well under a minute on 2 cores; no timing assertions. The embedding smoke loads the real
model, so it is marked slow like the other model-loading tests.
"""

from __future__ import annotations

import pytest

from bench.common import SHARED_CORPORA, corpus_files

needs_corpora = pytest.mark.skipif(not corpus_files(SHARED_CORPORA), reason="../shared/corpora is absent")


@needs_corpora
def test_bench_search_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_search import main

    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "dense hnsw" in out and "bm25" in out and "recall@10" in out


@needs_corpora
def test_bench_index_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_index import main

    assert main(["--smoke"]) == 0
    assert "B/passage" in capsys.readouterr().out


def test_bench_incremental_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_incremental import main

    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "no-change re-run" in out and "add one document" in out


def test_bench_fuzz_build_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_fuzz_build import main

    # every kind of bad file once (40 entries, light zip bombs) and the good ones, the hashing embedder: ~6 s
    assert main(["--fake", "--light", "--files", "40"]) == 0
    out = capsys.readouterr().out
    assert "exit code: 0" in out and "+ 0 unexpected" in out and "result: ok" in out


@pytest.mark.slow
@needs_corpora
def test_bench_embed_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_embed import main

    assert main(["--smoke"]) == 0
    assert "Cosine-to-fp32 check" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_query_encoding_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.bench_query_encoding import main

    assert main(["--quick", "--backends", "onnx-fp32"]) == 0
    out = capsys.readouterr().out
    assert "| onnx-fp32 | 1 | idle |" in out and "| onnx-fp32 | 1 | one core busy |" in out


@needs_corpora
@pytest.mark.slow
def test_bench_store_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("milvus_lite", reason="milvus-lite not installed: pip install 'councilqa[milvus]'")
    from bench.bench_store import main

    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "| derived 2,000 | local |" in out and "| derived 2,000 | milvus |" in out and "hybrid p95 ms" in out
