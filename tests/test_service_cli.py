"""`councilqa search|ask|serve` print the engine's results, and a missing index is a clean error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import Settings
from core.engine import Engine
from councilqa import terminal as commands
from tests.test_service_api import make_engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def patched(monkeypatch: pytest.MonkeyPatch, tiny_index_dir: Path) -> Settings:
    engine = make_engine(tiny_index_dir)
    monkeypatch.setattr(commands, "load_engine", lambda _s: engine)
    return engine.settings


def test_search_prints_citations(patched: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    commands.search(patched, "what did Felpersham say about foster carers", k=2)
    out = capsys.readouterr().out
    assert "council=City of Felpersham Council (from the query)" in out and " 1. [" in out


def test_search_json_is_the_api_shape(patched: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    commands.search(patched, "pothole repair", k=2, as_json=True)
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"query", "mode", "filters_applied", "auto_filters", "results"}


def test_ask_prints_the_answer(patched: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    commands.ask(patched, "how many foster carers did the recruitment campaign add?")
    out = capsys.readouterr().out
    assert "[1]" in out and "35 foster carers" in out


def test_ask_prints_every_cited_quote_whole() -> None:
    long = "word " * 120 + "end."
    quotes = [{"text": "First\nquote.", "speaker": "Alison Hinds", "timestamp": "1:08:09"},
              {"text": long, "speaker": None, "timestamp": None}]
    data = {"question": "q", "filters_applied": {}, "auto_filters": {}, "answer": "A [1]",
            "citations": [{"n": 1, "council": "C", "quote": "First\nquote.", "quotes": quotes,
                           "char_start": 0, "char_end": 9, "document_id": "d"}]}  # fmt: skip
    out = commands.render_answer(data).splitlines()
    assert out[-3:] == ["[1] C | chars 0-9 | doc d", '    Alison Hinds, 1:08:09: "First quote."',
                        f'    "{long.strip()}"']  # fmt: skip


def test_ask_prints_quotes_as_the_answer_shows_them() -> None:
    quotes = [{"text": "[0:14:03] The budget would\nbe presented.", "shown": "The budget would be presented.",
               "speaker": None, "timestamp": "0:14:03"},
              {"text": "Older service, text only.", "speaker": None, "timestamp": None}]
    data = {"question": "q", "filters_applied": {}, "auto_filters": {}, "answer": "A [1]",
            "citations": [{"n": 1, "council": "C", "quote": "x", "quotes": quotes,
                           "char_start": 0, "char_end": 9, "document_id": "d"}]}  # fmt: skip
    out = commands.render_answer(data).splitlines()
    assert out[-2:] == ['    0:14:03: "The budget would be presented."', '    "Older service, text only."']


def test_bad_input_exits_2(patched: Settings) -> None:
    import typer

    with pytest.raises(typer.Exit) as exc:
        commands.search(patched, "", k=2)
    assert exc.value.exit_code == 2


def test_missing_index_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["serve", "--index-dir", str(tmp_path / "none")], ["search", "x", "--index-dir", str(tmp_path)]):
        r = subprocess.run([sys.executable, "-m", "councilqa.cli", *argv], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=120)
        assert r.returncode == 1, r.stderr
        assert "councilqa index" in r.stderr and "Traceback" not in r.stderr


def test_engine_load_checks_the_model(tiny_index_dir: Path) -> None:
    from indexer.index import IndexLoadError

    with pytest.raises(IndexLoadError, match="built with model"):
        Engine.load(Settings(index_dir=tiny_index_dir))
