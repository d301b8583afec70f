"""The briefing note an officer downloads: one model of it, written as Markdown or as a Word document.

The note holds the question, when it was made, the filters, the answer as the page shows it, and,
under each [n] the answer cites, that source's citation, its link and every quote the answer took
from it (with who said it and when). Sources the answer does not cite are left out, so the note's
numbers are the answer's. No Streamlit here: the page only offers the bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ui import render

_CITED = re.compile(r"\[(\d+)\]")
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DISCLAIMER = "from council papers by councilqa. Check the sources before relying on this note."


@dataclass(frozen=True)
class NoteQuote:
    """One quote under a source: its words on one line, and who said it when (may be empty)."""

    text: str
    said: str


@dataclass(frozen=True)
class NoteSource:
    """A cited source: its number in the answer, a one-line citation, its link, and its quotes."""

    n: int
    citation: str
    link: str | None
    quotes: list[NoteQuote]


@dataclass(frozen=True)
class Note:
    """Everything a briefing note says, independent of its file format."""

    question: str
    generated: str
    filters: list[str]
    answer: list[str]  # the answer's lines: the lead line, then one line per quote
    sources: list[NoteSource]


def _quotes(c: dict[str, Any]) -> list[NoteQuote]:
    items = c.get("quotes") or ([{"text": c["quote"], "speaker": c.get("speaker"),
                                  "timestamp": c.get("timestamp")}] if c.get("quote") else [])
    out = []
    for q in items:
        text = " ".join(str(q.get("shown") or q.get("text") or "").split())  # as the answer shows it
        if text:
            said = ", ".join(str(b) for b in (q.get("speaker"), q.get("timestamp")) if b)
            out.append(NoteQuote(text, said))
    return out


def note_of(response: dict[str, Any], generated: datetime | None = None) -> Note:
    """The note of an /ask response: only the sources its answer cites, in the answer's numbering."""
    answer = (response.get("answer") or "").strip() or "No answer was found."
    cited = {int(n) for n in _CITED.findall(answer)}
    sources = [NoteSource(int(c["n"]), render.citation_text(c), render.source_link(c), _quotes(c))
               for c in response.get("citations") or [] if c.get("n") in cited]
    filters = [render.filter_label(k, str(v)) for k, v in (response.get("filters_applied") or {}).items()]
    when = (generated or datetime.now()).strftime("%d %B %Y, %H:%M")
    return Note(str(response.get("question") or ""), when, filters,
                [line.strip() for line in answer.split("\n") if line.strip()], sorted(sources, key=lambda s: s.n))


def markdown(note: Note) -> str:
    """The note as Markdown: headings, the answer line by line, each source with its quotes quoted."""
    lines = ["# Briefing note", "", f"**Question:** {note.question}", "",
             f"*Generated {note.generated} {DISCLAIMER}*", ""]
    if note.filters:
        lines += ["**Filters:** " + "; ".join(note.filters), ""]
    lines += ["## Answer", "", "  \n".join(note.answer), "", "## Sources", ""]
    for s in note.sources:
        lines.append(f"**[{s.n}]** {s.citation}." + (f"  \nSource: <{s.link}>" if s.link else ""))
        for q in s.quotes:
            lines += ["", f"> {q.said + ': ' if q.said else ''}\u201c{q.text}\u201d"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def docx(note: Note) -> bytes:
    """The note as a Word document (.docx), with live links; built with python-docx."""
    from docx import Document  # a core dependency (the indexer reads .docx with it)

    doc = Document()
    doc.add_heading("Briefing note", level=1)
    para = doc.add_paragraph()
    para.add_run("Question: ").bold = True
    para.add_run(note.question)
    doc.add_paragraph().add_run(f"Generated {note.generated} {DISCLAIMER}").italic = True
    if note.filters:
        para = doc.add_paragraph()
        para.add_run("Filters: ").bold = True
        para.add_run("; ".join(note.filters))
    doc.add_heading("Answer", level=2)
    for line in note.answer:
        doc.add_paragraph(line)
    doc.add_heading("Sources", level=2)
    for s in note.sources:
        para = doc.add_paragraph()
        para.add_run(f"[{s.n}] ").bold = True
        para.add_run(f"{s.citation}.")
        if s.link:
            para = doc.add_paragraph("Source: ")
            _hyperlink(para, s.link)
        for q in s.quotes:
            para = doc.add_paragraph(style="Quote")
            if q.said:
                para.add_run(f"{q.said}: ").bold = True
            para.add_run(f"\u201c{q.text}\u201d")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _hyperlink(paragraph: Any, url: str) -> None:
    """A clickable link run: python-docx has no public call for one, so the element is built from its parts."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    props.append(style)
    colour = OxmlElement("w:color")
    colour.set(qn("w:val"), "0563C1")  # Word's own link blue: the template may have no Hyperlink style
    props.append(colour)
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(underline)
    run.append(props)
    text = OxmlElement("w:t")
    text.text = url
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
