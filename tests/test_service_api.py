"""The HTTP API over a tiny FakeEmbedder index: every endpoint, filters, modes, errors, abstention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common.settings import Settings
from core.answer import AnswerConfig
from core.engine import Engine
from indexer.embed import FakeEmbedder
from service.app import create_app
from tests.conftest import served_index

# FakeEmbedder cosines are lower than a real model's: its own abstention threshold.
FAKE_CONFIG = AnswerConfig(abstain_below=0.6)
DENSE = {"local": "flat", "milvus": "milvus"}  # what /stats calls the vector search of each store


def make_engine(index_dir: Path, **settings: object) -> Engine:
    s = Settings(index_dir=index_dir, **settings)  # type: ignore[arg-type]
    return Engine(served_index(index_dir, "fake-hash-64"), FakeEmbedder(), s, answer_config=FAKE_CONFIG)


@pytest.fixture(scope="module")
def engine(tiny_index_dir: Path) -> Engine:
    return make_engine(tiny_index_dir)


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    app = create_app(engine.settings, engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# -- search ----------------------------------------------------------------------------------------


def test_search_returns_ranked_passages_with_citations(client: TestClient) -> None:
    r = client.get("/search", params={"q": "pothole repair programme", "k": 3})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["query"] == "pothole repair programme" and data["mode"] == "hybrid"
    top = data["results"][0]
    assert "pothole repair programme" in top["text"] and top["rank"] == 1
    c = top["citation"]
    assert c["council"] == "Borsetshire County Council" and c["date"] == "2021-03-10"
    assert c["doc_type"] == "minutes" and c["url"] == "https://borsetshire.example/cabinet/2021-03-10"
    doc = client.get(f"/documents/{c['document_id']}").json()
    assert doc["text"][c["char_start"]:c["char_end"]] == top["text"]
    assert [x["rank"] for x in data["results"]] == list(range(1, len(data["results"]) + 1))
    scores = [x["score"] for x in data["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_obvious_passage(client: TestClient, mode: str) -> None:
    data = client.get("/search", params={"q": "school counselling service waiting list", "mode": mode}).json()
    assert data["mode"] == mode
    assert any("waiting list" in x["text"] for x in data["results"][:3])


def test_hybrid_scores_are_convex_fusion(client: TestClient) -> None:
    # BM25's and the dense list's scores, each min-max normalised, weighted 0.55 and 0.45: the passage
    # first in both lists scores exactly 1.
    results = client.get("/search", params={"q": "foster carers recruitment campaign", "auto_filters": "false"}
                         ).json()["results"]
    assert all(0 <= r["score"] <= 1 + 1e-6 for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


@pytest.mark.parametrize(("params", "field", "expected"), [
    ({"council": "borsetshire county council"}, "council", "Borsetshire County Council"),
    ({"council": "Felpersham"}, "council", "City of Felpersham Council"),
    ({"committee": "cabinet"}, "committee", "Cabinet"),
    ({"doc_type": "webcast"}, "doc_type", "transcript"),
    ({"doc_type": "REPORT"}, "doc_type", "report"),
    ({"speaker": "Lynda Snell"}, "speaker", "Cllr Lynda Snell"),
])
def test_each_filter_restricts_results(client: TestClient, params: dict, field: str, expected: str) -> None:
    data = client.get("/search", params={"q": "children library council", "auto_filters": "false", **params}).json()
    assert data["filters_applied"] == {field: expected} and data["auto_filters"] == {}
    assert data["results"]
    for x in data["results"]:
        if field == "speaker":
            assert x["citation"]["speaker"] == expected or expected in x["text"]
        else:
            assert x["citation"][field] == expected


def test_date_filters(client: TestClient) -> None:
    data = client.get("/search", params={"q": "council", "date_from": "2022-01-01", "date_to": "2022-12-31"}).json()
    assert data["filters_applied"] == {"date_from": "2022-01-01", "date_to": "2022-12-31"}
    assert data["results"] and all(x["citation"]["date"].startswith("2022") for x in data["results"])
    data = client.get("/search", params={"q": "council", "date_from": "2023"}).json()
    assert data["filters_applied"]["date_from"] == "2023-01-01"
    assert all(x["citation"]["date"] >= "2023-01-01" for x in data["results"])


# -- query understanding ---------------------------------------------------------------------------


def test_council_named_in_query_becomes_a_filter(client: TestClient) -> None:
    data = client.get("/search", params={"q": "what did Felpersham say about foster carers"}).json()
    assert data["auto_filters"] == {"council": "City of Felpersham Council"}
    assert data["filters_applied"] == data["auto_filters"]
    assert all(x["citation"]["council"] == "City of Felpersham Council" for x in data["results"])
    assert "foster carers" in data["results"][0]["text"]


def test_auto_filters_can_be_turned_off(client: TestClient) -> None:
    data = client.get("/search", params={"q": "what did Felpersham say about foster carers",
                                         "auto_filters": "false"}).json()
    assert data["auto_filters"] == {} and data["filters_applied"] == {}


def test_speaker_and_month_in_query(client: TestClient) -> None:
    data = client.get("/search", params={"q": "what did Councillor Snell say about counsellors in July 2022"}).json()
    assert data["auto_filters"] == {"speaker": "Cllr Lynda Snell", "date_from": "2022-07-01",
                                    "date_to": "2022-07-31"}
    assert all(x["citation"]["date"] == "2022-07-14" for x in data["results"])


def test_a_year_alone_in_the_query_boosts(client: TestClient) -> None:
    # "in 2022" may date what was said rather than the meeting: it boosts that year's papers, filters nothing
    data = client.get("/search", params={"q": "what did Councillor Snell say about counsellors in 2022"}).json()
    assert data["auto_filters"] == {"speaker": "Cllr Lynda Snell"}
    assert data["boosts"] == {"date": ["2022-01-01..2022-12-31"]}


def test_hand_set_filter_wins_over_the_query(client: TestClient) -> None:
    data = client.get("/search", params={"q": "Felpersham library", "council": "Borsetshire"}).json()
    assert data["filters_applied"] == {"council": "Borsetshire County Council"} and data["auto_filters"] == {}


def test_filter_that_would_leave_nothing_becomes_a_boost(client: TestClient) -> None:
    data = client.get("/search", params={"q": "Felpersham foster carers in 2022"}).json()
    # Felpersham has nothing in 2022: the year is demoted to a boost, the council stays a filter.
    assert data["auto_filters"] == {"council": "City of Felpersham Council"}
    assert data["boosts"] == {"date": ["2022-01-01..2022-12-31"]}
    assert data["results"]


def test_two_councils_are_boosted_not_filtered(client: TestClient) -> None:
    data = client.get("/search", params={"q": "Borsetshire and Felpersham libraries"}).json()
    assert data["auto_filters"] == {}
    assert sorted(data["boosts"]["council"]) == ["Borsetshire County Council", "City of Felpersham Council"]


# -- answers ---------------------------------------------------------------------------------------


def test_ask_answers_with_verbatim_cited_quotes(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "how many foster carers did the recruitment campaign add?"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["found"] and data["mode"] == "extractive" and data["llm_error"] is None
    assert data["citations"] and "[1]" in data["answer"]
    assert any("35 foster carers" in c["quote"] for c in data["citations"])
    for c in data["citations"]:
        assert f"[{c['n']}]" in data["answer"]
        assert c["quote"] in c["text"]
        doc = client.get(f"/documents/{c['document_id']}").json()["text"]
        assert doc[c["quote_start"]:c["quote_end"]] == c["quote"]
        assert doc[c["char_start"]:c["char_end"]] == c["text"]
        assert c["quotes"] and any(q["start"] == c["quote_start"] for q in c["quotes"])
        for q in c["quotes"]:
            assert doc[q["start"]:q["end"]] == q["text"] and q["text"] in c["text"]
    # one citation per passage, numbered in order of first use
    assert len({(c["document_id"], c["char_start"]) for c in data["citations"]}) == len(data["citations"])
    order = [int(m) for m in re.findall(r"\[(\d+)\]", data["answer"])]
    assert list(dict.fromkeys(order)) == sorted({c["n"] for c in data["citations"]})


def test_ask_in_a_transcript_quotes_lines_verbatim(client: TestClient) -> None:
    data = client.post("/ask", json={"question": "how far has the counselling waiting list fallen?",
                                     "doc_type": "transcript"}).json()
    assert data["found"], data
    c = data["citations"][0]
    assert c["speaker"] and c["timestamp"] and " - 0:" not in c["quote"]


def test_ask_abstains_when_nothing_matches(client: TestClient) -> None:
    data = client.post("/ask", json={"question": "What colour are the dragons on Mars?"}).json()
    assert data["found"] is False and data["citations"] == []
    assert data["answer"].startswith("I couldn't find anything")


def test_ask_reports_filters(client: TestClient) -> None:
    data = client.post("/ask", json={"question": "What did Felpersham decide about the youth centre?"}).json()
    assert data["auto_filters"] == {"council": "City of Felpersham Council"}
    assert data["found"] and "youth centre" in data["citations"][0]["quote"]


# -- documents and meta ----------------------------------------------------------------------------


def test_facets(client: TestClient) -> None:
    f = client.get("/facets").json()
    assert {c["value"] for c in f["councils"]} == {"Borsetshire County Council", "City of Felpersham Council"}
    assert {"value", "count"} <= set(f["speakers"][0])
    assert f["date_min"] == "2019-11-05" and f["date_max"] == "2023-02-22"
    assert f["documents"] == 4 and f["passages"] > 4


def test_documents_listing_and_paging(client: TestClient) -> None:
    page = client.get("/documents", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 4 and len(page["documents"]) == 2
    assert {"document_id", "title", "council", "date", "doc_type"} <= set(page["documents"][0])
    _error(client.get("/documents", params={"limit": 0}), 422, "invalid_paging")


def test_document_and_unknown_document(client: TestClient) -> None:
    doc_id = client.get("/documents").json()["documents"][0]["document_id"]
    doc = client.get(f"/documents/{doc_id}").json()
    assert doc["document_id"] == doc_id and doc["text"] and isinstance(doc["extra"], dict)
    err = _error(client.get("/documents/nope"), 404, "document_not_found")
    assert err["details"] == {"document_id": "nope"}


def test_health_and_stats(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] == "fake-hash-64" and h["documents"] == 4 and h["llm"] is False
    s = client.get("/stats").json()
    assert s["manifest"]["model"]["id"] == "fake-hash-64" and s["councils"] == 2
    assert s["dense"] == DENSE[Settings().store]


def test_openapi_documents_every_field(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for name in ("SearchResponse", "SearchResult", "Citation", "AskRequest", "AskResponse", "AnswerCitation",
                 "FacetsResponse", "DocumentResponse", "ErrorResponse", "ErrorBody"):
        props = schema["components"]["schemas"][name]["properties"]
        missing = [p for p, v in props.items() if not v.get("description")]
        assert not missing, (name, missing)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "code"), [
    ({"q": ""}, "empty_query"),
    ({"q": "   "}, "empty_query"),
    ({"q": "x" * 1001}, "query_too_long"),
    ({"q": "library", "k": 0}, "invalid_k"),
    ({"q": "library", "k": 101}, "invalid_k"),
    ({"q": "library", "k": "ten"}, "invalid_request"),
    ({"q": "library", "mode": "magic"}, "invalid_request"),
    ({"q": "library", "date_from": "2021-13-45"}, "invalid_date"),
    ({"q": "library", "date_from": "last tuesday"}, "invalid_date"),
    ({"q": "library", "date_from": "2022-01-01", "date_to": "2021-01-01"}, "invalid_date_range"),
    ({"q": "library", "colour": "red"}, "unknown_parameter"),
    ({}, "invalid_request"),
])
def test_bad_search_input_is_a_422(client: TestClient, params: dict, code: str) -> None:
    _error(client.get("/search", params=params), 422, code)


def test_unknown_filter_value_lists_the_valid_ones(client: TestClient) -> None:
    err = _error(client.get("/search", params={"q": "library", "council": "Narnia"}), 422, "unknown_filter_value")
    assert err["details"]["field"] == "council"
    assert set(err["details"]["valid"]) == {"Borsetshire County Council", "City of Felpersham Council"}
    err = _error(client.get("/search", params={"q": "x", "speaker": "Nobody Atall"}), 422, "unknown_filter_value")
    assert "Cllr Lynda Snell" in err["details"]["valid"]


@pytest.mark.parametrize(("body", "code"), [
    ({"question": ""}, "empty_query"),
    ({"question": "q" * 1001}, "query_too_long"),
    ({"question": "library", "k": 0}, "invalid_k"),
    ({"question": "library", "colour": "red"}, "invalid_request"),
    ({"question": "library", "doc_type": "poem"}, "unknown_filter_value"),
    ({"question": "library", "date_to": "2021-02-30"}, "invalid_date"),
    ({}, "invalid_request"),
])
def test_bad_ask_input_is_a_422(client: TestClient, body: dict, code: str) -> None:
    _error(client.post("/ask", json=body), 422, code)


def test_malformed_json_and_unknown_route(client: TestClient) -> None:
    _error(client.post("/ask", content=b"{not json", headers={"content-type": "application/json"}), 422)
    _error(client.get("/nowhere"), 404, "not_found")
    _error(client.delete("/search"), 405)


def test_unexpected_errors_are_500_in_the_same_shape(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir)

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    engine.search = boom  # type: ignore[method-assign]
    with TestClient(create_app(engine.settings, engine), raise_server_exceptions=False) as c:
        r = c.get("/search", params={"q": "library"})
    err = _error(r, 500, "internal_error")
    assert "secret" not in r.text and "Traceback" not in r.text and err["details"] == {}


def test_lifespan_loads_the_engine_and_missing_index_is_clear(tmp_path: Path) -> None:
    from indexer.index import IndexLoadError

    with pytest.raises(IndexLoadError, match="councilqa index"), \
            TestClient(create_app(Settings(index_dir=tmp_path / "none"))):
        pass
