"""tiktoken `cl100k_base`, loaded offline from the BPE table shipped inside this package.

tiktoken normally downloads the table on first use; our machines have no internet. The table's
file is named by tiktoken's own cache key and is checked against the SHA-256 tiktoken expects.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import tiktoken

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# tiktoken's cache key for cl100k_base: sha1 of the blob URL it would download.
CL100K_CACHE_KEY = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
_BUNDLED = Path(__file__).parent / "data" / "cl100k_base.tiktoken"


def _cache_dir() -> Path:
    """A cache folder holding the bundled table under tiktoken's key, verified."""
    data = _BUNDLED.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != CL100K_SHA256:
        raise RuntimeError(
            f"{_BUNDLED} is corrupt (sha256 {digest}, expected {CL100K_SHA256}); reinstall councilqa"
        )
    cache = Path(tempfile.gettempdir()) / "councilqa-tiktoken"
    target = cache / CL100K_CACHE_KEY
    if not target.exists() or target.stat().st_size != len(data):
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{CL100K_CACHE_KEY}.{os.getpid()}"
        shutil.copyfile(_BUNDLED, tmp)
        os.replace(tmp, target)
    return cache


@lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """The cl100k_base encoding from the bundled table, loaded once; RuntimeError if the table is corrupt."""
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_cache_dir())
    try:
        return tiktoken.get_encoding("cl100k_base")
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def count_tokens(text: str) -> int:
    """How many cl100k_base tokens the text makes; special-token strings count as plain text."""
    return len(cl100k().encode(text, disallowed_special=()))
