"""An index built by the previous version (no recorded sources, an older build fingerprint) keeps its papers
when a new folder is indexed into it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.settings import Settings
from indexer.build import build_index
from indexer.embed import FakeEmbedder
from indexer.index import CouncilIndex


@pytest.mark.parametrize("older_fingerprint", [False, True])
def test_adding_a_folder_to_an_index_from_before_sources_drops_nothing(tmp_path: Path,
                                                                       older_fingerprint: bool) -> None:
    first, extra = tmp_path / "corpus", tmp_path / "extra"
    first.mkdir()
    extra.mkdir()
    (first / "a.txt").write_text("Minutes: the committee approved the pothole repair programme for the north.")
    (first / "b.txt").write_text("Report: the allotment waiting list has grown and new plots are proposed.")
    (extra / "c.txt").write_text("Notes: residents asked for a zebra crossing outside the primary school.")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index([first], settings, embedder=FakeEmbedder(), progress=False)
    manifest_path = settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["sources"]  # as the previous version wrote it
    if older_fingerprint:
        manifest["fingerprint"].pop("fields")  # and with its build fingerprint: nothing can be reused
    manifest_path.write_text(json.dumps(manifest))

    report = build_index([extra], settings, embedder=FakeEmbedder(), progress=False)
    assert report.removed_documents == []
    index = CouncilIndex.load(settings.index_dir)
    assert sorted(d["doc_id"] for d in index.passages.documents(10, 0)[1]) == ["a", "b", "c"]
    assert set(json.loads(manifest_path.read_text())["sources"]) >= {str((first / "a.txt").resolve()),
                                                                     str(extra.resolve())}
