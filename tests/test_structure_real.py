"""Minutes' own structure on real papers of other councils (../shared/corpora; skipped where absent):
minute numbers open agenda items, decisions are kept as blocks, "Page N of M" markers become page numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.loaders import load_document

PARISH = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "uk_norfolk_parish_councils_stokeferry"
MINUTE_LINE = re.compile(r"^(\d{1,4}/\d{2,4}) +[A-Z]", re.MULTILINE)


def _papers(pattern: re.Pattern[str], limit: int) -> list[Path]:
    if not PARISH.is_dir():
        pytest.skip(f"../shared/corpora is not here ({PARISH}): real parish minutes needed")
    out = [p for p in sorted(PARISH.glob("*.txt")) if pattern.search(p.read_text(encoding="utf-8"))]
    return out[:limit]


def test_minute_numbers_of_real_minutes_open_agenda_items() -> None:
    papers = _papers(MINUTE_LINE, 30)
    assert len(papers) >= 10
    numbered = opened = 0
    for path in papers:
        doc = load_document(path)
        items = {s.agenda_item for s in doc.segments if s.agenda_item}
        for m in MINUTE_LINE.finditer(doc.text):
            numbered += 1
            opened += any(i.split()[0] == m.group(1) or i.startswith(f"Minute {m.group(1)}") for i in items)
    assert opened >= 0.9 * numbered, (opened, numbered)


def test_decisions_in_real_minutes_are_blocks_under_their_item() -> None:
    papers = _papers(re.compile(r"^(?:RESOLVED|Resolved)\b", re.MULTILINE), 20)
    decisions = [s for p in papers for s in load_document(p).segments if s.kind == "decision"]
    assert len(decisions) >= 10
    assert sum(1 for s in decisions if s.agenda_item) >= 0.5 * len(decisions)


def test_page_markers_in_real_text_minutes_become_page_numbers() -> None:
    papers = _papers(re.compile(r"Page 2 of \d"), 10)
    assert papers
    for path in papers:
        doc = load_document(path)
        assert not re.search(r"Page \d+ of \d+", doc.text), path.name
        pages = sorted({s.page for s in doc.segments if s.page is not None})
        assert pages[0] == 1 and len(pages) >= 3, (path.name, pages)
