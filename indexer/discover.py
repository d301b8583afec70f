"""Finding council papers on disk: every real folder walked once, every entry found or skipped with a reason.

Symlink loops, a second link to a folder or file already seen, FIFOs, sockets, devices, dangling links
and folders that cannot be listed each get a skip reason; nothing vanishes silently.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.metadata import MANIFEST_NAMES

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")


# ------------------------------------------------------------------------------------------ discover


def _is_hidden(path: Path) -> bool:
    return path.name.startswith((".", "~$")) or path.name == "__pycache__"  # dotfiles, Office lock files


@dataclass
class Found:
    """What discovery found: each supported file with the input folder it was found under, and the skips.

    Every real folder and file is visited once, keyed by (st_dev, st_ino): a symlink loop or a second
    link to a folder already walked is reported, not followed again.
    """

    files: list[tuple[Path, Path | None]] = field(default_factory=list)  # (file, input folder; None if given)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it is not indexed
    _dirs: dict[tuple[int, int], Path] = field(default_factory=dict)
    _inodes: dict[tuple[int, int], Path] = field(default_factory=dict)

    def enter(self, folder: Path, st: os.stat_result) -> bool:
        """Whether to walk `folder`: False, with the reason, when its real folder was walked already."""
        first = self._dirs.setdefault((st.st_dev, st.st_ino), folder)
        if first != folder:
            self.skipped[str(folder)] = (
                f"symlink loop: leads back to {first}, a folder above it; remove the link" if first in folder.parents
                else f"same folder as {first} (a link to it), indexed there once")
        return first == folder

    def add(self, path: Path, root: Path | None, st: os.stat_result) -> None:
        """Record a regular file: a supported paper once (at the first path to it), else why it is skipped."""
        if _ignorable(path):
            return
        reason = _unsupported(path, given=root is None)
        if reason is not None:
            self.skipped[str(path)] = reason
            return
        first = self._inodes.setdefault((st.st_dev, st.st_ino), path)
        if first is path:  # the first path to this file: a file given again at the same path is silent
            self.files.append((path, root))
        elif first != path:
            self.skipped[str(path)] = f"same file as {first} (a link to it), indexed once"


def _own_path(given: Path) -> Path:
    """`given`, absolute, with its folder's symlinks resolved but not its own: a link keeps its own name."""
    given = Path(given)
    return given.resolve() if given.name in ("", ".", "..") else given.parent.resolve() / given.name


def _stat(path: Path) -> tuple[os.stat_result | None, str]:
    """The entry's stat (through symlinks), or None and why it cannot be used."""
    try:
        return path.stat(), ""
    except OSError as exc:
        if not path.is_symlink():
            return None, f"cannot read: {exc.strerror or exc}; check its permissions"
        if exc.errno == errno.ELOOP:
            return None, "symlink loop: the link leads back to itself; remove or fix the link"
        return None, f"dangling symlink: its target {os.readlink(path)} does not exist; remove or fix the link"


_SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _not_regular(mode: int) -> str:
    kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "a special file")
    return f"{kind}, not a regular file: only files are indexed"


def _visit(path: Path, root: Path | None, found: Found) -> None:
    """Walk a folder, record a file, or give the entry's skip reason."""
    st, problem = _stat(path)
    if st is None:
        found.skipped[str(path)] = problem
    elif stat.S_ISDIR(st.st_mode):
        if found.enter(path, st):
            _walk(path, root or path, found)
    elif stat.S_ISREG(st.st_mode):
        found.add(path, root, st)
    else:
        found.skipped[str(path)] = _not_regular(st.st_mode)


def _walk(folder: Path, root: Path, found: Found) -> None:
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        found.skipped[str(folder)] = f"cannot list folder: {exc.strerror or exc}; check its permissions"
        return
    for child in children:
        if not _is_hidden(child):
            _visit(child, root, found)


def _ignorable(path: Path) -> bool:
    """Metadata files that travel with documents: sidecars and manifests are not documents."""
    if path.name in MANIFEST_NAMES:
        return True
    if path.suffix.lower() == ".json":
        suffixes = SUPPORTED_SUFFIXES + tuple(s.upper() for s in SUPPORTED_SUFFIXES)
        return any(path.with_suffix(s).is_file() for s in suffixes)
    return False


# A README.md inside a corpus folder describes the corpus; indexing it would pollute search results.
_DOC_FILE_STEMS = {"README", "LICENSE", "LICENCE", "CHANGELOG"}


def _unsupported(path: Path, given: bool) -> str | None:
    """Why a regular file is not a paper to index (folder documentation, another type), None if it is one."""
    if path.stem.upper() in _DOC_FILE_STEMS and not given:
        return "folder documentation (README/LICENSE), not a council paper"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kind = path.suffix.lower() or "(no extension)"
        return f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
    return None


def find_files(paths: Sequence[Path]) -> Found:
    """Supported files under `paths`, sorted, each at its own path (a symlink keeps its name) with the input
    folder it was found under, and every other entry with the reason it is skipped.

    Raises FileNotFoundError for a path that does not exist.
    """
    found = Found()
    for given in paths:
        own = _own_path(Path(given))
        if not os.path.lexists(own):
            raise FileNotFoundError(f"input path does not exist: {given}")
        _visit(own, None, found)
    found.files.sort(key=lambda item: item[0])
    return found


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Supported files under `paths` (sorted, deduplicated) and (path, reason) for files we skip."""
    found = find_files(paths)
    return [path for path, _ in found.files], sorted(found.skipped.items())
