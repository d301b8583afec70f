"""The evaluation harness: metric plumbing, quote-based relevance, the CI gate, significance, HTTP backend.

Fast and model-free: the engine is replaced by a fake backend or an httpx MockTransport.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.settings import Settings
from evaluation.backends import AskCitation, AskResult, Hit, HttpBackend
from evaluation.gold import Evidence, GoldQuestion
from evaluation.judge import EvidenceJudge, holds_facts, locate
from evaluation.metrics import METRICS, build_qrels, build_run, ranking_to_run, scores, significance
from evaluation.runner import run_cli, run_questions, summarise
from indexer.chunk import ChunkSettings, chunk_document
from indexer.clean import clean_text
from indexer.models import Document, DocumentMeta, Segment

# ------------------------------------------------------------------------------------------- metrics


def test_metrics_on_a_hand_computed_toy_run() -> None:
    # Each ranking lists, per retrieved passage, the evidence items it matches.
    rankings: dict[str, list[list[int]]] = {
        "q1": [[], [0], [], []],  # 1 item, found at rank 2
        "q2": [[0], [], [], [], [], [1]],  # 2 items, found at ranks 1 and 6
        "q3": [[0], [0], []],  # 1 item at rank 1; rank 2 matches the same item again: not relevant again
    }
    qrels = build_qrels({"q1": 1, "q2": 2, "q3": 1})
    got = scores(qrels, build_run(rankings, "toy"))
    # Recall@1: q1 0/1, q2 1/2, q3 1/1          -> (0 + 0.5 + 1) / 3 = 0.5
    # Recall@5: q1 1/1, q2 1/2 (rank 6 > 5), q3 1 -> (1 + 0.5 + 1) / 3 = 0.8333
    # Recall@10: all items found                  -> 1.0
    # MRR@10: q1 1/2, q2 1/1, q3 1/1              -> (0.5 + 1 + 1) / 3 = 0.8333
    # nDCG@10 (gain 1 / log2(rank + 1)):
    #   q1: (1/log2 3) / 1                        = 0.63093
    #   q2: (1/log2 2 + 1/log2 7) / (1/log2 2 + 1/log2 3) = 1.35621 / 1.63093 = 0.83155
    #   q3: 1 / 1 (the duplicate at rank 2 earns nothing, so the ideal is met exactly) = 1.0
    #   mean = (0.63093 + 0.83155 + 1) / 3        = 0.82083
    ndcg_q1 = 1 / math.log2(3)
    ndcg_q2 = (1 + 1 / math.log2(7)) / (1 + 1 / math.log2(3))
    assert got["recall@1"] == pytest.approx(0.5)
    assert got["recall@5"] == pytest.approx(2.5 / 3)
    assert got["recall@10"] == pytest.approx(1.0)
    assert got["mrr@10"] == pytest.approx(2.5 / 3)
    assert got["ndcg@10"] == pytest.approx((ndcg_q1 + ndcg_q2 + 1) / 3)
    assert got["ndcg@10"] == pytest.approx(0.82083, abs=1e-5)


def test_ranking_to_run_names_items_and_keeps_order() -> None:
    run = ranking_to_run("q", [[], [1, 0], [0], []])
    ordered = sorted(run, key=lambda name: -run[name])
    # rank 2 matches two new items: both named, the second one place lower; rank 3 repeats item 0: not relevant.
    assert ordered == ["q#p1", "q#e1", "q#e0", "q#p3", "q#p4"]
    assert ranking_to_run("q", []) == {"q#none": 0.0}


def test_significance_output_shape() -> None:
    qrels = build_qrels({f"q{i}": 1 for i in range(8)})
    runs = {
        "hybrid": build_run({f"q{i}": [[0]] for i in range(8)}, "hybrid"),
        "bm25": build_run({f"q{i}": [[], [0]] for i in range(8)}, "bm25"),
        "dense": build_run({f"q{i}": [[]] if i % 2 else [[0]] for i in range(8)}, "dense"),
    }
    p = significance(qrels, runs)
    assert set(p) == {"bm25", "dense"}
    for other in p.values():
        assert set(other) == set(METRICS)
        assert all(0.0 <= v <= 1.0 for v in other.values())
    assert p["bm25"]["recall@5"] == 1.0  # identical per-question recall@5: no difference at all
    assert p["bm25"]["mrr@10"] < 0.05  # hybrid wins on every question (1 vs 0.5)


# ------------------------------------------------------------------------------- relevance judgement

RAW = (
    "<p>Item 8 Our Future Council.</p>\n"
    "Alison Hinds said that the youth zone had been a success. On the <b>youth zone</b>, the capital funding of "
    "£6.5 million is secured and the council's revenue   contribution will reduce from £500,000 to £250,000 "
    "over three years, as the youth zone raises more of its own funding. The building was designed with "
    "young people and the manage-\nment board includes two young people.\n\n"
    + "".join(f"Paragraph {i}: the panel noted the update on school transport and agreed the minutes. " * 2 + "\n\n"
              for i in range(12))
)
# Verbatim from the raw text (tags, double spaces and a broken hyphenation included).
QUOTE = "the council's revenue   contribution will reduce from £500,000 to £250,000 over three years"
QUOTE_HYPHEN = "the manage-\nment board includes two young people"


def _doc() -> Document:
    text = clean_text(RAW)
    return Document(DocumentMeta("wolves-1"), text, [Segment(0, len(text))])


def test_quote_is_relevant_under_two_different_chunkings() -> None:
    doc = _doc()
    small = chunk_document(doc, ChunkSettings(chunk_tokens=40, chunk_overlap=0))
    large = chunk_document(doc, ChunkSettings(chunk_tokens=160, chunk_overlap=30))
    assert [(p.char_start, p.char_end) for p in small] != [(p.char_start, p.char_end) for p in large]

    judge = EvidenceJudge([Evidence("wolves-1", QUOTE), Evidence("wolves-1", QUOTE_HYPHEN)],
                          doc_text=lambda d: doc.text if d == "wolves-1" else None)
    assert judge.located == [True, True]  # both found in the cleaned text despite tags, spacing, hyphenation
    for passages in (small, large):
        matched = [judge.matches(p.doc_id, p.text, p.char_start, p.char_end) for p in passages]
        assert any(0 in m for m in matched)
        assert any(1 in m for m in matched)
        unrelated = next(p for p in passages if "school transport" in p.text and "young" not in p.text)
        assert judge.matches(unrelated.doc_id, unrelated.text, unrelated.char_start, unrelated.char_end) == []
    # The same text in another document is not the evidence.
    hit = next(p for p in large if 0 in judge.matches(p.doc_id, p.text, p.char_start, p.char_end))
    assert judge.matches("brum-1", hit.text, hit.char_start, hit.char_end) == []


def test_quote_split_by_a_chunk_boundary_matches_by_span_or_ngrams() -> None:
    doc = _doc()
    span = locate(QUOTE, doc.text)
    assert span is not None
    start, end = span
    judge = EvidenceJudge([Evidence("wolves-1", QUOTE)], doc_text=lambda _: doc.text)
    cut = start + (end - start) * 7 // 10  # a passage holding the first 70% of the quote
    assert judge.matches("wolves-1", doc.text[:cut], 0, cut) == [0]
    # Without offsets, the word 5-grams carry a passage holding most of it (>= 60% of them present) ...
    most = start + (end - start) * 85 // 100
    assert judge.matches("wolves-1", doc.text[:most], None, None) == [0]
    # ... but not one holding 70% of the characters, where only 6 of its 12 5-grams are complete.
    assert judge.matches("wolves-1", doc.text[:cut], None, None) == []
    tail = start + (end - start) * 8 // 10  # only the last 20% of the quote: not enough
    assert judge.matches("wolves-1", doc.text[tail:], tail, len(doc.text)) == []


def test_short_quotes_match_whole_words_only() -> None:
    judge = EvidenceJudge([Evidence("d", "22%")])
    assert judge.matches("d", "22% of the sector work with children", 0, 10) == [0]
    assert judge.matches("d", "a total of 1,622 groups", 0, 10) == []


# -------------------------------------------------------------------------------- runner and CI gate

DOC_TEXT = "The youth zone revenue contribution will reduce from £500,000 to £250,000 over three years. " * 1


class FakeBackend:
    """Hybrid finds the evidence at rank 1, bm25 at rank 3, dense never; /ask answers and cites it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def search(self, query: str, k: int, mode: str, filters: dict[str, Any] | None = None) -> list[Hit]:
        self.calls.append(("search", mode))
        good = Hit("d1", 0, len(DOC_TEXT), DOC_TEXT)
        other = [Hit("d2", i * 10, i * 10 + 9, f"unrelated passage {i}") for i in range(k)]
        ranking = {"hybrid": [good, *other], "bm25": [*other[:2], good, *other[2:]], "dense": other}[mode]
        return ranking[:k]

    def ask(self, question: str, filters: dict[str, Any] | None = None) -> AskResult:
        self.calls.append(("ask", question))
        if "bins" in question:
            return AskResult("No passage in the papers answers this question.", False, [])
        quote = "will reduce from £500,000 to £250,000"
        q0 = DOC_TEXT.index(quote)
        cit = AskCitation("d1", 0, len(DOC_TEXT), quote, DOC_TEXT, q0, q0 + len(quote))
        return AskResult(f"The contribution {quote} [1].", True, [cit])

    def document_text(self, doc_id: str) -> str | None:
        return DOC_TEXT if doc_id == "d1" else None

    def close(self) -> None:
        pass


