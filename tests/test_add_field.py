"""Adding a metadata field is one declaration: a copy of the code gains `ward` in common/fields.py alone.

The copy then indexes papers whose sidecars name a ward, and the ward is a stored column, a citation
field, a filter of the core, a facet, an API query parameter and body field, a CLI option and a UI
picker, with no other file touched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "indexer", "core", "service", "evaluation", "ui", "councilqa")
WARD = '    Field("ward", "Ward", "Electoral ward the paper concerns.", filter="exact", facet="wards"),\n'

SCRIPT = r'''
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from common.settings import Settings
from core.engine import Engine
from core.results import Query
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex
from service.app import create_app

papers = Path(sys.argv[1])
papers.mkdir()
for stem, ward, text in (("a", "Bilston East", "The pothole repair programme in Bilston East was approved."),
                         ("b", "Park", "Pothole repair on the park roads was deferred to next year.")):
    (papers / f"{stem}.txt").write_text(text)
    (papers / f"{stem}.json").write_text(json.dumps({"council": "Example Council", "ward": ward}))
settings = Settings(index_dir=papers.parent / "index", cache_dir=papers.parent / "cache")
build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
engine = Engine(CouncilIndex.load(settings.index_dir), FakeEmbedder(), settings)

got = engine.search(Query("pothole repair", 5, "hybrid", {"ward": "park"}, False))
assert [h.passage.doc_id for h in got.hits] == ["b"], got
assert got.applied.filters == {"ward": "Park"}
assert got.to_dict()["results"][0]["citation"]["ward"] == "Park"
assert {f["value"] for f in engine.facets()["wards"]} == {"Bilston East", "Park"}
assert engine.document("a").to_dict()["ward"] == "Bilston East"

client = TestClient(create_app(settings, engine))
r = client.get("/search", params={"q": "pothole repair", "ward": "Bilston East", "auto_filters": "false"})
assert r.status_code == 200 and [x["citation"]["ward"] for x in r.json()["results"]] == ["Bilston East"], r.text
r = client.post("/ask", json={"question": "what about pothole repair?", "ward": "Nowhere"})
assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_filter_value", r.text
spec = client.get("/openapi.json").json()
assert "ward" in [p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]]
assert "ward" in spec["components"]["schemas"]["Citation"]["properties"]
assert "ward" in spec["components"]["schemas"]["AskRequest"]["properties"]
assert "wards" in spec["components"]["schemas"]["FacetsResponse"]["properties"]

from councilqa.cli import app
assert "--ward" in CliRunner().invoke(app, ["search", "--help"], terminal_width=200).output

from ui import render, state
assert "ward" in state.TEXT_FILTERS and "ward" in render.CSV_COLUMNS
assert render.filter_label("ward", "Park") == "Ward: Park"
print("ward: ok")
'''


def test_a_new_document_field_needs_one_declaration(tmp_path: Path) -> None:
    code = tmp_path / "code"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    fields = code / "common" / "fields.py"
    source = fields.read_text()
    anchor = "FIELDS: tuple[Field, ...] = (\n"
    assert source.count(anchor) == 1
    fields.write_text(source.replace(anchor, anchor + WARD))
    env = {"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "COUNCILQA_MODEL_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "papers")], cwd=code, capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stdout.strip().endswith("ward: ok")


def test_an_index_built_before_a_field_was_declared_asks_for_a_rebuild(tiny_index_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from indexer.index import PASSAGES, CouncilIndex, IndexLoadError

    old = tmp_path / "index"
    shutil.copytree(tiny_index_dir, old)
    with sqlite3.connect(old / PASSAGES) as db:  # as if `heading` had been declared after this build
        db.execute("ALTER TABLE passages DROP COLUMN heading")
    with pytest.raises(IndexLoadError, match=r"before the field\(s\) heading were declared.*councilqa index"):
        CouncilIndex.load(old)


def test_the_build_fingerprint_names_the_fields(tiny_index_dir: Path) -> None:
    import json

    from common.fields import FIELDS

    manifest = json.loads((tiny_index_dir / "manifest.json").read_text())
    assert manifest["fingerprint"]["fields"] == [f.name for f in FIELDS]
