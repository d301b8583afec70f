"""A small HTTP client for the councilqa search service, with errors a person can read.

The UI talks to the service only through this module. Every failure becomes one of three
exceptions whose message is ready to show on the page: no tracebacks reach the user.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx


class ServiceProblem(Exception):
    """Base class: the message is written for the person using the page."""


class ServiceUnavailable(ServiceProblem):
    def __init__(self, base_url: str) -> None:
        super().__init__(
            f"The search service is not reachable at {base_url}. Start it with `councilqa serve`, then try again."
        )


class ServiceTimeout(ServiceProblem):
    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(
            f"The search service at {base_url} did not reply within {timeout_s:g} seconds. "
            "Try again, or narrow the question with filters."
        )


class ServiceError(ServiceProblem):
    """The service answered with an error (4xx/5xx) or with something unreadable."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """Pull a readable message out of an error body (contract shape, or FastAPI's default)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"]), err.get("code")
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail, None
        if isinstance(detail, list):
            msgs = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail]
            return "; ".join(msgs), None
    if response.status_code >= 500:
        return f"The search service had an internal problem (HTTP {response.status_code}).", None
    return f"The search service refused the request (HTTP {response.status_code}).", None


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Drop unset values; send booleans as true/false."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _raise_for_status(response: httpx.Response) -> None:
    """`ServiceError` with the service's own message for a 4xx/5xx reply (its body read already)."""
    if response.status_code >= 400:
        message, code = _error_message(response)
        raise ServiceError(_problem(response.status_code, code, message), response.status_code, code)


def _problem(status: int, code: str | None, message: str) -> str:
    """The service's message, with what to do on this page when the key is the problem."""
    if status == 401:
        return (f"{message} Enter your API key under “Access” in the sidebar (ask the service's administrator "
                "for one).")
    return message


class ApiClient:
    """Calls to the service; `api_key` (if any) goes in the Authorization header, never in a URL."""

    def __init__(self, base_url: str, timeout_s: float = 30.0, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {api_key.strip()}"} if api_key and api_key.strip() else {}
        # What the page's caches are keyed by: the same service seen with another key is another service.
        digest = hashlib.sha256(api_key.strip().encode()).hexdigest()[:16] if self._headers and api_key else ""
        self.identity = f"{self.base_url}#{digest}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        timeout = timeout_s or self.timeout_s
        with self._readable_errors(timeout), httpx.Client(base_url=self.base_url, timeout=timeout,
                                                          headers=self._headers) as client:
            response = client.request(method, path, params=params, json=json)
        _raise_for_status(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise ServiceError("The search service sent a reply this page could not read.") from exc
        if not isinstance(data, dict):
            raise ServiceError("The search service sent a reply this page could not read.")
        return data

    @contextmanager
    def _readable_errors(self, timeout_s: float) -> Iterator[None]:
        """Turn httpx's transport failures into the page's exceptions."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ServiceTimeout(self.base_url, timeout_s) from exc
        except httpx.TransportError as exc:  # refused, DNS, reset...
            raise ServiceUnavailable(self.base_url) from exc

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health", timeout_s=min(self.timeout_s, 5.0))

    def facets(self) -> dict[str, Any]:
        return self._request("GET", "/facets", timeout_s=min(self.timeout_s, 10.0))

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._request("GET", "/search", params=_clean(params))

    def ask(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/ask", json={k: v for k, v in body.items() if v not in (None, "")})

    def ask_stream(self, body: dict[str, Any], on_delta: Callable[[str], None]) -> dict[str, Any]:
        """POST /ask/stream: `on_delta` gets the model's text as it is written; returns the final answer
        (the same body as `ask`). Errors are the same exceptions as every other call."""
        payload = {k: v for k, v in body.items() if v not in (None, "")}
        with (self._readable_errors(self.timeout_s),
              httpx.Client(base_url=self.base_url, timeout=self.timeout_s, headers=self._headers) as client,
              client.stream("POST", "/ask/stream", json=payload) as response):
            if response.status_code >= 400:
                response.read()
            _raise_for_status(response)
            answer = _read_events(response, on_delta)
        if answer is None:
            raise ServiceError("The search service ended the answer stream before the answer.")
        return answer

    def document(self, document_id: str) -> dict[str, Any]:
        return self._request("GET", f"/documents/{quote(document_id, safe='')}")

    def timeline(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /timeline: per meeting, how much the topic `q` was discussed and what was decided."""
        return self._request("GET", "/timeline", params=_clean(params))

    def follow(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /saved-searches: follow a question; new papers about it are listed after each build."""
        return self._request("POST", "/saved-searches", json={k: v for k, v in body.items() if v not in (None, "")})

    def saved_searches(self) -> dict[str, Any]:
        """GET /saved-searches: the caller's followed questions with their counts of new results."""
        return self._request("GET", "/saved-searches")

    def meeting(self, meeting_id: str) -> dict[str, Any]:
        """GET /meetings/{id}: a meeting's papers and agenda items with their decisions and discussion."""
        return self._request("GET", f"/meetings/{quote(meeting_id, safe='')}")


def _read_events(response: httpx.Response, on_delta: Callable[[str], None]) -> dict[str, Any] | None:
    """The `answer` event's body from a server-sent event stream, passing each `delta` text on."""
    event, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            try:
                body = jsonlib.loads("\n".join(data))
            except ValueError as exc:
                raise ServiceError("The search service sent a reply this page could not read.") from exc
            if event == "answer" and isinstance(body, dict):
                return body
            if event == "delta" and isinstance(body, dict) and isinstance(body.get("text"), str):
                on_delta(body["text"])
            event, data = "message", []
    return None