def _gold(tmp_path: Path) -> Path:
    rows = [
        {"id": "a1", "question": "What happens to the youth zone contribution?", "kind": "factual",
         "answerable": True, "evidence": [{"doc_id": "d1", "quote": "contribution will reduce from £500,000"}],
         "key_facts": ["£250,000"], "filters": {}},
        {"id": "a2", "question": "youth zone revenue", "kind": "paraphrased", "answerable": True,
         "evidence": [{"doc_id": "d1", "quote": "to £250,000 over three years"}], "key_facts": ["£9"], "filters": {}},
        {"id": "u1", "question": "How often are bins collected?", "kind": "unanswerable", "answerable": False,
         "evidence": [], "key_facts": [], "filters": {}},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_runner_figures_on_a_fake_backend(tmp_path: Path) -> None:
    from evaluation.gold import load_gold

    report = summarise(run_questions(FakeBackend(), load_gold(_gold(tmp_path))))
    assert report["retrieval_questions"] == 2  # the unanswerable one is not scored for retrieval
    assert report["retrieval"]["hybrid"]["recall@1"] == 1.0
    assert report["retrieval"]["bm25"]["recall@1"] == 0.0
    assert report["retrieval"]["bm25"]["mrr@10"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["retrieval"]["dense"]["recall@10"] == 0.0
    assert [m["id"] for m in report["missed"]["dense"]] == ["a1", "a2"]
    assert report["missed"]["hybrid"] == []
    a = report["answers"]
    assert a["key_facts_all"] == 0.5  # a1's answer has £250,000, a2's lacks "£9"
    assert a["cites_evidence_any"] == 1.0
    assert a["abstention_accuracy"] == 1.0
    assert a["false_abstention_rate"] == 0.0
    assert set(report["latency_ms"]) == {"hybrid", "bm25", "dense", "ask"}
    assert report["latency_ms"]["ask"]["p95"] is not None
    assert report["unlocated_evidence"] == []


def test_min_recall5_gate_sets_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = _gold(tmp_path)
    out = tmp_path / "reports"
    # Fake hybrid Recall@5 is 1.0.
    assert run_cli(Settings(), gold=gold, url=None, out_dir=out, min_recall5=0.9, backend=FakeBackend()) == 0
    assert (out / "report.md").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["retrieval"]["hybrid"]["recall@5"] == 1.0
    assert run_cli(Settings(), gold=gold, url=None, out_dir=out, min_recall5=None, backend=FakeBackend()) == 0
    capsys.readouterr()
    # A backend whose hybrid finds nothing fails the gate and says why.
    broken = FakeBackend()
    broken.search = lambda query, k, mode, filters=None: []  # type: ignore[method-assign]
    assert run_cli(Settings(), gold=gold, url=None, out_dir=out, min_recall5=0.5, backend=broken) == 1
    assert "Recall@5 0.0000 is below --min-recall5 0.5000" in capsys.readouterr().out
    assert run_cli(Settings(), gold=tmp_path / "missing.jsonl", url=None, out_dir=out, min_recall5=None,
                   backend=FakeBackend()) == 2


def test_min_key_facts_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = _gold(tmp_path)
    out = tmp_path / "reports"
    assert run_cli(Settings(), gold=gold, url=None, out_dir=out, min_recall5=None, backend=FakeBackend(),
                   min_key_facts=0.0) == 0
    facts = json.loads((out / "report.json").read_text())["answers"]["key_facts_all"]
    capsys.readouterr()
    assert run_cli(Settings(), gold=gold, url=None, out_dir=out, min_recall5=None, backend=FakeBackend(),
                   min_key_facts=facts + 0.01) == 1
    assert "below --min-key-facts" in capsys.readouterr().out


def test_key_facts_ignore_case_and_spacing() -> None:
    assert holds_facts("A gap of 11.2 Million remains", ["11 .2 million"])
    assert not holds_facts("A gap of 11.2 million", ["12.2 million"])


# -------------------------------------------------------------------------------------- HTTP backend


def test_http_backend_against_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/search":
            return httpx.Response(200, json={"results": [
                {"rank": 1, "score": 0.5, "text": "passage one",
                 "citation": {"document_id": "d1", "char_start": 10, "char_end": 21, "title": "T"}}]})
        if request.url.path == "/ask":
            return httpx.Response(200, json={"answer": "It is one [1].", "found": True, "citations": [
                {"n": 1, "quote": "one", "text": "passage one", "document_id": "d1", "char_start": 10,
                 "char_end": 21, "quote_start": 18, "quote_end": 21, "rank": 1, "score": 0.5}]})
        if request.url.path == "/documents/d1":
            return httpx.Response(200, json={"document_id": "d1", "text": "0123456789passage one"})
        return httpx.Response(404, json={"error": {"code": "document_not_found", "message": "no"}})

    client = httpx.Client(base_url="http://test", transport=httpx.MockTransport(handler))
    backend = HttpBackend("http://test", client=client)
    assert backend.search("youth zone", 10, "bm25") == [Hit("d1", 10, 21, "passage one")]
    params = seen[-1].url.params
    assert (params["q"], params["k"], params["mode"], params["auto_filters"]) == ("youth zone", "10", "bm25", "true")
    got = backend.ask("what is it?")
    assert json.loads(seen[-1].content) == {"question": "what is it?"}
    assert got.found and got.answer == "It is one [1]."
    assert got.citations == [AskCitation("d1", 10, 21, "one", "passage one", 18, 21)]
    assert backend.document_text("d1") == "0123456789passage one"
    assert backend.document_text("nope") is None
    backend.close()


def test_gold_question_parsing() -> None:
    q = GoldQuestion.from_dict({"id": "x", "question": "?", "kind": "unanswerable", "answerable": False,
                                "evidence": [], "key_facts": [], "filters": {"council": None}})
    assert not q.has_evidence and q.filters == {}
