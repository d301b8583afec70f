"""A running service answers every request from exactly one complete build, across a rebuild under traffic.

Issue 12, defect 1: the passage store used to be opened lazily per worker thread, so after the folder
was swapped, new threads read the new build's passages while vectors and BM25 were the old build's.
Here a real uvicorn server on loopback takes concurrent requests while the index is rebuilt with a paper
that sorts first (so every row number moves); every response must agree with the build it names.
With `pytest --store milvus` the service reads Milvus, and a rebuild goes live when the alias switches.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from common.settings import Settings
from core.engine import Engine
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from service.app import create_app
from service.deps import BUILD_HEADER
from tests.conftest import served_index
from tests.ui_fakes import free_port

DOCS = {
    "m.txt": "Minutes of the Highways Committee.\n\nThe committee approved the pothole repair programme for the "
             "north of the borough, with a budget of two hundred thousand pounds.",
    "r.txt": "Report on allotments.\n\nThe waiting list for allotments has grown and new plots are proposed on "
             "council land near the river.",
}
NEW = ("aaa.txt", "Notes of the zebra crossing consultation.\n\nResidents asked for a zebra crossing outside the "
                  "primary school; officers will survey traffic speeds.")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        pass


def _texts(folder: Path) -> dict[str, str]:
    index = served_index(folder)
    try:
        total, docs = index.passages.documents(100, 0)
        return {d["doc_id"]: index.passages.document(d["doc_id"])[1] for d in docs}  # type: ignore[index]
    finally:
        index.passages.close()


def test_rebuild_under_traffic_never_mixes_builds(tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    for name, text in DOCS.items():
        (papers / name).write_text(text)
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", reload_check_s=0.05)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    builds = {served_index(settings.index_dir).build_id: _texts(settings.index_dir)}
    engine = Engine(served_index(settings.index_dir), FakeEmbedder(), settings)
    port = free_port()
    server = _Server(uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    seen: list[tuple[str, str, dict]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(400):  # bounded: stops by itself
                if stop.is_set():
                    return
                for path, params in (("/search", {"q": "pothole repair", "mode": "bm25", "auto_filters": "false"}),
                                     ("/documents", {}), ("/health", {})):
                    r = client.get(path, params=params)
                    assert r.status_code == 200, r.text
                    seen.append((path, r.headers[BUILD_HEADER], r.json()))

    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        workers = [threading.Thread(target=traffic) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.3)
        (papers / NEW[0]).write_text(NEW[1])
        build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
        builds[served_index(settings.index_dir).build_id] = _texts(settings.index_dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(b != next(iter(builds)) for _, b, _ in seen[-12:]):
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for w in workers:
            w.join(30)
    finally:
        stop.set()
        server.should_exit = True
        thread.join(10)
        engine.close()

    assert len(builds) == 2 and {b for _, b, _ in seen} == set(builds), "traffic saw both builds"
    for path, build, body in seen:
        texts = builds[build]
        if path == "/documents":
            assert {d["document_id"] for d in body["documents"]} == set(texts)
        elif path == "/health":
            assert body["build_id"] == build and body["documents"] == len(texts)
        else:
            assert body["results"], body
            top = body["results"][0]
            assert "pothole repair" in top["text"]
            for hit in body["results"]:
                c = hit["citation"]
                assert texts[c["document_id"]][c["char_start"]:c["char_end"]] == hit["text"]


@pytest.mark.parametrize("check_s", [0.0])
def test_without_checks_sighup_or_reload_picks_up_the_new_build(tmp_path: Path, check_s: float) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    for name, text in DOCS.items():
        (papers / name).write_text(text)
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", reload_check_s=check_s)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    engine = Engine(served_index(settings.index_dir), FakeEmbedder(), settings)
    app = create_app(settings, engine)
    from fastapi.testclient import TestClient

    client = TestClient(app)
    first = client.get("/health").json()
    (papers / NEW[0]).write_text(NEW[1])
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    assert client.get("/health").json()["build_id"] == first["build_id"], "no check: still the loaded build"
    app.state.holder.reload()
    after = client.get("/health")
    assert after.json()["build_id"] != first["build_id"] and after.json()["documents"] == 3
    assert after.headers[BUILD_HEADER] == after.json()["build_id"]
    app.state.holder.close()
    engine.close()
