"""Keeping a slow or failing outside service (the language model) from taking the search service down.

`Bulkhead` runs calls on a small thread pool of their own, at most `slots` at once, and waits for
each at most its deadline: a caller never queues behind a hung call, it is told `Busy` at once.
`CircuitBreaker` counts failures in a row; past its threshold it refuses calls (`CircuitOpen`) for
a cool-down, after which calls go through again and the first result decides: a success closes it,
a failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


class Busy(RuntimeError):
    """Every slot of the bulkhead is taken by a call still in flight."""


class DeadlineExceeded(RuntimeError):
    """The call did not finish within its deadline (it goes on in its pool thread, holding its slot)."""


class CircuitOpen(RuntimeError):
    """The breaker is open: calls are refused until `retry_in_s` has passed."""

    def __init__(self, failures: int, retry_in_s: float) -> None:
        super().__init__(f"{failures} failures in a row; next try in {retry_in_s:.0f}s")
        self.failures = failures
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """Refuses calls for `cooldown_s` once `threshold` calls in a row have failed."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    @property
    def state(self) -> str:
        """'closed' (calls go through), 'open' (refused) or 'half_open' (cool-down over, next result decides)."""
        with self._lock:
            if self._failures < self.threshold:
                return "closed"
            return "open" if self._clock() < self._open_until else "half_open"

    @property
    def failures(self) -> int:
        """Failures in a row so far."""
        return self._failures

    def before_call(self) -> None:
        """Raise `CircuitOpen` while the breaker is open; return when a call may go through."""
        with self._lock:
            left = self._open_until - self._clock()
            if self._failures >= self.threshold and left > 0:
                raise CircuitOpen(self._failures, left)

    def record_success(self) -> None:
        """A call succeeded: close the breaker and forget past failures."""
        with self._lock:
            self._failures = 0
            self._open_until = 0.0

    def record_failure(self) -> bool:
        """A call failed; True when this failure opened (or re-opened) the breaker."""
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open_until = self._clock() + self.cooldown_s
                return True
            return False


class Bulkhead:
    """At most `slots` calls at once, each on a pool thread of its own, each waited for at most a deadline."""

    def __init__(self, slots: int, name: str = "bulkhead") -> None:
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls running now, those whose caller gave up on them included."""
        return self._in_flight

    def run(self, fn: Callable[[], T], deadline_s: float) -> T:
        """`fn()`'s result or exception; `Busy` when no slot is free, `DeadlineExceeded` past `deadline_s`.

        A slot is held until `fn` really returns, not until the caller stops waiting, so calls that
        hang can never take more than `slots` threads.
        """
        if not self._free.acquire(blocking=False):
            raise Busy(f"{self.slots} calls already in flight")
        with self._lock:
            self._in_flight += 1
        try:
            future: Future[T] = self._pool.submit(fn)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        try:
            return future.result(timeout=deadline_s)
        except FutureTimeout as exc:
            raise DeadlineExceeded(f"no result within {deadline_s:g}s") from exc

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._free.release()

    def close(self) -> None:
        """Stop taking calls; those in flight finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
