"""A small bounded run of scripts/fuzz_api.py: schemathesis against the real app on loopback.

The full run (`.venv/bin/python scripts/fuzz_api.py`: 200 examples per operation, 120 s) is the one to
use after changing the API; this one keeps the schema, the checks and the wiring honest in the fast suite.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.server import running_server
from tests.test_service_api import make_engine

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("schemathesis")


def _fuzz_module() -> Any:
    spec = importlib.util.spec_from_file_location("fuzz_api", ROOT / "scripts" / "fuzz_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_api"] = module
    spec.loader.exec_module(module)
    return module


def _run(index_dir: Path, report_dir: Path, phases: str, max_examples: int) -> None:
    fuzz_api = _fuzz_module()
    engine = make_engine(index_dir)
    try:
        # Random bearer tokens are failed key attempts: without room for them the fuzzer would be locked out.
        settings = engine.settings.model_copy(update={"auth_max_failures": 1_000_000})
        with running_server(create_app(settings, engine), settings) as url:
            result = fuzz_api.fuzz(url, max_examples=max_examples, max_time_s=110, seed=12, report_dir=report_dir,
                                   phases=phases)
    finally:
        engine.close()
    print(result.summary())
    assert result.operations == 17 and result.requests >= 8 * max_examples // 2, result.summary()
    assert result.ok, result.summary() + "\n" + result.output[-4000:]


def test_schemathesis_fuzzing_finds_no_server_error_or_schema_mismatch(tiny_index_dir: Path,
                                                                        tmp_path: Path) -> None:
    _run(tiny_index_dir, tmp_path, "examples,fuzzing", max_examples=10)


@pytest.mark.slow
def test_schemathesis_boundaries_find_no_server_error_or_schema_mismatch(tiny_index_dir: Path,
                                                                          tmp_path: Path) -> None:
    # The coverage phase: every declared bound, just inside and just outside (about 20 s on 2 cores).
    _run(tiny_index_dir, tmp_path, "coverage", max_examples=5)
