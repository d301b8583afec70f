"""Checking a request before it runs: text, k, mode and filters, each refused with the fix.

Filter names come from the field table (`common.fields`); values are canonicalised against the
index's own facets by `core.query.Vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from common.fields import FILTER_FIELDS, FILTER_NAMES, MODES, Mode, filter_field, is_date_filter
from core.errors import CoreError
from core.query import Vocabulary, parse_date

MAX_PAGE = 1000  # documents per page of GET /documents
MAX_OFFSET = 2**63 - 1  # the largest SQLite INTEGER: a larger OFFSET overflows


def check_text(text: str | None, max_chars: int, what: str = "query") -> str:
    """The text, stripped; CoreError when it is empty, longer than `max_chars` or not encodable as UTF-8."""
    if text is None or not text.strip():
        raise CoreError("empty_query", f"The {what} is empty: type something to look for.", "invalid",
                        {"field": "q" if what == "query" else "question"})
    if len(text) > max_chars:
        raise CoreError("query_too_long", f"The {what} is {len(text)} characters; the limit is {max_chars}.",
                        "invalid", {"max_chars": max_chars})
    check_encodable(text, "q" if what == "query" else "question", f"The {what}")
    return text.strip()


def check_encodable(text: str, field: str, what: str) -> str:
    """The text when it encodes as UTF-8; CoreError `invalid_text` when it holds a lone surrogate.

    JSON's "\\ud800" decodes to such a half of a surrogate pair: no tokenizer, database or response
    encoder takes it, so it is refused here, before anything echoes it.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CoreError("invalid_text", f"{what} holds U+{ord(text[exc.start]):04X} at position {exc.start}, "
                        "half of a surrogate pair and not a character: send the text as valid UTF-8.", "invalid",
                        {"field": field, "position": exc.start}) from exc
    return text


def check_paging(limit: Any, offset: Any) -> tuple[int, int]:
    """(limit, offset) when limit is 1..`MAX_PAGE` and offset 0..`MAX_OFFSET` (what SQLite can take)."""
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (limit, offset))
    if not ok or not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise CoreError("invalid_paging", f"limit must be 1..{MAX_PAGE} and offset 0..{MAX_OFFSET}; got limit "
                        f"{limit!r}, offset {offset!r}.", "invalid",
                        {"limit": limit, "offset": offset, "max_limit": MAX_PAGE, "max_offset": MAX_OFFSET})
    return limit, offset


def check_k(k: Any, max_k: int) -> int:
    """k itself when it is a whole number from 1 to `max_k`."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= max_k:
        raise CoreError("invalid_k", f"k must be between 1 and {max_k}; got {k!r}.", "invalid",
                        {"min": 1, "max": max_k})
    return k


def check_mode(mode: Any) -> Mode:
    """The mode when it is one of `common.fields.MODES`."""
    for m in MODES:
        if mode == m:
            return m
    raise CoreError("invalid_mode", f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.", "invalid",
                    {"valid": list(MODES)})


def check_filters(filters: Mapping[str, Any] | None, vocabulary: Vocabulary) -> dict[str, str]:
    """Hand-set filters to canonical facet values; unknown names or values raise CoreError."""
    out: dict[str, str] = {}
    for name, value in (filters or {}).items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name not in FILTER_NAMES:
            raise CoreError("unknown_filter", f"Unknown filter {name!r}; filters are {', '.join(FILTER_NAMES)}.",
                            "invalid", {"field": name, "valid": list(FILTER_NAMES)})
        out[name] = _resolve_one(name, check_encodable(str(value), name, f"The {name} filter"), vocabulary)
    for f in FILTER_FIELDS:
        if f.filter != "date":
            continue
        lo, hi = (out.get(n) for n in f.filter_names)
        if lo and hi and lo > hi:
            a, b = f.filter_names
            raise CoreError("invalid_date_range", f"{a} {lo} is after {b} {hi}.", "invalid", {a: lo, b: hi})
    return out


def _moment(name: str, value: str) -> str:
    """A `since` value as the UTC ISO 8601 moment first_indexed values are compared with."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise CoreError("invalid_date", f"{name}: {value!r} is not a date or time; use YYYY-MM-DD or "
                        "YYYY-MM-DDTHH:MM:SSZ.", "invalid", {"field": name, "value": value}) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def _resolve_one(name: str, value: str, vocabulary: Vocabulary) -> str:
    if filter_field(name).filter == "since":
        return _moment(name, value)
    if is_date_filter(name):
        try:
            return parse_date(value, end=name.endswith("_to"))
        except ValueError as exc:
            raise CoreError("invalid_date", f"{name}: {value!r} is not a valid date; use YYYY-MM-DD.", "invalid",
                            {"field": name, "value": value}) from exc
    try:
        return vocabulary.resolve(name, value)
    except LookupError as exc:
        valid = list(exc.args[0]) if exc.args else []
        shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
        raise CoreError("unknown_filter_value", f"No {name} {value!r} in the index. Valid values: {shown}",
                        "invalid", {"field": name, "value": value, "valid": valid[:500]}) from exc
