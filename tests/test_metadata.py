import json

import pytest

from indexer.metadata import (
    CouncilRegistry,
    alias_key,
    find_dates,
    infer_committee,
    infer_council,
    infer_date,
    infer_doc_type,
    infer_title,
    normalise_doc_type,
    parse_date,
    recanonicalise,
    resolve_metadata,
)
from indexer.models import DocumentMeta, SkipFile


@pytest.mark.parametrize(
    "name",
    ["Wolverhampton", "Wolverhampton City Council", "City of Wolverhampton Council", "WOLVERHAMPTON CITY COUNCIL"],
)
def test_alias_key_merges_council_spellings(name):
    assert alias_key(name) == "wolverhampton"


def test_alias_key_keeps_qualifiers_and_places_distinct():
    assert alias_key("City of London (Ontario) City Council") == "london (ontario)"
    assert alias_key("City of London Corporation") == "london"
    assert alias_key("Salford City Council") == alias_key("Salford") == "salford"
    assert alias_key("Stoke Ferry Parish Council") == "stoke ferry"
    assert alias_key("London Borough of Camden") == alias_key("Camden Council") == "camden"
    assert alias_key("Knox County Commission") != alias_key("Knox County Board of Education")


def test_registry_prefers_most_official_form_regardless_of_order():
    names = ["Wolverhampton", "Wolverhampton City Council", "City of Wolverhampton Council"]
    for order in (names, list(reversed(names))):
        reg = CouncilRegistry()
        for n in order:
            reg.add(n)
        assert reg.canonical("wolverhampton") == "City of Wolverhampton Council"
        assert reg.aliases() == {"City of Wolverhampton Council": ["Wolverhampton", "Wolverhampton City Council"]}
    reg = CouncilRegistry()
    assert reg.add("Salford") == "Salford"
    assert reg.add("Salford City Council") == "Salford City Council"
    assert reg.canonical("Salford") == "Salford City Council"
    reg.add("City of London (Ontario) City Council")
    reg.add("City of London Corporation")
    assert len(reg.aliases()) == 3  # Salford + two distinct Londons
    assert CouncilRegistry.from_dict(reg.to_dict()).aliases() == reg.aliases()


def test_recanonicalise_after_more_spellings_seen():
    reg = CouncilRegistry()
    meta = DocumentMeta(doc_id="x", council=reg.add("Wolverhampton"), extra={"council_raw": "Wolverhampton"})
    reg.add("City of Wolverhampton Council")
    recanonicalise(meta, reg)
    assert meta.council == "City of Wolverhampton Council"


@pytest.mark.parametrize(
    "text,iso",
    [
        ("Date: Wednesday 27th September 2023", "2023-09-27"),
        ("Report to: Committee – 19 June 2018", "2018-06-19"),
        ("ON 10th December 2008", "2008-12-10"),
        ("held 2024-11-27 at the town hall", "2024-11-27"),
        ("January 6, 2025, at 1:00 PM", "2025-01-06"),
        ("Wednesday, 27th November 2024 at 6:00pm", "2024-11-27"),
        ("Held on the 16th November 2000 at 7.30pm", "2000-11-16"),
        ("Meeting of 3rd Sept. 2019", "2019-09-03"),
    ],
)
def test_date_formats(text, iso):
    assert infer_date(text) == iso


def test_meeting_date_preferred_over_other_dates():
    text = "Panel - Wednesday 27 November 2024\nMinutes of the previous meeting (19 October 2024)"
    assert infer_date(text) == "2024-11-27"
    text = "The report was published 1 March 2020.\nThe meeting held on 5 March 2020 agreed."
    assert infer_date(text) == "2020-03-05"
    assert [d[1] for d in find_dates("30 February 2020 and 2020-02-29")] == ["2020-02-29"]


def test_parse_date_values():
    assert parse_date("2024-11-27") == "2024-11-27"
    assert parse_date("2024-11-27T18:00:00") == "2024-11-27"
    assert parse_date("27 November 2024") == "2024-11-27"
    assert parse_date("soon") is None


@pytest.mark.parametrize(
    "raw,kind",
    [
        ("webcast transcript (automatic speech recognition, Faster-Whisper; no speaker labels)", "transcript"),
        ("minutes (reformatted to markdown from eScribe HTML)", "minutes"),
        ("Minutes", "minutes"),
        ("report", "report"),
        ("Roundtable notes", "notes"),
        ("agenda pack", "agenda"),
        ("leaflet", "other"),
    ],
)
def test_normalise_doc_type(raw, kind):
    assert normalise_doc_type(raw) == kind


