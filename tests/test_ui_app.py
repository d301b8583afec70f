"""The web page, run in-process with Streamlit's AppTest against a fake HTTP API (real HTTP client)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "tests")) if p not in sys.path]

from streamlit.testing.v1 import AppTest  # noqa: E402
from ui_fakes import PANEL, QUOTE, WOLVES, FakeApi, free_port, serve_fake_api  # noqa: E402

from ui import briefing, render, topic  # noqa: E402
from ui.launch import streamlit_command  # noqa: E402

APP = str(ROOT / "ui" / "app.py")
QUESTION = "what did Wolverhampton say about youth zone funding"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeApi]:
    with serve_fake_api() as api:
        yield api


@pytest.fixture
def app(fake: FakeApi, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("COUNCILQA_API_URL", fake.url)
    monkeypatch.setenv("COUNCILQA_API_TIMEOUT_S", "2")
    fake.requests.clear()
    return AppTest.from_file(APP, default_timeout=10).run()


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="question").input(question)
    next(b for b in at.button if b.label == "Ask").click()
    return at.run()


def button(at: AppTest, label: str):  # noqa: ANN201
    return next(b for b in at.button if b.label.startswith(label))


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [h.value for h in at.get("html")]
    return "\n".join(parts)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert "Traceback" not in texts(at)


# ------------------------------------------------------------------------------ the page


def test_landing_page(app: AppTest) -> None:
    assert_clean(app)
    assert app.title[0].value == "Council papers Q&A"
    assert app.text_input(key="question").placeholder == QUESTION
    assert not app.error
    council = app.selectbox(key="f_council")
    assert council.value is None and council.options == ["Any", "Birmingham City Council (1)", f"{WOLVES} (2)"]
    assert "Searching 2 documents (3 passages), 2008–2024." in texts(app)


def test_answer_with_numbered_citations(app: AppTest, fake: FakeApi) -> None:
    ask(app, QUESTION)
    assert_clean(app)
    assert fake.last("/ask")["json"] == {"question": QUESTION, "k": 10, "auto_filters": True}
    page = texts(app)
    assert "£250,000 over three years **[1]**" in page
    assert "**[1]** &nbsp;City of Wolverhampton Council · Children & Young People Scrutiny Panel" in page
    assert "Agenda item: 8 Our Future Council · Speaker: Alison Hinds at 1:08:09" in page
    passage = next(h.value for h in app.get("html") if "cqa-passage" in h.value)
    assert "<mark>youth</mark> <mark>zone</mark>" in passage and "<mark>funding</mark>" in passage
    assert '<span class="cqa-quote">the council&#x27;s revenue contribution' in passage
    assert "<mark>what</mark>" not in passage  # stopwords stay plain
    labels = [d.label for d in app.download_button]
    assert labels == ["Download briefing note (Word)", "Download briefing note (Markdown)", "Download sources (CSV)"]
    assert app.text_input(key="question").value == QUESTION


def test_remove_filter_read_from_question(app: AppTest, fake: FakeApi) -> None:
    ask(app, "Wolverhampton youth zone funding in 2024")
    chips = [b.label for b in app.button if b.label.endswith("✕")]
    assert chips == ["Council: City of Wolverhampton Council ✕", "From: 1 January 2024 ✕", "To: 31 December 2024 ✕"]
    assert "Read from your question: Council, From, To" in texts(app)
    # The sidebar says what the chips say, and showing it there sends nothing new.
    assert app.selectbox(key="f_council").value == WOLVES
    assert app.date_input(key="f_date_to").value == date(2024, 12, 31)
    assert "council" not in fake.last("/ask")["json"]
    asked = len([r for r in fake.requests if r["path"] == "/ask"])
    app.run()
    assert len([r for r in fake.requests if r["path"] == "/ask"]) == asked

    button(app, "Council:").click()
    app.run()
    assert_clean(app)
    sent = fake.last("/ask")["json"]
    assert sent["auto_filters"] is False
    assert sent["date_from"] == "2024-01-01" and sent["date_to"] == "2024-12-31"
    assert "council" not in sent
    assert app.checkbox(key="auto_filters").value is False
    assert "Off for this question, since you removed a filter read from it" in texts(app)
    assert app.selectbox(key="f_council").value is None
    assert app.date_input(key="f_date_from").value == date(2024, 1, 1)
    assert [b.label for b in app.button if b.label.endswith("✕")] == [
        "From: 1 January 2024 ✕",
        "To: 31 December 2024 ✕",
    ]

    # A new question starts afresh: the previous question's dates are dropped, reading filters is back on.
    ask(app, "youth centres funding")
    sent = fake.last("/ask")["json"]
    assert sent == {"question": "youth centres funding", "k": 10, "auto_filters": True}
    assert app.date_input(key="f_date_from").value is None
    assert app.checkbox(key="auto_filters").value is True and "Off for this question" not in texts(app)


def test_sidebar_any_drops_a_filter_read_from_the_question(app: AppTest, fake: FakeApi) -> None:
    ask(app, "Wolverhampton youth zone funding in 2024")
    app.selectbox(key="f_council").set_value(None).run()
    assert_clean(app)
    sent = fake.last("/ask")["json"]
    assert sent["auto_filters"] is False and "council" not in sent and sent["date_from"] == "2024-01-01"
    assert [b.label for b in app.button if b.label.endswith("✕")] == ["From: 1 January 2024 ✕",
                                                                      "To: 31 December 2024 ✕"]  # fmt: skip


def test_sidebar_choice_replaces_a_filter_read_from_the_question(app: AppTest, fake: FakeApi) -> None:
    ask(app, "Wolverhampton youth zone funding")
    app.selectbox(key="f_council").set_value("Birmingham City Council").run()
    sent = fake.last("/ask")["json"]
    assert sent["council"] == "Birmingham City Council" and sent["auto_filters"] is True
    assert "Council: Birmingham City Council ✕" in [b.label for b in app.button]


def test_hand_set_filter_reruns_and_removes(app: AppTest, fake: FakeApi) -> None:
    ask(app, "youth funding")
    app.selectbox(key="f_council").set_value("Birmingham City Council").run()
    assert fake.last("/ask")["json"]["council"] == "Birmingham City Council"
    assert "Birmingham City Council · Cabinet · 13 June 2023" in texts(app)
    button(app, "Council: Birmingham").click()
    app.run()
    assert "council" not in fake.last("/ask")["json"]
    assert app.selectbox(key="f_council").value is None


def test_search_mode_ranked_list(app: AppTest, fake: FakeApi) -> None:
    ask(app, "youth funding")
    app.radio(key="view").set_value("Ranked passages").run()
    assert_clean(app)
    assert fake.last("/search")["params"] == {"q": "youth funding", "k": "10", "mode": "hybrid",
                                              "auto_filters": "true"}  # fmt: skip
    page = texts(app)
    assert "**3 passages**, best match first" in page
    assert "**#3** &nbsp;Birmingham City Council · Cabinet · 13 June 2023" in page
    assert "Page 2" in page
    assert [d.label for d in app.download_button] == ["Download results (CSV)"]

    app.slider(key="k_search").set_value(20)
    app.selectbox(key="search_mode").set_value("bm25").run()
    params = fake.last("/search")["params"]
    assert params["mode"] == "bm25" and params["k"] == "20"


def test_document_view_highlights_the_cited_span(app: AppTest) -> None:
    ask(app, QUESTION)
    button(app, "Show in document").click()
    app.run()
    assert_clean(app)
    assert app.query_params["doc"] == "wolves-cyp-2024-11-27"
    start, end = int(app.query_params["start"]), int(app.query_params["end"])
    assert app.subheader[0].value == "Children & Young People Scrutiny Panel: webcast transcript"
    doc_html = next(h.value for h in app.get("html") if 'class="cqa-doc"' in h.value)
    marked = doc_html.replace("&#x27;", "'")  # the quoted sentence is marked, within the passage's band
    assert f'<span class="cqa-cited-passage">On the youth zone, the capital funding of £6.5 million is secured and ' \
           f'<mark id="cited">{QUOTE}</mark>' in marked
    assert "scrollIntoView" in doc_html
    assert doc_html.rstrip().endswith("</script>") and " …</div>" in doc_html  # long text is windowed
    assert "Showing the text around the cited passage" in texts(app)
    assert end > start

    app.toggle(key="doc_full").set_value(True).run()
    doc_html = next(h.value for h in app.get("html") if 'class="cqa-doc"' in h.value)
    assert "Other business was discussed. </div>" in doc_html

    assert app.button(key="back_top")  # kept in reach: it sticks to the top as the page scrolls
    button(app, "← Back to results").click()
    app.run()
    assert "doc" not in app.query_params
    back = [h.value for h in app.get("html") if "cqa-back-here" in h.value]
    assert len(back) == 1  # the page scrolls back to the card the document was opened from
    assert len([d for d in app.download_button]) == 3  # results still there, not re-fetched


def test_service_down_is_explained_and_question_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("COUNCILQA_API_URL", url)
    at = AppTest.from_file(APP, default_timeout=10).run()
    assert_clean(at)
    assert f"not reachable at {url}" in at.error[0].value
    ask(at, QUESTION)
    assert_clean(at)
    assert len(at.error) == 1
    assert "Start it with `councilqa serve`" in at.error[0].value
    assert at.text_input(key="question").value == QUESTION


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("trigger 422", "Unknown council 'Narnia'. Choose one of the councils listed."),
        ("trigger 500", "The index could not be read."),
        ("trigger slow", "did not reply within 2 seconds"),
    ],
)
def test_service_errors_are_shown_plainly(app: AppTest, question: str, message: str) -> None:
    ask(app, question)
    assert_clean(app)
    assert message in app.error[0].value
    assert app.text_input(key="question").value == question
    assert not app.download_button


def test_no_answer_found(app: AppTest) -> None:
    ask(app, "nothing about youth")
    assert_clean(app)
    assert app.info[0].value == "No passage in the papers answers this question."
    assert not app.download_button  # nothing to brief on


def test_empty_question_asks_for_one(app: AppTest, fake: FakeApi) -> None:
    ask(app, "   ")
    assert app.warning[0].value == "Type a question first."
    assert not [r for r in fake.requests if r["path"] in ("/ask", "/search")]


# ------------------------------------------------------------------------------ pure helpers


CITATION = {
    "n": 1, "quote": QUOTE, "text": f"On the youth zone, {QUOTE}.", "rank": 1, "score": 0.03,
    "document_id": "wolves-cyp-2024-11-27", "title": "CYP Scrutiny Panel: webcast transcript", "council": WOLVES,
    "committee": PANEL, "date": "2024-11-27", "doc_type": "transcript", "agenda_item": "8 Our Future Council",
    "speaker": "Alison Hinds", "timestamp": "1:08:09", "page": None, "char_start": 10, "char_end": 120,
    "url": "https://example.org/webcast/42",
}  # fmt: skip


TWO_QUOTES = {**CITATION, "quotes": [
    {"text": "the council's revenue\ncontribution will reduce", "start": 30, "end": 70, "speaker": "Alison Hinds",
     "timestamp": "1:08:09"},
    {"text": "Partners will not withdraw.", "start": 90, "end": 117, "speaker": "Alison Hinds",
     "timestamp": "1:38:06"}]}
UNCITED = {**CITATION, "n": 2, "quote": "Not in the answer.", "quotes": [], "rank": 2}


def _note() -> briefing.Note:
    return briefing.note_of(
        {"question": QUESTION, "answer": "From the panel [1].\nAlison Hinds: \"It will reduce\" [1]",
         "citations": [TWO_QUOTES, UNCITED], "filters_applied": {"council": WOLVES}},
        generated=datetime(2025, 3, 4, 9, 30),
    )  # fmt: skip


def test_briefing_note_markdown_holds_every_cited_quote_under_its_number() -> None:
    note = briefing.markdown(_note())
    assert note.startswith("# Briefing note\n\n**Question:** what did Wolverhampton say")
    assert "Generated 04 March 2025, 09:30" in note
    assert f"**Filters:** Council: {WOLVES}" in note
    assert '## Answer\n\nFrom the panel [1].  \nAlison Hinds: "It will reduce" [1]\n\n## Sources' in note
    assert (
        "**[1]** CYP Scrutiny Panel: webcast transcript. City of Wolverhampton Council · "
        "Children & Young People Scrutiny Panel · 27 November 2024. Agenda item: 8 Our Future Council. "
        "Speaker: Alison Hinds at 1:08:09. Transcript.  \n"
        "Source: <https://example.org/webcast/42>\n\n"
        "> Alison Hinds, 1:08:09: \u201cthe council's revenue contribution will reduce\u201d\n\n"
        "> Alison Hinds, 1:38:06: \u201cPartners will not withdraw.\u201d\n" in note
    )
    assert "[2]" not in note and "Not in the answer" not in note  # the answer cites [1] only


def test_briefing_note_word_document_says_the_same() -> None:
    from docx import Document

    doc = Document(io.BytesIO(briefing.docx(_note())))
    paras = [(p.style.name, p.text) for p in doc.paragraphs]
    assert paras[:3] == [("Heading 1", "Briefing note"), ("Normal", f"Question: {QUESTION}"),
                         ("Normal", "Generated 04 March 2025, 09:30 " + briefing.DISCLAIMER)]  # fmt: skip
    assert ("Normal", 'Alison Hinds: "It will reduce" [1]') in paras
    assert ("Quote", "Alison Hinds, 1:38:06: \u201cPartners will not withdraw.\u201d") in paras
    assert ("Normal", "Source: https://example.org/webcast/42") in paras
    links = [r.target_ref for r in doc.part.rels.values() if r.reltype.endswith("/hyperlink")]
    assert links == ["https://example.org/webcast/42"]


def test_sources_csv_numbers_sources_as_the_answer_does() -> None:
    later = {**TWO_QUOTES, "n": 2, "rank": 4}
    rows = list(csv.DictReader(io.StringIO(render.sources_csv([later, {**TWO_QUOTES, "rank": 2}]))))
    assert list(rows[0]) == render.SOURCE_COLUMNS
    assert [(r["n"], r["search_rank"]) for r in rows] == [("1", "2"), ("2", "4")]
    assert rows[0]["quotes"] == "the council's revenue contribution will reduce\nPartners will not withdraw."


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("what did Wolverhampton say about youth zone funding in the year 2024 to 2025?",
         "what-did-wolverhampton-say-about-youth-zone-funding-in-the"),
        ("Youth  zone!", "youth-zone"),
        ("?!", "results"),
        ("a" * 70, "a" * 60),
    ],
)  # fmt: skip
def test_file_names_end_on_a_whole_word(text: str, name: str) -> None:
    assert render.slug(text) == name


def test_results_csv_flattens_search_results() -> None:
    result = {
        "rank": 2,
        "score": 0.5,
        "text": 'says "hello", twice',
        "citation": {k: v for k, v in CITATION.items() if k not in ("n", "quote", "text", "rank", "score")},
    }
    rows = list(csv.DictReader(io.StringIO(render.results_csv([result]))))
    assert list(rows[0]) == render.CSV_COLUMNS
    assert rows[0]["rank"] == "2" and rows[0]["council"] == WOLVES and rows[0]["text"] == 'says "hello", twice'
    assert rows[0]["page"] == "" and rows[0]["char_end"] == "120"
    assert rows[0]["speaker"] == "Alison Hinds" and rows[0]["timestamp"] == "1:08:09"


def test_highlight_escapes_first_and_skips_stopwords() -> None:
    out = render.highlight(
        "Options <including closures & mergers> for the youth centres", "what about youth centre closures?"
    )
    assert out == (
        "Options &lt;including <mark>closures</mark> &amp; mergers&gt; for the <mark>youth</mark> <mark>centres</mark>"
    )
    assert render.highlight("<b>amp</b>", "the") == "&lt;b&gt;amp&lt;/b&gt;"
    assert render.highlight("a &amp b", "amp") == "a &amp;<mark>amp</mark> b"  # entities stay intact


def test_source_links() -> None:
    assert render.source_link({"url": "https://x.org/a.pdf", "page": 3}) == "https://x.org/a.pdf#page=3"
    assert render.source_link({"url": "https://youtu.be/abc", "timestamp": "1:08:09"}) == "https://youtu.be/abc?t=4089"
    assert render.source_link({"url": "https://w.org/cast?id=4", "timestamp": "1:08:09"}) == "https://w.org/cast?id=4"
    assert render.source_link({"url": None}) is None


def test_document_window() -> None:
    text = "word " * 2000
    body, cut = render.document_html(text, 5000, 5004, window=100)
    assert cut and body.startswith("… ") and body.endswith(" …") and '<mark id="cited">word</mark>' in body
    body, cut = render.document_html("a <b> c", 2, 5, window=None)
    assert body == 'a <mark id="cited">&lt;b&gt;</mark> c' and not cut


def test_document_view_marks_the_quoted_sentences_within_the_passage() -> None:
    text = "Intro. First said. Then this. Last said. Outro."
    body, _ = render.document_html(text, 7, 40, window=None, quotes=[(30, 40), (7, 18), (0, 3)])
    assert body == ('Intro. <span class="cqa-cited-passage"><mark id="cited">First said.</mark> Then this. '
                    '<mark>Last said.</mark></span> Outro.')  # fmt: skip
    assert render.parse_spans(render.spans_param([(7, 18), (30, 40)])) == [(7, 18), (30, 40)]
    assert render.parse_spans("5-2,x-9,3-4") == [(3, 4)]


def test_streamlit_command() -> None:
    cmd = streamlit_command("http://127.0.0.1:9000", 8600, "0.0.0.0")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("ui/app.py")
    joined = " ".join(cmd)
    assert "--server.headless true" in joined and "--browser.gatherUsageStats false" in joined
    assert "--server.port 8600" in joined and "--server.address 0.0.0.0" in joined


def test_every_quote_of_a_citation_is_underlined() -> None:
    text = "Cllr A - 1:00:00\nIs the youth zone at risk?\nB - 1:00:05\nNo. The youth zone is funded until 2026."
    c = {"text": text, "char_start": 500, "quote": "The youth zone is funded until 2026.",
         "quotes": [{"text": "Is the youth zone at risk?", "start": 517, "end": 543, "speaker": "Cllr A",
                     "timestamp": "1:00:00"},
                    {"text": "The youth zone is funded until 2026.", "start": 500 + text.index("The youth"),
                     "end": 500 + len(text), "speaker": "B", "timestamp": "1:00:05"}]}
    spans = render.quote_spans(c)
    assert [text[s:e] for s, e in spans] == ["Is the youth zone at risk?", "The youth zone is funded until 2026."]
    html_out = render.passage_html(text, "youth zone", spans)
    assert html_out.count('<span class="cqa-quote">') == 2
    assert "Speakers: Cllr A at 1:00:00; B at 1:00:05" in render.citation_details(c)
    # an older response without `quotes` still underlines its one quote
    assert render.quote_spans({"text": text, "quote": "Is the youth zone at risk?"}) == [(17, 43)]


def test_written_answer_is_streamed_then_replaced_by_the_checked_one(app: AppTest, fake: FakeApi) -> None:
    fake.flags["llm"] = True
    try:
        ask(app, QUESTION)
    finally:
        fake.flags["llm"] = False
    assert_clean(app)
    assert fake.last("/ask/stream")["json"]["question"] == QUESTION
    assert not [r for r in fake.requests if r["path"] == "/ask"]
    page = texts(app)
    assert "Alison Hinds said the contribution will reduce **[1]**." in page
    assert "Dragons" not in page and "Writing the answer" not in page  # the stream's text is gone
    assert "Built from quotes" not in page and "Written by a language model" in page


def test_stream_errors_are_shown_plainly(app: AppTest, fake: FakeApi) -> None:
    fake.flags["llm"] = True
    try:
        ask(app, "trigger 422")
    finally:
        fake.flags["llm"] = False
    assert "Unknown council 'Narnia'" in app.error[0].value


# ------------------------------------------------------------------------------ timeline and meetings (issue 14)


def test_timeline_under_the_answer_shows_a_chosen_meetings_passages(app: AppTest, fake: FakeApi) -> None:
    ask(app, "youth centres funding")
    assert_clean(app)
    assert fake.last("/timeline")["params"] == {"q": "youth centres funding"}
    assert "This topic over time" in [s.value for s in app.subheader]
    assert "2 meetings discussed it; 1 recorded a decision (◆). Choose a meeting to see its passages." in texts(app)
    chart = app.get("vega_lite_chart")
    assert len(chart) == 1  # the chart is there (and is seen drawn in the real browser)
    spec = json.loads(chart[0].proto.spec)
    assert spec["encoding"]["x"]["field"] == "date" and spec["encoding"]["y"]["field"] == "passages"
    assert spec["params"][0]["name"] == "meeting"  # a point can be chosen on it
    pick = app.selectbox(key="timeline_meeting")
    assert pick.options == [
        "27 November 2024 · Children & Young People Scrutiny Panel (City of Wolverhampton Council) · 2 passages",
        "13 June 2023 · Cabinet (Birmingham City Council) · 1 passage, 1 decision"]
    timelines = len([r for r in fake.requests if r["path"] == "/timeline"])
    pick.set_value("2023-06-13--brum-cabinet-2023-06-13").run()
    assert_clean(app)
    assert "**Decision (vote: carried, 7 for, 2 against)**" in texts(app)
    assert len([r for r in fake.requests if r["path"] == "/timeline"]) == timelines  # not fetched again
    button(app, "Open the meeting").click()
    app.run()
    assert app.query_params["meeting"] == "2023-06-13--brum-cabinet-2023-06-13"


def test_meeting_page_from_a_citation_and_back(app: AppTest, fake: FakeApi) -> None:
    ask(app, "youth centres funding")
    card = next(c for c in app.caption if "Decision (vote: carried, 7 for, 2 against)" in c.value)
    assert card.value.endswith("Report · Decision (vote: carried, 7 for, 2 against)")
    app.button(key="meeting_cite_2").click()
    app.run()
    assert_clean(app)
    assert fake.last("/meetings/2023-06-13--brum-cabinet-2023-06-13")
    assert app.subheader[0].value == "Cabinet"
    assert "Birmingham City Council · 13 June 2023" in texts(app)
    assert "*Decided* (vote: carried, 7 for, 2 against)" in texts(app)
    assert button(app, "Youth services review (Report)")
    button(app, "Show in document").click()
    app.run()
    assert app.query_params["doc"] == "brum-cabinet-2023-06-13"
    button(app, "← Back to results").click()  # back to the meeting the document was opened from
    app.run()
    assert app.query_params["meeting"] == "2023-06-13--brum-cabinet-2023-06-13"
    app.button(key="back_meeting").click()
    app.run()
    assert "meeting" not in app.query_params
    assert [h.value for h in app.get("html") if "cqa-back-here" in h.value]  # scrolled back to the card


def test_timeline_chart_marks_meetings_with_decisions() -> None:
    points = [{"meeting_id": "m1", "date": "2023-06-13", "committee": "Cabinet", "passages": 1,
               "decisions": [{"text": "x"}]},
              {"meeting_id": "m2", "date": "2024-11-27", "committee": "Panel", "passages": 3, "decisions": []}]
    spec = topic.chart(points).to_dict()
    rows = spec["data"]["values"]
    assert [(r["meeting_id"], r["kind"], r["passages"]) for r in rows] == [
        ("m1", "A decision recorded", 1), ("m2", "Discussed", 3)]
    assert spec["encoding"]["shape"]["scale"]["range"] == ["diamond", "circle"]


def test_answer_parts_are_headed() -> None:
    md = render.answer_markdown('From A: B [1].\nDecided:\n"RESOLVED: That the report be noted." [1]\n'
                                "Proposed: no recommendation is recorded in the indexed papers.")
    assert md.split("  \n")[1:] == ["**Decided:**", '"RESOLVED: That the report be noted." **[1]**',
                                    "**Proposed:** no recommendation is recorded in the indexed papers."]
    assert render.vote_text({"for": 4, "against": 1, "abstained": None, "absent": None, "unanimous": False,
                             "outcome": "carried"}) == "carried, 4 for, 1 against"
    assert render.vote_text(None) == ""


def test_exports_show_quotes_as_the_answer_does() -> None:
    raw = "[0:07:40] 7D, approve the 85 millioncapital grant"
    c = {**CITATION, "quotes": [{"text": raw, "shown": "7D, approve the 85 million capital grant", "start": 30,
                                 "end": 30 + len(raw), "speaker": None, "timestamp": "0:07:40"}]}
    note = briefing.note_of({"question": QUESTION, "answer": 'From the panel [1].\n0:07:40: "7D" [1]',
                             "citations": [c]}, generated=datetime(2025, 3, 4, 9, 30))
    assert [q.text for q in note.sources[0].quotes] == ["7D, approve the 85 million capital grant"]
    rows = list(csv.DictReader(io.StringIO(render.sources_csv([c]))))
    assert rows[0]["quotes"] == "7D, approve the 85 million capital grant"
    old = {**c, "quotes": [{k: v for k, v in c["quotes"][0].items() if k != "shown"}]}  # a service without it
    assert [q.text for q in briefing.note_of({"question": QUESTION, "answer": "x [1]", "citations": [old]}
                                             ).sources[0].quotes] == [raw]
