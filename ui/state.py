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
    """Filters set in the sidebar, as strings (dates as YYYY-MM-DD).

    A box showing a filter read from the question (see `show_inferred`) is not sent while filters
    are read from the question: the service reads it again from the same words.
    """
    reading = bool(ss.get("auto_filters", True))
    promoted = ss.get("promoted", {})
    out = {}
    for name in FILTERS:
        value = _as_text(ss.get(f"f_{name}"))
        if value is not None and not (reading and promoted.get(name) == value):
            out[name] = value
    return out


def show_inferred(ss: State, inferred: dict[str, Any]) -> None:
    """Put the filters read from the question into the sidebar boxes left at Any, so the sidebar says
    what the chips say. They are remembered as promoted: not sent as hand-set, cleared by a new question."""
    for name, value in inferred.items():
        if name in FILTERS and _as_text(ss.get(f"f_{name}")) is None:
            _set_filter(ss, name, str(value))
            ss.setdefault("promoted", {})[name] = str(value)


def on_key_changed(ss: State | None = None) -> None:
    """A new API key: what is on screen came with the old one (it may show papers the new one may not
    read), so it goes, and the question is sent again with the new key."""
    ss = ss if ss is not None else st.session_state
    ss["result"], ss["error"], ss["last_request"] = None, None, None


def on_filter_changed(name: str, ss: State | None = None) -> None:
    """A sidebar box changed. Where it showed a filter read from the question, the person's choice wins:
    a new value becomes a hand-set filter; "Any" drops that filter, as the chip's ✕ does."""
    ss = st.session_state if ss is None else ss
    promoted = ss.get("promoted", {})
    was = promoted.get(name)
    now = _as_text(ss.get(f"f_{name}"))
    if was is None or now == was:
        return
    promoted.pop(name)
    if now is None and ss.get("auto_filters", True):
        ss["auto_filters"] = False  # the question would name it again; the other boxes shown are sent as set
        ss["reading_paused"] = True


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
        ss["reading_paused"] = False
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
        ss["reading_paused"] = True
        for other, value in applied.items():
            if other != name and other in FILTERS and _as_text(ss.get(f"f_{other}")) is None:
                _set_filter(ss, other, str(value))
                if other in inferred:
                    ss["promoted"][other] = str(value)
    _set_filter(ss, name, None)
    ss["promoted"].pop(name, None)


def on_open_document(doc_id: str, start: int | None, end: int | None, quotes: str = "",
                     card: str | None = None) -> None:
    """"Show in document": the document view, at the cited span (and its quoted sentences, "s-e,s-e");
    `card` is the result card to come back to."""
    params = {"doc": doc_id}
    if start is not None and end is not None:
        params |= {"start": str(start), "end": str(end)}
    if quotes:
        params["quotes"] = quotes
    meeting = st.query_params.get("meeting")
    if meeting:  # opened from a meeting's page: "Back" goes back to it
        st.session_state["back_to_meeting"] = meeting
    else:
        st.session_state["return_to"] = card
    st.query_params.clear()
    st.query_params.update(params)


def on_close_document() -> None:
    """"Back": to the meeting page the document was opened from, else to the results as they were,
    scrolled back to the card the document was opened from."""
    st.query_params.clear()
    meeting = st.session_state.pop("back_to_meeting", None)
    if meeting:
        st.query_params["meeting"] = meeting
        return
    st.session_state["scroll_to"] = st.session_state.pop("return_to", None)


def on_open_meeting(meeting_id: str, card: str | None = None) -> None:
    """"Open the meeting": the meeting's page (its papers, items, decisions); `card` is where to come back to."""
    st.query_params.clear()
    st.query_params["meeting"] = meeting_id
    st.session_state.pop("back_to_meeting", None)
    if card:
        st.session_state["return_to"] = card


def on_close_meeting() -> None:
    """"Back to results" from a meeting's page."""
    st.query_params.clear()
    st.session_state["scroll_to"] = st.session_state.pop("return_to", None)
