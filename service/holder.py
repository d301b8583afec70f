"""The engine a running service answers from, and how it moves to a new build without mixing two.

Each request takes the current engine when it starts and keeps it to the end, so every answer
comes from exactly one complete build. A new build is picked up by loading a whole new engine
beside the old one and swapping the reference in one step; the old engine is closed once the
last request using it is done. A reload is started by noticing a new build id (the index
folder's manifest, or the build the Milvus alias points at; checked at most every `reload_check_s`
seconds, between requests), by SIGHUP, or by calling `reload()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.engine import Engine

log = logging.getLogger("councilqa.service")


class EngineHolder:
    """The current engine, with a count of the requests using each engine still open."""

    def __init__(self, engine: Engine, loader: Callable[[], Engine], check_every_s: float = 2.0,
                 owns_engine: bool = True) -> None:
        self._engine = engine
        self._given = None if owns_engine else engine  # an engine the caller passed in stays the caller's to close
        self._loader = loader
        self._check_every_s = check_every_s
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}  # id(engine) -> requests using it
        self._retired: dict[int, Engine] = {}  # swapped out, closed when their last request ends
        self._next_check = time.monotonic() + check_every_s
        self._reloading = False
        self.last_error: str | None = None

    @property
    def engine(self) -> Engine:
        """The engine new requests get."""
        return self._engine

    def acquire(self) -> Engine:
        """The current engine, counted as in use until `release`; may start a check for a new build."""
        self._maybe_check()
        with self._lock:
            engine = self._engine
            self._users[id(engine)] = self._users.get(id(engine), 0) + 1
            return engine

    def release(self, engine: Engine) -> None:
        """The request using `engine` is done; a retired engine is closed when nobody uses it."""
        with self._lock:
            left = self._users.get(id(engine), 1) - 1
            self._users[id(engine)] = left
            done = self._retired.pop(id(engine), None) if left <= 0 else None
            done = None if done is self._given else done
            if left <= 0:
                self._users.pop(id(engine), None)
        if done is not None:
            done.close()

    def _maybe_check(self) -> None:
        now = time.monotonic()
        if self._check_every_s <= 0 or now < self._next_check or self._reloading:
            return
        self._next_check = now + self._check_every_s
        on_disk = self._engine.index.current_build_id()
        if on_disk is not None and on_disk != self._engine.index.build_id:
            self.reload(wait=False)

    def reload(self, wait: bool = True) -> None:
        """Load the build now in the folder and swap it in whole (in the background unless `wait`)."""
        with self._lock:
            if self._reloading:
                return
            self._reloading = True
        worker = threading.Thread(target=self._reload, name="index-reload", daemon=True)
        worker.start()
        if wait:
            worker.join()

    def _reload(self) -> None:
        try:
            fresh = self._loader()
        except Exception as exc:  # a broken folder must not take the service down: keep serving the old build
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("index reload failed, still serving build %s: %s", self._engine.index.build_id, exc)
            with self._lock:
                self._reloading = False
            return
        with self._lock:
            old, self._engine = self._engine, fresh
            idle = self._users.get(id(old), 0) == 0
            if not idle:
                self._retired[id(old)] = old
            self._reloading = False
        self.last_error = None
        log.info("now serving index build %s (was %s)", fresh.index.build_id, old.index.build_id)
        if idle and old is not self._given:
            old.close()

    def close(self) -> None:
        """Close the current engine and any retired one (the service is stopping)."""
        with self._lock:
            engines = [self._engine, *self._retired.values()]
            self._retired.clear()
        for engine in engines:
            if engine is not self._given:
                engine.close()