def test_inference_from_header_text():
    text = (
        "REPORT OF THE LEAD MEMBER FOR\n\nCHILDREN’S SERVICES\n\n"
        "TO THE CHILDREN’S SERVICES SCRUTINY COMMITTEE\nON 10th December 2008\n\n"
        "TITLE: Update on the Scrutiny Commission on Looked after children\n\n"
        "BACKGROUND DOCUMENTS: “Our children first” Salford Council 2006\n"
    )
    assert infer_council(text) == "Salford Council"
    assert infer_committee(text) == "Children’s Services Scrutiny Committee"
    assert infer_date(text) == "2008-12-10"
    assert infer_title(text) == "Update on the Scrutiny Commission on Looked after children"
    assert infer_doc_type(text) == "report"


def test_council_patterns_and_false_positives():
    assert infer_council("Agenda item 8 Our Future Council - City of Wolverhampton Council") == (
        "City of Wolverhampton Council"
    )
    assert infer_council("Minutes of Stoke Ferry Parish Council. Approved by Parish Council.") == (
        "Stoke Ferry Parish Council"
    )
    assert infer_council("Report of the Royal Borough of Kingston upon Thames") == (
        "Royal Borough of Kingston upon Thames"
    )
    assert infer_council("The Council agreed. Our Future Council was noted.") is None


def test_doc_type_inference():
    assert infer_doc_type("Agenda item\n\nCHILDREN'S SOCIAL CARE UPDATE\n\nMinutes:\n\nThe Director said") == "minutes"
    lines = "\n".join(f"Cllr A B - 0:0{i}:00\ntext" for i in range(4))
    assert infer_doc_type(lines) == "transcript"
    assert infer_doc_type("Roundtable Event with Director\n\nDate: 1 May 2023") == "notes"


def _write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")


TEXT = "Wolverhampton City Council\nPlanning Committee\nMeeting held on 5 March 2020\n\nMinutes:\nAll agreed."


def test_precedence_sidecar_then_manifest_then_inference(tmp_path):
    doc = tmp_path / "doc1.txt"
    doc.write_text(TEXT)
    _write(tmp_path / "doc1.json", {"title": "Sidecar title", "date": None, "ward": "North", "doc_type": "Minutes"})
    rows = [
        {"file": "doc1.txt", "title": "Manifest title", "date": "2021-01-02", "committee": "Manifest Cttee", "x": 1},
        {"doc_id": "other", "title": "Other"},
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    reg = CouncilRegistry()
    meta, record = resolve_metadata(doc, TEXT, reg)
    assert meta.doc_id == "doc1"
    assert meta.title == "Sidecar title"  # sidecar wins
    assert meta.date == "2021-01-02"  # sidecar null -> manifest
    assert meta.committee == "Manifest Cttee"
    assert meta.council == "Wolverhampton City Council"  # neither -> inferred
    assert meta.doc_type == "minutes"
    assert meta.extra["ward"] == "North" and meta.extra["x"] == 1
    assert meta.extra["meta_sources"] == {
        "title": "sidecar", "date": "manifest", "committee": "manifest", "council": "inferred", "doc_type": "sidecar",
        "access": "default",
    }  # fmt: skip
    assert "doc_type_raw" not in meta.extra
    assert record["title"] == "Sidecar title"


def test_manifest_csv_by_stem_and_doc_id_override(tmp_path):
    doc = tmp_path / "doc2.txt"
    doc.write_text(TEXT)
    (tmp_path / "manifest.csv").write_text(
        "doc_id,council,date,doc_type\ndoc2,City of Wolverhampton Council,27/11/2024,webcast transcript\n"
    )
    meta, _ = resolve_metadata(doc, TEXT, CouncilRegistry())
    assert meta.council == "City of Wolverhampton Council"
    assert meta.date == "2024-11-27"
    assert meta.doc_type == "transcript"
    assert meta.extra["doc_type_raw"] == "webcast transcript"


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"date": "next Tuesday"}), "not a parseable date"),
        (json.dumps({"title": ["a"]}), "'title' must be a string"),
    ],
)
def test_broken_sidecar_raises_skipfile_naming_file(tmp_path, content, problem):
    doc = tmp_path / "bad.txt"
    doc.write_text(TEXT)
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(SkipFile) as err:
        resolve_metadata(doc, TEXT, CouncilRegistry())
    assert "bad.json" in str(err.value) and problem in str(err.value)


def test_broken_manifest_line_raises_skipfile(tmp_path):
    doc = tmp_path / "doc3.txt"
    doc.write_text(TEXT)
    (tmp_path / "manifest.jsonl").write_text('{"file": "doc3.txt"}\n{oops\n')
    with pytest.raises(SkipFile, match=r"manifest.jsonl line 2: invalid JSON"):
        resolve_metadata(doc, TEXT, CouncilRegistry())
