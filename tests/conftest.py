"""Shared fixtures: small indexes built once per session.

* `tiny_index_dir`: four short documents from two councils that are not among the seeds
  ("Borsetshire County Council", "City of Felpersham Council"), FakeEmbedder, built in seconds.
* `corpus_index_dir`: the shipped corpus/ with the real model (slow; use with @pytest.mark.slow).

The store: `pytest --store milvus` builds both with COUNCILQA_STORE=milvus (a milvus-lite file beside
each index folder), sets COUNCILQA_STORE for the session, and then moves each index folder away, so
a test that reads anything but Milvus fails. test.sh runs the service, answer and evaluation tests
so a second time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import Settings
from core.engine import load_index
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex
from indexer.milvus_read import MilvusIndex

ROOT = Path(__file__).resolve().parents[1]

TINY_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    "bcc_cabinet_2021": (
        "Borsetshire County Council\nCabinet\n10 March 2021\n\n"
        "1. Apologies\n\nApologies were received from Councillor Brian Aldridge.\n\n"
        "2. Library services review\n\n"
        "The Cabinet approved the closure of the Loxley Barrett mobile library from June 2021. "
        "Savings of £120,000 a year are expected from the library review.\n"
        "Members asked that the Felpersham central library keep its Saturday opening hours.\n\n"
        "3. Highways maintenance\n\n"
        "The Cabinet agreed a pothole repair programme of £2.4 million for the county's rural roads. "
        "Repairs on the Am Valley road will start in the spring.\n",
        {"council": "Borsetshire County Council", "committee": "Cabinet", "date": "2021-03-10",
         "title": "Cabinet minutes 10 March 2021", "doc_type": "minutes",
         "source_url": "https://borsetshire.example/cabinet/2021-03-10"},
    ),
    "bcc_health_2022": (
        "Health and Wellbeing Board - Thursday 14 July 2022 - Borsetshire County Council Webcasting\n"
        "Agenda item :\n4 Children's mental health\n"
        "Cllr Lynda Snell - 0:00:05\n"
        "Welcome everyone to the Health and Wellbeing Board. We turn to children's mental health\n"
        "and the waiting times for the school counselling service.\n"
        "Jennifer Aldridge - 0:01:10\n"
        "Thank you chair. The school counselling service now sees children within six weeks\n"
        "and we have recruited four new counsellors for the secondary schools in Borchester.\n"
        "The waiting list has fallen from 300 children to 120 children since January.\n"
        "Cllr Lynda Snell - 0:03:40\n"
        "Thank you Jennifer. That is a real improvement and the board welcomes the new counsellors.\n",
        {"council": "Borsetshire County Council", "committee": "Health and Wellbeing Board", "date": "2022-07-14",
         "title": "Health and Wellbeing Board webcast 14 July 2022", "doc_type": "transcript",
         "source_url": "https://borsetshire.example/webcast/2022-07-14"},
    ),
    "fcc_scrutiny_2019": (
        "City of Felpersham Council\nChildren's Scrutiny Committee\nReport of the Director of Children's Services\n\n"
        "Summary\n\n"
        "The number of looked after children in Felpersham rose to 410 in 2019. "
        "The council opened two new children's homes to reduce placements outside the city.\n\n"
        "Foster carers\n\n"
        "A recruitment campaign added 35 foster carers during the year. "
        "Foster carers receive free leisure centre membership as part of the offer.\n",
        {"council": "City of Felpersham Council", "committee": "Children's Scrutiny Committee",
         "date": "2019-11-05", "title": "Looked after children annual report", "doc_type": "report"},
    ),
    "fcc_council_2023": (
        "City of Felpersham Council\nFull Council\n\n"
        "5. Budget 2023/24\n\n"
        "The Council approved a budget including a council tax increase of 4.99 per cent. "
        "The leader said the youth centre on Market Street would stay open with new funding.\n\n"
        "6. Questions from members\n\n"
        "Councillor Kirsty Miller asked about bin collections; fortnightly collections will continue.\n",
        {"council": "City of Felpersham Council", "committee": "Full Council", "date": "2023-02-22",
         "title": "Full Council minutes 22 February 2023", "doc_type": "minutes"},
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store", choices=("local", "milvus"), default="local",
                     help="Where the shared test indexes are served from: the folder, or Milvus (milvus-lite).")


STORE = {"name": "local"}  # this module's own; a test module reads the store as `Settings().store` (the env)


def pytest_configure(config: pytest.Config) -> None:
    STORE["name"] = config.getoption("--store")
    if STORE["name"] == "milvus":
        os.environ["COUNCILQA_STORE"] = "milvus"


def served_index(index_dir: Path, expected_model_id: str | None = None) -> CouncilIndex | MilvusIndex:
    """The index the tests' store serves `index_dir` from: its folder, or the build published to Milvus."""
    return load_index(Settings(index_dir=index_dir), expected_model_id)


def _served(root: Path) -> Path:
    """With the Milvus store, the index folder moved away once published (nothing may read it); its path."""
    if STORE["name"] == "milvus":
        (root / "index").rename(root / "index.builder")
    return root / "index"


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exported and quantised models (ONNX, OpenVINO) go to one folder per test session, shared by the
    real-model tests and the servers they start, and never to the user's ~/.cache."""
    if os.environ.get("COUNCILQA_MODEL_CACHE_DIR"):
        yield
        return
    os.environ["COUNCILQA_MODEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("model_cache"))
    try:
        yield
    finally:
        os.environ.pop("COUNCILQA_MODEL_CACHE_DIR", None)


def write_tiny_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, (text, meta) in TINY_DOCS.items():
        (folder / f"{stem}.txt").write_text(text)
        (folder / f"{stem}.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="session")
def tiny_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FakeEmbedder index of TINY_DOCS (two non-seed councils, minutes, a report and a transcript)."""
    root = tmp_path_factory.mktemp("tiny")
    papers = write_tiny_corpus(root / "papers")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", chunk_tokens=60, chunk_overlap=10)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    return _served(root)


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped corpus/ indexed with the real model (all-MiniLM-L6-v2). Slow: mark tests @pytest.mark.slow."""
    root = tmp_path_factory.mktemp("corpus_index")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache")
    build_index([ROOT / "corpus"], settings, progress=False)
    return _served(root)
