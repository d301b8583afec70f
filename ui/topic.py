"""The topic's timeline beside an answer, and a meeting's own page (issue 14).

The timeline is GET /timeline for the question: one point per meeting, how many passages there were
about it, decisions marked. Choosing a meeting (on the chart or in the list under it) shows that
meeting's passages; "Open the meeting" shows its page: papers, agenda items, and per item what was
decided (with the vote), proposed and said. Both only call the HTTP API.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from ui import render, state
from ui.api_client import ApiClient, ServiceProblem

ss = st.session_state
DECIDED, DISCUSSED = "A decision recorded", "Discussed"


def timeline_for(client: ApiClient, question: str, filters: dict[str, str]) -> dict[str, Any] | None:
    """The timeline of the question's topic, fetched once per question and filters (None if it failed)."""
    key = (question, tuple(sorted(filters.items())))
    cached = ss.get("timeline")
    if cached and cached[0] == key:
        return cached[1]
    try:
        data = client.timeline({"q": question, **filters})
    except ServiceProblem as exc:
        st.caption(f"The timeline of this topic could not be loaded: {exc}")
        data = None
    ss["timeline"] = (key, data)
    ss.pop("timeline_meeting", None)
    return data


def chart(points: list[dict[str, Any]]) -> alt.Chart:
    """Passages per meeting over time, meetings with a decision in another colour and shape."""
    rows = [{"meeting_id": p["meeting_id"], "date": p["date"], "passages": p["passages"],
             "meeting": render.meeting_label(p), "kind": DECIDED if p["decisions"] else DISCUSSED,
             "decisions": len(p["decisions"])} for p in points]
    pick = alt.selection_point(name="meeting", fields=["meeting_id"])
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_point(filled=True, size=140)
        .encode(
            x=alt.X("date:T", title="Meeting date", axis=alt.Axis(format="%d %b %Y", labelAngle=0, tickCount=6)),
            y=alt.Y("passages:Q", title="Passages about the topic", scale=alt.Scale(zero=True)),
            color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=[DECIDED, DISCUSSED],
                                                                    range=["#c92a2a", "#1971c2"])),
            shape=alt.Shape("kind:N", title=None, scale=alt.Scale(domain=[DECIDED, DISCUSSED],
                                                                    range=["diamond", "circle"])),
            tooltip=[alt.Tooltip("meeting:N", title="Meeting"), alt.Tooltip("passages:Q", title="Passages"),
                     alt.Tooltip("decisions:Q", title="Decisions")],
        )
        .add_params(pick)
        .properties(height=220)
    )


def _picked_on_chart() -> None:
    picked = (ss.get("timeline_chart") or {}).get("selection", {}).get("meeting") or []
    if picked and picked[0].get("meeting_id"):
        ss["timeline_meeting"] = picked[0]["meeting_id"]


def show_timeline(client: ApiClient, question: str, filters: dict[str, str]) -> None:
    """The timeline under the answer: the chart, a list to choose a meeting, the chosen meeting's passages."""
    data = timeline_for(client, question, filters)
    points = (data or {}).get("points") or []
    if not points:
        return
    st.subheader("This topic over time")
    decided = sum(1 for p in points if p["decisions"])
    st.caption(f"{len(points)} meeting{'s' if len(points) != 1 else ''} discussed it"
               + (f"; {decided} recorded a decision (◆)." if decided else ".")
               + " Choose a meeting to see its passages.")
    st.altair_chart(chart(points), key="timeline_chart", on_select=_picked_on_chart, selection_mode="meeting",
                    width="stretch")
    by_id = {p["meeting_id"]: p for p in points}
    ids = [p["meeting_id"] for p in reversed(points)]  # newest first in the list
    chosen = st.selectbox("Meeting", ids, index=None, key="timeline_meeting", placeholder="Choose a meeting",
                          format_func=lambda i: render.meeting_label(by_id[i], with_counts=True))
    if chosen:
        meeting_passages(by_id[chosen], question)


def meeting_passages(point: dict[str, Any], question: str) -> None:
    """What the chosen meeting said and decided about the topic, with links into its papers."""
    with st.container(border=True, key="timeline_pick"):
        st.markdown(f"**{render.md_escape(render.meeting_label(point))}**")
        shown = [(d, True) for d in point["decisions"]]
        shown += [(x, False) for x in point["links"] if all(x["citation"] != d["citation"] for d, _ in shown)]
        for i, (x, decision) in enumerate(shown):
            label = "Decision" + (f" (vote: {x['citation']['vote']})" if x["citation"].get("vote") else "")
            if decision:
                st.markdown(f"**{render.md_escape(label)}**")
            st.html(f'<div class="cqa-passage">{render.passage_html(x["text"], question, None)}</div>')
            c = x["citation"]
            st.button("Show in document", key=f"tl_open_{i}", on_click=state.on_open_document,
                      args=(c["document_id"], c.get("char_start"), c.get("char_end")))
        st.button("Open the meeting", key="tl_meeting", on_click=state.on_open_meeting,
                  args=(point["meeting_id"],), type="primary")


def show_meeting(client: ApiClient, meeting_id: str) -> None:
    """A meeting's page: its papers, then each agenda item with what was decided, proposed and said."""
    st.button("← Back to results", on_click=state.on_close_meeting, key="back_meeting")
    try:
        m = client.meeting(meeting_id)
    except ServiceProblem as exc:
        st.error(f"Could not open the meeting: {exc}")
        return
    st.subheader(m.get("committee") or "Meeting")
    st.caption(render.md_escape(" · ".join(x for x in (m.get("council"), render.format_date(m.get("date"))) if x)))
    st.markdown("**Papers**")
    for i, p in enumerate(m.get("papers") or []):
        kind = str(p.get("doc_type") or "").capitalize()
        st.button(f"{p.get('title') or p['document_id']}" + (f" ({kind})" if kind else ""), key=f"mt_doc_{i}",
                  type="tertiary", on_click=state.on_open_document, args=(p["document_id"], None, None))
    for n, item in enumerate(m.get("items") or []):
        _item(item, n)


def _item(item: dict[str, Any], n: int) -> None:
    with st.container(border=True, key=f"mt_item_{n}"):
        st.markdown(f"**{render.md_escape(item.get('item') or 'Not under an agenda item')}**")
        for part, label in (("decisions", "Decided"), ("recommendations", "Proposed")):
            for i, x in enumerate(item.get(part) or []):
                vote = render.vote_text(x.get("vote"))
                st.markdown(f"*{label}*" + (f" (vote: {render.md_escape(vote)})" if vote else ""))
                _excerpt(x, f"mt_{n}_{part}_{i}")
        shown, total = item.get("discussion") or [], item.get("discussion_total", 0)
        if shown:
            more = f" (first {len(shown)} of {total})" if total > len(shown) else ""
            with st.expander(f"Discussion{more}"):
                for i, x in enumerate(shown):
                    _excerpt(x, f"mt_{n}_said_{i}")


def _excerpt(x: dict[str, Any], key: str) -> None:
    c = x["citation"]
    who = ", ".join(b for b in (c.get("speaker"), c.get("timestamp")) if b)
    if who:
        st.caption(render.md_escape(who))
    st.html(f'<div class="cqa-passage">{render.passage_html(x["text"], "", None)}</div>')
    st.button("Show in document", key=f"{key}_open", type="tertiary", on_click=state.on_open_document,
              args=(c["document_id"], c.get("char_start"), c.get("char_end")))
