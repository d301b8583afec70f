"""The one error type of the search core: a request it refuses or cannot serve.

It knows nothing of HTTP: `kind` says what sort of failure it is, and each shell maps that to its
own form (the API to a status code and its JSON error body, the CLI to a message and exit code).
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["invalid", "not_found", "unavailable"]


class CoreError(Exception):
    """A request the core refuses (bad input), cannot find, or cannot serve right now.

    `code` is machine-readable (`invalid_k`, `unknown_filter_value`, ...), `message` is for a person
    and names the fix, `details` carries structured context (the field, the valid values).
    """

    def __init__(self, code: str, message: str, kind: ErrorKind = "invalid",
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind: ErrorKind = kind
        self.details = details or {}
