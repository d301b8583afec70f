"""councilqa web page: ask a question about council papers and get a cited answer.

Run with `councilqa ui` (or `streamlit run ui/app.py`). It talks only to the HTTP API at
COUNCILQA_API_URL (default http://127.0.0.1:8000).
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run ui/app.py` puts only ui/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from common.fields import FACET_FIELDS, FILTER_FIELDS, MODE_LABELS, Field  # noqa: E402
from common.settings import Settings  # noqa: E402
from ui import briefing, render, state, topic  # noqa: E402
from ui.api_client import ApiClient, ServiceProblem  # noqa: E402

EXAMPLE = "what did Wolverhampton say about youth zone funding"
# The pickers in the sidebar: every filter of the field table whose values /facets lists.
FACETS = [(f.name, f.label, str(f.facet)) for f in FACET_FIELDS if f.filter in ("exact", "speaker")]
DATE_FIELDS = [f for f in FILTER_FIELDS if f.filter == "date"]
CSS = """<style>
mark { background: #fff1a8; color: inherit; padding: 0 .1em; border-radius: 2px; }
.cqa-passage { line-height: 1.6; font-size: .97rem; }
.cqa-quote { text-decoration: underline; text-decoration-color: #1971c2;
  text-decoration-thickness: 2px; text-underline-offset: 3px; }
.cqa-doc { white-space: pre-wrap; max-height: 65vh; overflow-y: auto; padding: 1rem 1.2rem;
  border: 1px solid rgba(49, 51, 63, .2); border-radius: .5rem; line-height: 1.65; }
.cqa-doc mark#cited { background: #ffd43b; outline: 2px solid #f59f00; scroll-margin: 30vh; }
.cqa-doc .cqa-cited-passage { background: #fff8db; }
.st-key-back_top, .st-key-back_meeting { position: sticky; top: 3.75rem; z-index: 100; }
</style>"""
SCROLL_BACK = """<div id="cqa-back-here"></div><script>
setTimeout(function () {
  var here = document.getElementById("cqa-back-here");
  if (here) { here.scrollIntoView({block: "start"}); }
}, 200);
</script>"""
SCROLL_TO_CITED = """<script>
setTimeout(function () {
  var m = document.getElementById("cited");
  if (m) { m.scrollIntoView({block: "center"}); }
}, 150);
</script>"""

ss = st.session_state


# ------------------------------------------------------------------------------ service


def client_from_settings() -> ApiClient:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        st.error(f"The page's settings are not valid ({problems}). Fix the COUNCILQA_ variables and reload.")
        st.stop()
    key = ss.get("api_key") or settings.api_key  # typed in the sidebar (this session only), else the UI's own
    return ApiClient(ss.get("api_url") or settings.api_url, settings.api_timeout_s, key)


def load_facets(client: ApiClient) -> tuple[dict[str, Any], str | None]:
    cache: dict[str, dict[str, Any]] = ss.setdefault("facets_cache", {})
    if client.identity not in cache:
        try:
            cache[client.identity] = client.facets()
        except ServiceProblem as exc:
            return {}, str(exc)
    return cache[client.identity], None


def send_if_needed(client: ApiClient) -> None:
    """Send the request the widgets describe, unless it is the one already on screen."""
    forced = ss.pop("force", False)
    request = state.current_request(ss)
    if request is None:
        if forced:
            ss["error"], ss["result"] = None, None
            st.warning("Type a question first.")
        return
    if request == ss.get("last_request") and not forced:
        return
    ss["last_request"] = request
    try:
        if request.kind == "ask" and writes_answers(client):
            data = stream_answer(client, request.payload())
        elif request.kind == "ask":
            with st.spinner("Finding the answer in the council papers…"):
                data = client.ask(request.payload())
        else:
            with st.spinner("Searching the council papers…"):
                data = client.search(request.payload())
        ss["result"], ss["error"] = {"request": request, "data": data}, None
        state.show_inferred(ss, data.get("auto_filters") or {})
    except ServiceProblem as exc:
        ss["result"], ss["error"] = None, str(exc)


def writes_answers(client: ApiClient) -> bool:
    """Whether the service has a language model to write answers (then the answer is streamed)."""
    cache: dict[str, bool] = ss.setdefault("llm_cache", {})
    if client.identity not in cache:
        try:
            cache[client.identity] = bool(client.health().get("llm"))
        except ServiceProblem:
            return False
    return cache[client.identity]


def stream_answer(client: ApiClient, payload: dict[str, Any]) -> dict[str, Any]:
    """The answer from /ask/stream, showing the model's text as it is written until the checked
    answer (which may drop sentences, or be the extractive answer) replaces it."""
    shown = st.empty()
    written: list[str] = []

    def on_delta(text: str) -> None:
        written.append(text)
        with shown.container(border=True):
            st.caption("Writing the answer… (it is checked against the sources when it is done)")
            st.markdown(render.answer_markdown("".join(written)) + " ▌")

    with st.spinner("Finding the answer in the council papers…"):
        data = client.ask_stream(payload, on_delta)
    shown.empty()
    return data


def get_document(client: ApiClient, doc_id: str) -> dict[str, Any]:
    cache: dict[tuple[str, str], dict[str, Any]] = ss.setdefault("doc_cache", {})
    key = (client.identity, doc_id)
    if key not in cache:
        with st.spinner("Opening the document…"):
            doc = client.document(doc_id)
        if len(cache) >= 5:
            cache.pop(next(iter(cache)))
        cache[key] = doc
    return cache[key]


# ------------------------------------------------------------------------------ sidebar


def date_pickers(f: Field, facets: dict[str, Any]) -> tuple[date, date]:
    """From and to pickers of one date field, bounded by the dates the index holds; returns the bounds."""
    low = _iso_date(facets.get(f"{f.name}_min")) or date(1990, 1, 1)
    high = _iso_date(facets.get(f"{f.name}_max")) or date.today()
    keys = [f"f_{n}" for n in f.filter_names]
    for key in keys:  # widen the range so a value read from a question fits
        if isinstance(ss.get(key), date):
            low, high = min(low, ss[key]), max(high, ss[key])
    for name, end in zip(f.filter_names, f.range_labels, strict=True):
        st.date_input(f"{end} {f.label.lower()}", value=None, key=f"f_{name}", min_value=low, max_value=high,
                      format="DD/MM/YYYY", on_change=state.on_filter_changed, args=(name,))
    return low, high


def sidebar(facets: dict[str, Any], facets_error: str | None, api_url: str, client: ApiClient | None = None
            ) -> None:
    with st.sidebar:
        st.header("Filters")
        st.caption("Narrow the papers searched. Leave a filter at *Any* to search everything.")
        for name, label, facet_key in FACETS:
            counts = {str(f["value"]): f.get("count") for f in facets.get(facet_key) or [] if "value" in f}
            options: list[str | None] = [None, *counts]
            current = ss.get(f"f_{name}")
            if current is not None and current not in counts:
                options.append(current)
            st.selectbox(
                label,
                options,
                key=f"f_{name}",
                placeholder="Any",
                on_change=state.on_filter_changed,
                args=(name,),
                format_func=lambda v, c=counts: "Any" if v is None else f"{v} ({c[v]})" if c.get(v) else v,
            )
        spans = [(f, *date_pickers(f, facets)) for f in DATE_FIELDS]
        st.checkbox(
            "Read filters from the question",
            key="auto_filters",
            help="For example, a council or a year named in your question becomes a filter.",
        )
        inferred = [render.label_of(n) for n in ss.get("promoted", {}) if ss.get("auto_filters", True)]
        if inferred:
            st.caption(f"Read from your question: {', '.join(inferred)}.")
        elif ss.get("reading_paused") and not ss.get("auto_filters", True):
            st.caption("Off for this question, since you removed a filter read from it; on again for your "
                       "next question.")
        with st.expander("Advanced"):
            st.slider("Sources used for the answer", 1, 10, key="k_answer")
            st.slider("Passages in the ranked list", 5, 50, key="k_search")
            st.selectbox(
                "How passages are matched (ranked list)",
                list(MODE_LABELS),
                key="search_mode",
                format_func=MODE_LABELS.__getitem__,
            )
        if client is not None:
            followed_list(client)
        with st.expander("Access"):
            st.text_input("API key", key="api_key", type="password", on_change=state.on_key_changed,
                          help="Where the search service asks for a key: paste the one you were given. It is kept "
                          "for this browser session only, and never put in the page's address.")
        st.divider()
        if facets_error:
            st.caption(f"⚠️ The search service at {api_url} is not connected.")
        else:
            docs, passages = facets.get("documents"), facets.get("passages")
            span = "".join(f", {low.year}–{high.year}" for f, low, high in spans[:1] if facets.get(f"{f.name}_min"))
            st.caption(f"Searching {docs or 0:,} documents ({passages or 0:,} passages){span}.", help=api_url)


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


# ------------------------------------------------------------------------------ results


def filter_chips(data: dict[str, Any]) -> None:
    applied: dict[str, Any] = data.get("filters_applied") or {}
    inferred: dict[str, Any] = data.get("auto_filters") or {}
    if not applied:
        return
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.markdown("**Filters:**", width="content")
        for name, value in applied.items():
            st.button(
                f"{render.filter_label(name, str(value))} ✕",
                key=f"chip_{name}",
                on_click=state.on_remove_filter,
                args=(name,),
                help=("Read from your question." if name in inferred else "Set in the sidebar.")
                + " Click to remove this filter.",
            )
    if inferred:
        names = ", ".join(render.label_of(n) for n in inferred)
        st.caption(f"Read from your question: {names}. Click a filter to remove it.")


def citation_card(c: dict[str, Any], question: str, label: str, key: str,
                  quote: str | list[tuple[int, int]] | None = None) -> None:
    with st.container(border=True, key=f"card_{key}"):
        if ss.get("scroll_to") == key:  # back from this card's document: scroll to where the person was
            ss["scroll_to"] = None
            st.html(SCROLL_BACK, unsafe_allow_javascript=True)
        heading = render.citation_heading(c) or c.get("title") or "Unknown source"
        st.markdown(f"**{label}** &nbsp;{render.md_escape(heading)}")
        details = render.citation_details(c)
        if details:
            st.caption(render.md_escape(" · ".join(details)))
        st.html(f'<div class="cqa-passage">{render.passage_html(c.get("text") or "", question, quote)}</div>')
        with st.container(horizontal=True, gap="small"):
            link = render.source_link(c)
            if link:
                when = f" at {c['timestamp']}" if c.get("timestamp") else ""
                st.link_button(f"Open the source{when} ↗", link)
            if c.get("document_id"):
                st.button(
                    "Show in document",
                    key=f"open_{key}",
                    on_click=state.on_open_document,
                    args=(c["document_id"], c.get("char_start"), c.get("char_end"),
                          render.spans_param(render.quote_offsets(c)), key),
                )
            if c.get("meeting_id"):
                st.button("Open the meeting", key=f"meeting_{key}", on_click=state.on_open_meeting,
                          args=(c["meeting_id"], key))


def downloads(data: dict[str, Any], question: str, citations: list[dict[str, Any]]) -> None:
    """The briefing note (Markdown and Word) and the sources CSV, named after the whole question."""
    name = render.slug(question)
    made = ss.get("briefing_files")
    if not made or made[0] is not data:  # made once per answer, not on every rerun of the page
        note = briefing.note_of(data, datetime.now())
        made = ss["briefing_files"] = (data, briefing.docx(note), briefing.markdown(note))
    with st.container(horizontal=True, gap="small"):
        st.download_button("Download briefing note (Word)", made[1], file_name=f"briefing-{name}.docx",
                           mime=briefing.DOCX_MIME, key="dl_briefing_docx", on_click="ignore")
        st.download_button("Download briefing note (Markdown)", made[2],
                           file_name=f"briefing-{name}.md", mime="text/markdown", key="dl_briefing",
                           on_click="ignore")
        if citations:
            st.download_button("Download sources (CSV)", render.sources_csv(citations),
                               file_name=f"sources-{name}.csv", mime="text/csv", key="dl_sources",
                               on_click="ignore")


def show_answer(data: dict[str, Any], question: str, client: ApiClient | None = None,
                filters: dict[str, str] | None = None) -> None:
    answer = (data.get("answer") or "").strip()
    citations: list[dict[str, Any]] = data.get("citations") or []
    found = bool(data.get("found", True) and answer)
    if found:
        with st.container(border=True):
            st.markdown(render.answer_markdown(answer))
            if data.get("mode") == "llm":
                st.caption("Written by a language model from the sources below; each sentence cites the source "
                           "it rests on. Check them before relying on it.")
            else:
                st.caption("Built from quotes in the sources below. Check them before relying on it.")
            if data.get("llm_error"):
                st.caption(f"The language model's answer was not used: {render.md_escape(data['llm_error'])}.")
    else:
        st.info(
            answer or "The papers searched do not seem to answer this question. Try other words, or remove a filter."
        )
    timeline = None
    if found:
        downloads(data, question, citations)
        if client is not None:
            follow_button(client, question, filters or {})
        timeline = st.container()  # filled last: the sources show while the timeline is fetched
    if citations:
        st.subheader("Sources")
        for i, c in enumerate(citations):
            citation_card(c, question, f"[{c.get('n', i + 1)}]", f"cite_{i}", quote=render.quote_spans(c))
    if timeline is not None and client is not None:
        with timeline:
            topic.show_timeline(client, question, filters or {})


def follow_button(client: ApiClient, question: str, filters: dict[str, str]) -> None:
    """"Follow this question": after each build, what new papers say about it is listed under "Followed"."""
    followed = ss.setdefault("followed", {})
    key = (client.identity, question, tuple(sorted(filters.items())))
    if key in followed:
        st.caption("Following: new papers about this are listed under “Followed” in the sidebar.")
        return
    if st.button("Follow this question", key="follow", help="New papers that answer it are listed under "
                 "“Followed” in the sidebar after each update of the index, and in its feed."):
        try:
            made = client.follow({"query": question, **filters, "deliver": {"feed": True}})
        except ServiceProblem as exc:
            st.error(str(exc))
            return
        followed[key] = made.get("id")
        ss.pop("saved_cache", None)
        st.rerun()


def followed_list(client: ApiClient) -> None:
    """The sidebar's "Followed": the caller's saved searches with their counts of new results."""
    cache: dict[str, list[dict[str, Any]]] = ss.setdefault("saved_cache", {})
    if client.identity not in cache:
        try:
            cache[client.identity] = client.saved_searches().get("saved_searches") or []
        except ServiceProblem:
            cache[client.identity] = []
    saved = cache[client.identity]
    if not saved:
        return
    with st.expander(f"Followed ({len(saved)})"):
        for s in saved:
            n = int(s.get("new_results") or 0)
            st.markdown(f"**{render.md_escape(s['name'])}** · {n} new result{'s' if n != 1 else ''}")


def show_results(data: dict[str, Any], question: str) -> None:
    results = [render.flat_citation(r) for r in data.get("results") or []]
    if not results:
        st.info("No passages matched. Try other words, or remove a filter.")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(results)} passages**, best match first", width="content")
        st.download_button(
            "Download results (CSV)",
            render.results_csv(results),
            file_name=f"results-{render.slug(question)}.csv",
            mime="text/csv",
            key="dl_results",
            on_click="ignore",
        )
    for i, r in enumerate(results):
        citation_card(r, question, f"#{r.get('rank', i + 1)}", f"result_{i}")


def show_document(client: ApiClient, doc_id: str) -> None:
    st.button("← Back to results", on_click=state.on_close_document, key="back_top")
    try:
        doc = get_document(client, doc_id)
    except ServiceProblem as exc:
        st.error(f"Could not open the document: {exc}")
        return
    start, end = _int_param("start"), _int_param("end")
    st.subheader(doc.get("title") or doc_id)
    doc_type = str(doc.get("doc_type") or "").replace("_", " ").capitalize()
    meta = [doc.get("council"), doc.get("committee"), render.format_date(doc.get("date")), doc_type]
    st.caption(render.md_escape(" · ".join(str(m) for m in meta if m)))
    if doc.get("source_url"):
        st.link_button("Open the original ↗", doc["source_url"])
    text = doc.get("text") or ""
    full = st.toggle("Show the full document", key="doc_full")
    body, cut = render.document_html(text, start, end, window=None if full else 2500,
                                     quotes=render.parse_spans(st.query_params.get("quotes")))
    if start is not None and not (end is not None and 0 <= start < end <= len(text)):
        st.warning("The cited passage could not be located in this document; showing its beginning.")
    elif cut:
        st.caption("Showing the text around the cited passage (highlighted).")
    st.html(f'<div class="cqa-doc">{body}</div>{SCROLL_TO_CITED}', unsafe_allow_javascript=True)
    extra = {k: v for k, v in (doc.get("extra") or {}).items() if isinstance(v, str | int | float) and v != ""}
    if extra:
        with st.expander("More about this document"):
            for k, v in extra.items():
                st.markdown(f"**{render.md_escape(k.replace('_', ' ').capitalize())}:** {render.md_escape(str(v))}")


def _int_param(name: str) -> int | None:
    try:
        return int(st.query_params.get(name, ""))
    except ValueError:
        return None


def use_example() -> None:
    ss["question"] = EXAMPLE
    state.on_ask()


def intro() -> None:
    st.markdown(
        "**How to use it:** type a question in plain English and press **Ask**. "
        "The answer cites numbered sources; open any source to read it in context. "
        "Use the sidebar to narrow by council, committee, speaker or date."
    )
    st.button(f"Try: “{EXAMPLE}”", on_click=use_example, type="tertiary")


# ------------------------------------------------------------------------------ page


def main() -> None:
    st.set_page_config(page_title="Council papers Q&A", page_icon="🏛️", layout="centered")
    st.html(CSS)
    state.init(ss)
    client = client_from_settings()
    facets, facets_error = load_facets(client)

    st.title("Council papers Q&A")
    st.markdown("Ask about council meetings, reports and webcasts, and get an answer with its sources.")
    with st.form("ask_form", border=False, enter_to_submit=True):
        left, right = st.columns([5, 1], vertical_alignment="bottom")
        left.text_input("Your question", key="question", placeholder=EXAMPLE, max_chars=1000)
        right.form_submit_button("Ask", type="primary", on_click=state.on_ask, width="stretch")
    st.radio("Show", [state.VIEW_ANSWER, state.VIEW_SEARCH], key="view", horizontal=True,
             label_visibility="collapsed")  # fmt: skip

    send_if_needed(client)  # before the sidebar, so its boxes can show the filters read from the question
    sidebar(facets, facets_error, client.base_url, client)
    doc_id = st.query_params.get("doc")
    if doc_id:
        show_document(client, doc_id)
        return
    meeting_id = st.query_params.get("meeting")
    if meeting_id:
        topic.show_meeting(client, meeting_id)
        return
    result = ss.get("result")
    if ss.get("error"):
        st.error(ss["error"])
    elif facets_error and not result:
        st.error(facets_error)
    if not result:
        intro()
        return
    data, request = result["data"], result["request"]
    filter_chips(data)
    if request.kind == "ask":
        show_answer(data, request.question, client, dict(request.filters))
    else:
        show_results(data, request.question)


try:
    main()
except Exception as exc:  # the boundary: never show a traceback to the person using the page
    st.error(f"Something went wrong on this page ({type(exc).__name__}). Reload the page and try again.")
