"""The layers of the project, checked from the imports themselves (read with `ast`, lazy ones included).

    councilqa (CLI)                                 the roof: may import every layer below
    service (HTTP API) | evaluation | ui            the shells: only downward, never each other;
                                                    ui talks to the API over HTTP, so imports only common
    core                                            the web-free search core
    indexer                                         building and reading the index
    common                                          settings, the field table, dates, names, language

The README's "Where things live" section draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYER = {"common": 0, "indexer": 1, "core": 2, "service": 3, "evaluation": 3, "ui": 3, "councilqa": 4}
# Beyond the rank rule: what each layer may import (ui reaches the service only over HTTP).
ALLOWED = {
    "common": set(),
    "indexer": {"common"},
    "core": {"common", "indexer"},
    "service": {"common", "core"},
    "evaluation": {"common", "core"},
    "ui": {"common"},
    "councilqa": {"common", "indexer", "core", "service", "evaluation", "ui"},
}
# Web frameworks stay out of the layers below the shells.
WEB = {"fastapi", "starlette", "uvicorn", "streamlit"}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in a file, at any depth (functions, try blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value).split(".")[0]))
    return found


def violations(root: Path = ROOT) -> list[str]:
    """Every import that runs upward or sideways between the project's layers, as 'file:line: a -> b'."""
    out = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, module in imports_of(path):
                bad_project = module in LAYER and module != package and module not in allowed
                bad_web = module in WEB and LAYER[package] < 3
                if bad_project or bad_web:
                    out.append(f"{path.relative_to(root)}:{line}: {package} -> {module}")
    return out


def test_no_import_runs_upward_or_sideways() -> None:
    assert violations() == []


def test_every_package_of_the_project_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "scripts"}
    assert packages == set(LAYER)


def test_the_ranks_agree_with_the_allowed_imports() -> None:
    for package, allowed in ALLOWED.items():
        assert all(LAYER[a] < LAYER[package] for a in allowed), package


@pytest.mark.parametrize("source, expected", [
    ("from core.engine import Engine\n", "indexer -> core"),
    ("def f():\n    import service.app\n", "indexer -> service"),
    ("try:\n    from councilqa import cli\nexcept ImportError:\n    pass\n", "indexer -> councilqa"),
    ("import fastapi\n", "indexer -> fastapi"),
    ("import importlib\nimportlib.import_module('ui.app')\n", "indexer -> ui"),
])
def test_the_check_catches_upward_and_lazy_imports(tmp_path: Path, source: str, expected: str) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "indexer" / "bad.py").write_text(source)
    found = violations(tmp_path)
    assert len(found) == 1 and found[0].endswith(expected)


def test_two_shells_may_not_import_each_other(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "evaluation" / "x.py").write_text("from service.app import create_app\n")
    (tmp_path / "ui" / "y.py").write_text("from core.engine import Engine\n")
    assert violations(tmp_path) == ["evaluation/x.py:1: evaluation -> service", "ui/y.py:1: ui -> core"]
