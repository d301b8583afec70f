"""Indexing, as the core offers it: papers in, a self-describing index folder out.

The core's surface is `index` (this module), then `Engine.load` over the folder it wrote, and the
engine's `search`, `ask`, `documents`, `document` and `close`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from common.settings import Settings
from indexer.build import BuildReport, IndexBuildError, build_index
from indexer.embed import Embedder

__all__ = ["BuildReport", "IndexBuildError", "index"]


def index(paths: Sequence[Path], settings: Settings, *, embedder: Embedder | None = None, progress: bool = True,
          force: bool = False, replace: bool = False) -> BuildReport:
    """Index folders or files of council papers into `settings.index_dir` (incremental, atomic).

    `paths` are added to the folders the index was built from, which are all read again; `replace`
    builds from exactly `paths`, dropping documents from anywhere else.
    """
    return build_index(paths, settings, embedder=embedder, progress=progress, force=force, replace=replace)
