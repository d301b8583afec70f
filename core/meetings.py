"""Meetings as things: the papers of one meeting grouped, their agenda items matched, and a topic's timeline.

A meeting is the papers of one council, committee and date (agenda, reports, minutes, transcript).
Its id is made from those three values, so it is the same in every build of the same papers. Agenda
items of different papers are matched where their numbers or their titles agree; each item lists
the decisions, recommendations and discussion its passages hold (`indexer.roles`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.results import citation, meeting_id
from indexer.loaders import load_document
from indexer.models import Document, DocumentMeta, Passage
from indexer.roles import ROLES, Vote, parse_vote

__all__ = ["ROLES", "Vote", "meeting_id", "parse_vote", "read_paper"]

def read_paper(path: Path) -> Document:
    """A paper read as the indexer reads it, each segment with its role and, for a decision, its vote."""
    return load_document(path)


DISCUSSION_SHOWN = 5  # discussion passages listed per item; the rest are counted
EXCERPT_CHARS = 600


@dataclass(frozen=True)
class Paper:
    """One document of a meeting."""

    document_id: str
    title: str | None
    doc_type: str | None
    url: str | None

    def to_dict(self) -> dict[str, Any]:
        """The API's shape."""
        return {"document_id": self.document_id, "title": self.title, "doc_type": self.doc_type, "url": self.url}


@dataclass(frozen=True)
class Meeting:
    """A council's committee on one date, and the papers indexed for it."""

    id: str
    council: str
    committee: str | None
    date: str
    papers: tuple[Paper, ...]

    def to_dict(self) -> dict[str, Any]:
        """The API's shape."""
        return {"id": self.id, "council": self.council, "committee": self.committee, "date": self.date,
                "papers": [p.to_dict() for p in self.papers]}


def group_meetings(metas: Sequence[DocumentMeta]) -> dict[str, Meeting]:
    """Meetings by id, newest first; a document without a council or a date belongs to none."""
    groups: dict[tuple[str, str | None, str], list[DocumentMeta]] = defaultdict(list)
    for m in metas:
        if m.council and m.date:
            groups[(m.council, m.committee, m.date)].append(m)
    out = {}
    for (council, committee, date), docs in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0],
                                                                                 kv[0][1] or ""), reverse=True):
        papers = tuple(Paper(d.doc_id, d.title, d.doc_type, d.source_url) for d in sorted(docs, key=lambda d: d.doc_id))
        mid = meeting_id(council, committee, date)
        out[mid] = Meeting(mid, council, committee, date, papers)
    return out


_NUMBER_RE = re.compile(r"^\W*(?:(?:agenda\s+)?item|minute|min\.?)?\s*(\d+(?:[./]\d+)*[a-z]?)\b[.):]?\s*", re.I)


def item_key(label: str) -> tuple[str | None, str]:
    """An agenda item's number ("4.1", or None) and its title in plain lower-case words."""
    m = _NUMBER_RE.match(label)
    number = m.group(1).rstrip(".") if m else None
    title = label[m.end():] if m else label
    return number, " ".join(re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", title).lower()))


@dataclass
class Item:
    """One agenda item of a meeting, across its papers."""

    label: str
    number: str | None
    title: str
    papers: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    discussion: list[dict[str, Any]] = field(default_factory=list)
    discussion_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The API's shape."""
        return {"item": self.label, "number": self.number, "papers": self.papers, "decisions": self.decisions,
                "recommendations": self.recommendations, "discussion": self.discussion,
                "discussion_total": self.discussion_total}


def _excerpt(p: Passage) -> dict[str, Any]:
    out: dict[str, Any] = {"text": p.text[:EXCERPT_CHARS], "citation": citation(p)}
    if p.role == "decision":
        vote = parse_vote(p.text)
        out["vote"] = vote.to_dict() if vote else None
    return out


def _match(items: list[Item], number: str | None, title: str) -> Item | None:
    """The item already seen with the same number or the same title (an empty title matches nothing)."""
    for it in items:
        if (number and it.number == number) or (title and it.title == title):
            return it
    return None


def meeting_items(passages: Sequence[Passage]) -> list[Item]:
    """The meeting's agenda items in the order first seen, each with its papers and its passages by role.
    Passages outside any agenda item are listed under an item with an empty label."""
    items: list[Item] = []
    for p in passages:
        label = p.agenda_item or ""
        number, title = item_key(label) if label else (None, "")
        it = _match(items, number, title) if label else next((i for i in items if not i.label), None)
        if it is None:
            it = Item(label, number, title)
            items.append(it)
        if p.doc_id not in it.papers:
            it.papers.append(p.doc_id)
        if p.role == "decision":
            it.decisions.append(_excerpt(p))
        elif p.role == "recommendation":
            it.recommendations.append(_excerpt(p))
        else:
            it.discussion_total += 1
            if len(it.discussion) < DISCUSSION_SHOWN:
                it.discussion.append(_excerpt(p))
    return items


@dataclass(frozen=True)
class TimelinePoint:
    """How much a topic was discussed at one meeting, and what was decided about it."""

    meeting: Meeting
    passages: int
    decisions: list[dict[str, Any]]
    links: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The API's shape."""
        m = self.meeting
        return {"meeting_id": m.id, "council": m.council, "committee": m.committee, "date": m.date,
                "passages": self.passages, "decisions": self.decisions, "links": self.links}


def topic_timeline(meetings: dict[str, Meeting], relevant: Sequence[Passage], links_per_meeting: int = 5
             ) -> list[TimelinePoint]:
    """Per meeting, in date order: the relevant passages it holds, its decisions among them, links to them."""
    by_doc = {p.document_id: m for m in meetings.values() for p in m.papers}
    grouped: dict[str, list[Passage]] = defaultdict(list)
    for p in relevant:
        m = by_doc.get(p.doc_id)
        if m is not None:
            grouped[m.id].append(p)
    points = []
    for mid, ps in grouped.items():
        decisions = [_excerpt(p) for p in ps if p.role == "decision"]
        links = [{"text": p.text[:200], "citation": citation(p)} for p in ps[:links_per_meeting]]
        points.append(TimelinePoint(meetings[mid], len(ps), decisions, links))
    return sorted(points, key=lambda t: (t.meeting.date, t.meeting.id))
