"""Questions about what the index does not hold: a council it has no papers of, a year outside its dates.

An answer to "What did Leeds City Council decide about bin collections?" over papers with no Leeds
City Council should say so and name what is indexed, not quote another council. Two checks, both
general: a "<Name> [City|County|Borough|...] Council" phrase that the query understanding did not
resolve and whose name words are in no indexed council's name; and a period named in the question
that lies wholly outside the indexed dates (and is not mentioned in the passages retrieved).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.query import Understanding

_COUNCIL_PHRASE = re.compile(
    r"\b((?:[A-Z][\w'’-]+\s+){0,3}[A-Z][\w'’-]+)\s+(?i:(?:city|county|borough|district|metropolitan|parish|town|"
    r"unitary)\s+)*(?i:council)\b")
_NAME_WORD = re.compile(r"[a-z]+")
_SKIP = frozenset(("the", "of", "did", "what", "how", "does", "has", "and", "city", "county", "borough", "district",
                   "parish", "town", "council", "metropolitan", "unitary"))
MAX_NAMED = 8


def _words(text: str) -> set[str]:
    return set(_NAME_WORD.findall(text.casefold())) - _SKIP


def unknown_council(question: str, understanding: Understanding, councils: Sequence[str]) -> str | None:
    """The council the question names that is not indexed ("Leeds City Council"), or None."""
    known = [m.span for m in understanding.mentions if m.field == "council"]
    indexed = set().union(*(_words(c) for c in councils)) if councils else set()
    for m in _COUNCIL_PHRASE.finditer(question):
        s, e = m.span()
        if not m.group(1)[:1].isupper() or any(ks < e and s < ke for ks, ke in known):
            continue
        words = _words(m.group(1))
        if words and not words & indexed:
            name = m.group(0).split()
            while name and name[0].casefold() in _SKIP:  # "What did Leeds City Council": "Leeds City Council"
                name.pop(0)
            return " ".join(name)
    return None


def out_of_range(understanding: Understanding, date_min: str | None, date_max: str | None,
                 passages_text: str) -> str | None:
    """The year the question names when it is wholly outside the indexed dates and the passages never
    mention it, or None."""
    if not date_min or not date_max:
        return None
    for m in understanding.mentions:
        if m.field != "date" or len(m.values) < 2:
            continue
        lo, hi = m.values[0] or "0000", m.values[1] or "9999"
        if (hi < date_min or lo > date_max) and lo[:4] not in passages_text:
            return lo[:4] if lo[:4] == hi[:4] else f"{lo[:4]}–{hi[:4]}"
    return None


def scope_note(question: str, understanding: Understanding, facets: dict[str, Any], passages_text: str) -> str | None:
    """Why the index cannot answer a question, naming what it holds; None when nothing is out of scope."""
    councils = [c["value"] for c in facets.get("councils", [])]
    council = unknown_council(question, understanding, councils)
    if council:
        more = len(councils) - MAX_NAMED
        shown = ", ".join(councils[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")
        return f"{council} is not among the councils indexed ({shown})."
    year = out_of_range(understanding, facets.get("date_min"), facets.get("date_max"), passages_text)
    if year:
        return (f"The indexed papers run from {facets['date_min'][:4]} to {facets['date_max'][:4]}; "
                f"none is from {year}.")
    return None
