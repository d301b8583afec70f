"""The embedding modules import each other without a cycle, read from their source with `ast`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import indexer.embed as embed
import indexer.embedding_base as base

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "indexer"
EMBEDDING_MODULES = ("indexer.embed", "indexer.embedding_base", "indexer.embed_onnx", "indexer.embed_openvino")


def _module_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """The package's modules that `module` imports anywhere, inside functions included."""
    path = _module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base_name = node.module or ""
            if node.level:  # relative: from . import x, from .x import y
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base_name = f"{anchor}.{base_name}" if base_name else anchor
            found.add(base_name)
            # `from indexer import embed_onnx` imports a module, not a name
            found.update(f"{base_name}.{a.name}" for a in node.names if _module_file(f"{base_name}.{a.name}"))
    return {m for m in found if (m == PACKAGE or m.startswith(PACKAGE + ".")) and _module_file(m) and m != module}


def _graph(start: tuple[str, ...]) -> dict[str, set[str]]:
    """Import edges of every package module reachable from `start`."""
    graph: dict[str, set[str]] = {}
    todo = list(start)
    while todo:
        module = todo.pop()
        if module not in graph:
            graph[module] = _imports(module)
            todo.extend(graph[module])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            found = visit(target, path + [module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_sees_imports_inside_functions() -> None:
    assert {"indexer.embed_onnx", "indexer.embed_openvino"} <= _imports("indexer.embed")  # both lazy


def test_embedding_modules_import_without_a_cycle() -> None:
    graph = _graph(EMBEDDING_MODULES)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
    for backend in ("indexer.embed_onnx", "indexer.embed_openvino"):
        assert "indexer.embed" not in graph[backend], f"{backend} imports the module that loads it"


def test_the_shared_names_are_still_found_in_indexer_embed() -> None:
    for name in ("Embedder", "resolve_model", "model_id_for", "normalise", "quiet_transformers", "cpu_has_bf16"):
        assert getattr(embed, name) is getattr(base, name), name


def test_a_backend_module_imports_without_indexer_embed() -> None:
    code = "import sys, indexer.embed_onnx, indexer.embed_openvino; print('indexer.embed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
