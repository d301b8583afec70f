import re

from indexer.clean import clean_text, drop_consecutive_duplicates, strip_html_remnants, strip_page_furniture

SEED_ROW = (
    "Service Provision\t<p>How can we avoid outside placements &amp; opportunistic development?</p>\t"
    "<p>Scott Darraugh <i>Social adVentures</i></p>\n"
    "<p>It remains a priority.</p> <p>Agreed to return to colleagues.</p>\t\t"
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z0-9£%]+", text))


def test_html_tags_and_entities_removed():
    out = clean_text(SEED_ROW)
    assert "<p>" not in out and "<i>" not in out and "&amp;" not in out
    assert "placements & opportunistic" in out
    assert "Scott Darraugh Social adVentures" in out


def test_text_that_only_looks_like_markup_is_kept():
    out = clean_text("68% are micro community groups (<£10k) and R&D costs")
    assert out == "68% are micro community groups (<£10k) and R&D costs"


def test_cleaning_never_drops_content_words():
    raw = (
        "**Manchester City Council\nReport for Information**\n\n\n\n"
        "Report to:  Children  and Young People Scrutiny Committee ,  19 June 2018\n"
        "Subject: Delivering   the Our Manchester Strategy\n"
        "Subject: Delivering   the Our Manchester Strategy\n"
        "<p>Family hubs are a clear example</p> <i>Salford CVS</i> 68% (<£10k)\n"
        "> [!abstract]- Present:\n> D. Ferreira, H. McAlister\n"
    )
    tags_removed = re.sub(r"</?(p|i)>|\[!abstract\]", " ", raw)
    out = clean_text(raw)
    assert _words(tags_removed) - {"abstract"} <= _words(out)


def test_hyphenation_spacing_and_blank_lines():
    out = clean_text("the manage-\nment of  the\tpanel , which met .\n\n\n\n\nNext   paragraph")
    assert out == "the management of the panel, which met.\n\nNext paragraph"


def test_hyphen_before_capital_is_not_joined():
    assert clean_text("pre-\nOfsted visit") == "pre-\nOfsted visit"


def test_consecutive_duplicate_lines_dropped_but_not_distant_ones():
    lines = ["Item 1", "Item 1", "", "Item 1", "Other", "Item 1"]
    assert drop_consecutive_duplicates(lines) == ["Item 1", "Other", "Item 1"]


def test_glued_speaker_lines_are_not_joined_or_split_by_cleaning():
    raw = "carers' assessmentsAlison Hinds - 0:16:16\nThank you"
    assert clean_text(raw) == raw


def test_page_furniture_removed_only_at_page_edges():
    pages = [f"Salford City Council\nBody text {i}\nPage {i} of 5" for i in range(1, 6)]
    pages[2] = "Salford City Council\nSalford City Council agreed\nPage 3 of 5"
    out = strip_page_furniture(pages)
    assert out[0] == "Body text 1"
    assert out[2] == "Salford City Council agreed"


def test_strip_html_remnants_is_noop_on_plain_text():
    assert strip_html_remnants("plain text") == "plain text"


def test_real_seeds_keep_every_word():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    seeds = sorted((root / "corpus").glob("00*.txt")) or sorted((root.parent / "shared" / "seeds").glob("00*.txt"))
    if not seeds:
        import pytest

        pytest.skip("seed documents not available")
    for path in seeds:
        raw = path.read_text(encoding="utf-8")
        expected = strip_html_remnants(raw).replace("-\n", "")  # tags go; hyphen breaks are rejoined
        assert _words(expected) <= _words(clean_text(raw)), path.name


def test_page_markers_head_their_pages_and_running_header_goes() -> None:
    from indexer.clean import split_at_page_markers

    head = "Jo Bloggs Clerk to Anytown Parish Council Tel: 01234"
    text = (f"Page 1 of 3 {head} Minutes of the meeting. We met. Page 2 of 3 {head} The precept was set. "
            f"Page 3 of 3 {head} Meeting closed.")
    pages = split_at_page_markers(text)
    assert pages is not None
    assert [(n, " ".join(t.split())) for n, t in pages] == [
        (1, "Minutes of the meeting. We met."), (2, "The precept was set."), (3, "Meeting closed.")]


def test_page_markers_ending_their_pages() -> None:
    from indexer.clean import split_at_page_markers

    pages = split_at_page_markers("First page text.\nPage 1 of 2\nSecond page text.\nPage 2 of 2\n")
    assert [(n, t.strip()) for n, t in pages or []] == [(1, "First page text."), (2, "Second page text.")]


def test_page_mentions_that_are_not_a_run_are_left_alone() -> None:
    from indexer.clean import split_at_page_markers

    assert split_at_page_markers("See page 3 of 5 of the report.") is None
    assert split_at_page_markers("Page 1 of 4 here, and page 3 of 4 there.") is None  # not consecutive
    assert split_at_page_markers("Page 1 of 2 a. Page 2 of 3 b.") is None  # totals differ


def test_text_file_with_page_markers_gets_page_numbers(tmp_path) -> None:
    from indexer.loaders import load_document

    head = "Jo Bloggs Clerk to Anytown Parish Council Tel: 01234"
    body = " ".join(f"Sentence {i} of the minutes." for i in range(30))
    path = tmp_path / "minutes.txt"
    path.write_text(f"Page 1 of 2 {head} {body} Page 2 of 2 {head} RESOLVED: that the accounts be approved.")
    doc = load_document(path)
    assert "Page 2 of 2" not in doc.text and "Jo Bloggs" not in doc.text
    pages = {doc.text[s.start:s.end].strip(): s.page for s in doc.segments}
    assert pages["RESOLVED: that the accounts be approved."] == 2
    assert {s.page for s in doc.segments} == {1, 2}
