"""Session state for the page: which request the widgets describe, and the chip/ask callbacks.

The widgets are the single source of truth. The page sends a request whenever the request they
describe differs from the last one sent (or the person presses Ask again), so the results on
screen always match the question, filters and options shown.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import streamlit as st

from common.fields import FILTER_NAMES, is_date_filter

# The filters a person can set, from the field table: picked from a list, or dates picked on a calendar.
FILTERS = FILTER_NAMES
DATE_FILTERS = tuple(n for n in FILTER_NAMES if is_date_filter(n))
TEXT_FILTERS = tuple(n for n in FILTER_NAMES if n not in DATE_FILTERS)
VIEW_ANSWER = "Answer with sources"
VIEW_SEARCH = "Ranked passages"

DEFAULTS: dict[str, Any] = {
    "question": "",
    "submitted": "",
    "view": VIEW_ANSWER,
    "auto_filters": True,
    "k_answer": 10,
    "k_search": 10,
    "search_mode": "hybrid",
    **{f"f_{name}": None for name in FILTERS},
}

State = MutableMapping[str, Any]


@dataclass(frozen=True)
class Request:
    kind: Literal["ask", "search"]
    question: str
    k: int
    mode: str
    auto_filters: bool
    filters: tuple[tuple[str, str], ...] = field(default=())

    def payload(self) -> dict[str, Any]:
        """Body for POST /ask or query parameters for GET /search."""
        out: dict[str, Any] = {"k": self.k, "auto_filters": self.auto_filters, **dict(self.filters)}
        if self.kind == "ask":
            return {"question": self.question, **out}
        return {"q": self.question, "mode": self.mode, **out}


def init(ss: State) -> None:
    for key, value in DEFAULTS.items():
        ss.setdefault(key, value)
    ss.setdefault("promoted", {})


def _as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def hand_filters(ss: State) -> dict[str, str]:
    """Filters set in the sidebar, as strings (dates as YYYY-MM-DD)."""
    out = {}
    for name in FILTERS:
        value = _as_text(ss.get(f"f_{name}"))
        if value is not None:
            out[name] = value
    return out


def current_request(ss: State) -> Request | None:
    question = (ss.get("submitted") or "").strip()
    if not question:
        return None
    answer = ss.get("view") == VIEW_ANSWER
    return Request(
        kind="ask" if answer else "search",
        question=question,
        k=int(ss["k_answer"] if answer else ss["k_search"]),
        mode=str(ss.get("search_mode") or "hybrid"),
        auto_filters=bool(ss.get("auto_filters", True)),
        filters=tuple(sorted(hand_filters(ss).items())),
    )


def _set_filter(ss: State, name: str, value: str | None) -> None:
    if name in DATE_FILTERS and value is not None:
        try:
            ss[f"f_{name}"] = date.fromisoformat(value[:10])
        except ValueError:
            return
    else:
        ss[f"f_{name}"] = value


def on_ask(ss: State | None = None) -> None:
    """Ask pressed: send the typed question (again, even if unchanged)."""
    ss = st.session_state if ss is None else ss
    question = (ss.get("question") or "").strip()
    if question != ss.get("submitted"):
        # A new question: filters that were only made explicit to drop one inferred filter are
        # the previous question's, so clear them and read filters from the new question again.
        for name, value in ss.get("promoted", {}).items():
            if _as_text(ss.get(f"f_{name}")) == value:
                _set_filter(ss, name, None)
        ss["promoted"] = {}
        ss["auto_filters"] = True
    ss["submitted"] = question
    ss["force"] = True
    st.query_params.clear()


def on_remove_filter(name: str, ss: State | None = None) -> None:
    """A filter chip's ✕: drop that filter and search again.

    A filter read from the question can only be dropped by turning question-reading off, so the
    other filters in force are set explicitly (and shown in the sidebar) to keep them.
    """
    ss = st.session_state if ss is None else ss
    result = ss.get("result") or {}
    data = result.get("data") or {}
    applied: dict[str, Any] = dict(data.get("filters_applied") or {})
    inferred: dict[str, Any] = dict(data.get("auto_filters") or {})
    if name in inferred:
        ss["auto_filters"] = False
        for other, value in applied.items():
            if other != name and other in FILTERS and _as_text(ss.get(f"f_{other}")) is None:
                _set_filter(ss, other, str(value))
                if other in inferred:
                    ss["promoted"][other] = str(value)
    _set_filter(ss, name, None)
    ss["promoted"].pop(name, None)


def on_open_document(doc_id: str, start: int | None, end: int | None) -> None:
    params = {"doc": doc_id}
    if start is not None and end is not None:
        params |= {"start": str(start), "end": str(end)}
    st.query_params.clear()
    st.query_params.update(params)


def on_close_document() -> None:
    st.query_params.clear()
