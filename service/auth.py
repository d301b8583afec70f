"""Who is calling: the `Authorization: Bearer <key>` of a request, checked against the key store.

* With no active key in the store, every caller is anonymous and reads public papers (the service is
  then bound to loopback, or was started with `--public`: see `check_bind`).
* With keys, a request without one gets 401 `missing_key`; a malformed, unknown or revoked key gets
  401 with its own code. `read` keys read public papers, `restricted` keys restricted ones too,
  `admin` keys also reach the actions that change what is served.
* A client address that fails `auth_max_failures` times in `auth_failure_window_s` is refused (429)
  until the window has passed, before its key is even looked at.

Responses to callers who may read restricted papers say `Cache-Control: private, no-store`, so no
shared cache keeps them; every response varies on `Authorization`.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.settings import Settings
from core.keys import KeyProblem, KeyRecord, KeyStore
from core.keys import Scope as KeyScope
from service.deps import Headers, RewriteHeaders
from service.errors import ServiceError

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey", description=(
    "An API key made with `councilqa keys create --name NAME --scope read|restricted|admin`, sent as "
    "`Authorization: Bearer cqa_…`. Needed once any key exists; until then loopback callers read public papers."))


AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No API key where the service has keys, or a malformed, unknown or revoked one."},
    429: {"description": "Too many failed key attempts from this address; see Retry-After."},
}


@dataclass(frozen=True)
class Caller:
    """The caller of one request: its key, or None when the service has no keys (anonymous, public)."""

    key: KeyRecord | None = None

    @property
    def restricted(self) -> bool:
        """Whether the caller may read restricted papers."""
        return self.key is not None and self.key.allows("restricted")


class FailureLimiter:
    """Failed key attempts per client address in a sliding window."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures[address]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until the address may try again (0: it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.max_failures:
                if not times:
                    self._failures.pop(address, None)
                return 0.0
            return max(0.0, times[0] + self.window_s - now)

    MAX_ADDRESSES = 10_000  # beyond this many failing addresses, those whose failures expired are forgotten

    def fail(self, address: str) -> None:
        """Count one failed attempt."""
        now = time.monotonic()
        with self._lock:
            self._recent(address, now).append(now)
            if len(self._failures) > self.MAX_ADDRESSES:  # many addresses trying: memory stays bounded
                for other in [a for a, times in self._failures.items() if times[-1] <= now - self.window_s]:
                    del self._failures[other]


def install_auth(app: FastAPI, settings: Settings) -> None:
    """The key store and the failure limiter on `app.state`, and the cache headers middleware."""
    app.state.keys = KeyStore(settings.resolved_state_dir)
    app.state.auth_failures = FailureLimiter(settings.auth_max_failures, settings.auth_failure_window_s)
    app.add_middleware(RewriteHeaders, rewrite=_private_cache)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, 401, headers={"WWW-Authenticate": "Bearer"})


def get_caller(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    """The request's caller; 401 for a missing or bad key (once keys exist), 429 after repeated failures."""
    store: KeyStore = request.app.state.keys
    limiter: FailureLimiter = request.app.state.auth_failures
    address = _client(request)
    wait = limiter.retry_after(address)
    if wait > 0:
        raise ServiceError("too_many_failures", f"Too many failed API key attempts from this address; try again "
                           f"in {int(wait) + 1} s.", 429, headers={"Retry-After": str(int(wait) + 1)})
    if credentials is None:
        if request.headers.get("authorization"):
            limiter.fail(address)
            raise _refuse("malformed_key", "The Authorization header must read `Bearer <key>`.")
        if not store.has_active_keys():
            return _remember(request, Caller())
        raise _refuse("missing_key", "This service needs an API key: send `Authorization: Bearer <key>` "
                      "(an administrator makes one with `councilqa keys create`).")
    try:
        record = store.verify(credentials.credentials)
    except KeyProblem as exc:
        limiter.fail(address)
        raise _refuse(exc.code, exc.message) from None
    return _remember(request, Caller(record))


def _remember(request: Request, caller: Caller) -> Caller:
    request.state.private = caller.restricted  # read by `_private_cache`
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(scope: KeyScope):  # noqa: ANN201 - a FastAPI dependency factory
    """A dependency refusing (403) callers whose key does not include `scope`."""
    def check(caller: CallerDep) -> Caller:
        if caller.key is None or not caller.key.allows(scope):
            raise ServiceError("forbidden", f"This action needs a key with the {scope!r} scope.", 403,
                               {"needs": scope})
        return caller
    return check


def _private_cache(state: dict[str, Any], headers: Headers) -> Headers:
    """`Vary: Authorization` on every response, and `Cache-Control: private, no-store` (replacing what the
    route said) on those to callers who may read restricted papers."""
    headers = [*headers, (b"vary", b"Authorization")]
    if state.get("private"):
        headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
        headers.append((b"cache-control", b"private, no-store"))
    return headers


def is_loopback_host(host: str) -> bool:
    """Whether a bind address is this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> str | None:
    """Why the service must not start on `settings.host` (another machine could reach it and there is no
    key to ask for), or None when it may."""
    if is_loopback_host(settings.host) or settings.public or KeyStore(settings.resolved_state_dir).has_active_keys():
        return None
    return (f"Refusing to serve on {settings.host}: it can be reached from other machines and no API key "
            "exists, so anyone could read the papers. Create one with `councilqa keys create --name NAME "
            f"--scope read` (state folder {settings.resolved_state_dir}), bind to 127.0.0.1, or pass --public "
            "(COUNCILQA_PUBLIC=true) to serve public papers to anyone on purpose.")
