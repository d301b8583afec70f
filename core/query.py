"""Query understanding: councils, speakers, dates and document types named in a query.

Everything is drawn from the index's own facets at start-up (`Vocabulary.from_facets`); no council
or person is hard-coded. A council is known by its full name and by its alias keys ("City of
Wolverhampton Council" -> "wolverhampton"); a speaker by their full name, "Cllr/Councillor
<surname>" or "<surname>, <first name>". The same vocabulary validates hand-set filters.

`understand(query)` returns what it found as candidate filters (unambiguous mentions) and boosts
(ambiguous ones: two councils, a bare surname, a document type word used loosely, a month).
The engine decides whether a candidate filter is applied or demoted to a boost (when it would
leave no passages).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.dates import MONTH_PATTERN, month_number, month_period, period_bound
from common.fields import BY_NAME
from common.language import (
    ASKS_DECISION,
    COUNCILLOR_TITLES,
    DOC_TYPE_WORDS,
    GENERIC_COUNCIL_WORDS,
    LABEL_CONNECTIVES,
)
from common.names import alias_key, council_aliases, name_prefix_spans, speaker_key, speaker_roles
from common.names import query_words as _words

# Council names (alias_key, council_aliases), speaker names, months and document-type words come from
# common: the indexer reads them the same way, so index time and query time cannot disagree.
_YEAR = r"((?:19|20)\d\d)(?![/\-–]\d)"
_MONTH = rf"({MONTH_PATTERN})\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_TITLE = r"(?:" + "|".join(COUNCILLOR_TITLES) + r")\.?"
_POSS = r"(?:'s|’s|s'|’)?"
# A role held by more speakers than this is boosted for the first ones only (the boost lists them).
MAX_ROLE_HOLDERS = 20


def _speaker_patterns(name: str) -> tuple[list[str], str | None]:
    """Regex alternatives that name this speaker unambiguously, and their bare surname."""
    key = speaker_key(name)
    parts = key.split()
    if len(parts) < 2:
        return ([rf"{_TITLE}\s+{re.escape(key)}"] if key else []), None
    first, last = parts[0], parts[-1]
    pats = [r"\s+".join(map(re.escape, parts)), rf"{_TITLE}\s+{re.escape(last)}",
            rf"{re.escape(last)},\s*{re.escape(first)}"]
    return pats, last


# Filter values (YYYY, YYYY-MM, YYYY-MM-DD) are read by the one date parser in common.dates; the old
# name stays because the engine and the tests import it from here.
parse_date = period_bound


@dataclass
class Mention:
    """A council, speaker, document type or period named in a query.

    `values` are canonical facet values, `span` is where the query names it, and `as_filter` says it is
    unambiguous enough to be a candidate filter (else it is a boost).
    """

    field: str  # council | speaker | doc_type | date
    values: list[str]  # canonical facet values (date: [date_from, date_to], either may be "")
    span: tuple[int, int]
    as_filter: bool  # unambiguous: a candidate filter; otherwise a boost


@dataclass
class Understanding:
    """What `Vocabulary.understand` found in one query: its mentions, none overlapping another."""

    mentions: list[Mention] = field(default_factory=list)

    def years_as_boosts(self) -> Understanding:
        """The same mentions, with a whole year named alone ("in 2008") a boost rather than a filter.

        A year in a question often dates what was said ("how many events were reported in 2008?"),
        not the meeting that said it, which may be a year later; a month ("in March 2019") or a
        range stays a filter.
        """
        out = []
        for m in self.mentions:
            lo, hi = (m.values + ["", ""])[:2] if m.field == "date" else ("", "")
            whole_year = bool(lo) and lo.endswith("-01-01") and hi == f"{lo[:4]}-12-31"
            out.append(Mention(m.field, m.values, m.span, m.as_filter and not whole_year))
        return Understanding(out)

    def candidate_filters(self) -> dict[str, str]:
        """Filters from unambiguous mentions (first mention of a field wins; two councils: none)."""
        out: dict[str, str] = {}
        for m in self.mentions:
            if not m.as_filter:
                continue
            if m.field == "date":
                lo, hi = m.values
                out.update({k: v for k, v in (("date_from", lo), ("date_to", hi)) if v})
            else:
                out.setdefault(m.field, m.values[0])
        return out

    def boosts(self) -> dict[str, list[str]]:
        """Values from ambiguous mentions, by field, in order found and without repeats; a period as "from..to"."""
        out: dict[str, list[str]] = defaultdict(list)
        for m in self.mentions:
            if not m.as_filter:
                key = "date" if m.field == "date" else m.field
                value = "..".join(m.values) if m.field == "date" else None
                for v in [value] if value else m.values:
                    if v not in out[key]:
                        out[key].append(v)
        return dict(out)

    def spans_for(self, fields: Iterable[str]) -> list[tuple[int, int]]:
        """The query spans of the mentions of these fields (date_from or date_to: the date mentions)."""
        wanted = set(fields)
        if wanted & {"date_from", "date_to"}:
            wanted.add("date")
        return [m.span for m in self.mentions if m.field in wanted]


class Vocabulary:
    """Facet values of one index, with the matchers built from them."""

    def __init__(self, facets: dict[str, Any]) -> None:
        self.facets = facets
        self.councils = [f["value"] for f in facets.get("councils", [])]
        self.committees = [f["value"] for f in facets.get("committees", [])]
        self.doc_types = [f["value"] for f in facets.get("doc_types", [])]
        self.speakers = [f["value"] for f in facets.get("speakers", [])]  # most frequent first
        self._council_by_alias: dict[str, set[str]] = defaultdict(set)
        for c in self.councils:
            for a in council_aliases(c):
                self._council_by_alias[a].add(c)
        # "London" for "City of London (Ontario) City Council" where no other indexed council is a London
        bare: dict[str, set[str]] = defaultdict(set)
        for c in self.councils:
            key = alias_key(c)
            plain = _words(re.sub(r"\([^)]*\)", " ", key))
            if plain != _words(key) and len(plain) >= 3:
                bare[plain].add(c)
        for plain, names in bare.items():
            if len(names) == 1 and plain not in self._council_by_alias:
                self._council_by_alias[plain] |= names
        self._speaker_by_key: dict[str, list[str]] = defaultdict(list)
        for s in self.speakers:
            self._speaker_by_key[speaker_key(s)].append(s)
        self._council_re = _alternation(self._council_by_alias)
        self._speaker_res = self._speaker_matchers()
        self._surnames = self._unique_surnames()
        self._speakers_by_role = _role_phrases(self.speakers)
        self._role_re = _alternation(self._speakers_by_role)
        self._committees_by_key = _committee_phrases(self.committees)
        self._committee_re = _alternation(self._committees_by_key)

    # -- canonical values --------------------------------------------------------------------
    def speaker_variants(self, canonical: str) -> list[str]:
        """Every facet spelling of the same person ("Cllr Jane Francis", "Jane Francis")."""
        return self._speaker_by_key.get(speaker_key(canonical), [canonical])

    def values_of(self, field_name: str) -> list[str]:
        """The facet values of a field, most frequent first (empty when the field has no facet)."""
        facet = BY_NAME[field_name].facet if field_name in BY_NAME else None
        return [f["value"] for f in self.facets.get(facet, [])] if facet else []

    def resolve(self, field_name: str, value: str) -> str:
        """Canonical facet value for a hand-set filter; LookupError lists the valid ones."""
        v = value.strip()
        if field_name == "council":
            return self._resolve_council(v)
        if field_name == "speaker":
            hits = self._speaker_by_key.get(speaker_key(v))
            if hits:
                return hits[0]
            raise LookupError(self.speakers)
        pool = self.values_of(field_name)
        if field_name == "doc_type":
            v = DOC_TYPE_WORDS.get(v.lower(), v)
        for p in pool:
            if p.lower() == v.lower():
                return p
        raise LookupError(pool)

    def _resolve_council(self, v: str) -> str:
        for c in self.councils:
            if c.lower() == v.lower():
                return c
        hits: set[str] = set()
        for key in {_words(v), *(_words(a) for a in council_aliases(v))}:
            hits |= self._council_by_alias.get(key, set())
        if len(hits) == 1:
            return next(iter(hits))
        raise LookupError(sorted(hits) if hits else self.councils)

    # -- understanding -----------------------------------------------------------------------
    def understand(self, query: str) -> Understanding:
        """The councils, speakers, periods and document types named in the query, overlaps dropped."""
        text = query.lower().replace("’", "'")
        mentions = self._councils_in(text) + self._committees_in(text) + self._speakers_in(query, text)
        mentions += _dates_in(text) + self._doc_types_in(text) + self._roles_in(query)
        return Understanding(_drop_overlaps(mentions))

    def _roles_in(self, query: str) -> list[Mention]:
        """A question about what was decided boosts the decision passages (resolutions, motions and their
        votes, divisions), where the index has any: a boost, since the answer may lie in what was said."""
        if not any(f["value"] == "decision" for f in self.facets.get("roles", [])):
            return []
        m = ASKS_DECISION.search(query)
        return [Mention("role", ["decision"], m.span(), False)] if m else []

    def _committees_in(self, text: str) -> list[Mention]:
        """Committees named in the query: boosts, never filters (a committee's decision is often in the
        minutes of the council that adopted it)."""
        if self._committee_re is None:
            return []
        return [Mention("committee", sorted(self._committees_by_key[_words(m.group(1))]), m.span(), False)
                for m in self._committee_re.finditer(text)]

    def _councils_in(self, text: str) -> list[Mention]:
        if self._council_re is None:
            return []
        found: list[Mention] = []
        prefixes = name_prefix_spans(text)
        for m in self._council_re.finditer(text):
            if any(s <= m.start() and m.end() <= e for s, e in prefixes):
                continue  # "london" of "london borough of hackney": part of Hackney's name, as alias_key reads it
            names = sorted(self._council_by_alias[_words(m.group(1))])
            found.append(Mention("council", names, m.span(), len(names) == 1))
        distinct = {tuple(f.values) for f in found}
        if len(distinct) > 1:  # two councils named: compare, don't filter
            for f in found:
                f.as_filter = False
        return found

    def _speakers_in(self, query: str, text: str) -> list[Mention]:
        found: list[Mention] = []
        for rx, canonical in self._speaker_res:
            for m in rx.finditer(text):
                found.append(Mention("speaker", [canonical], m.span(), True))
        if not found:  # a capitalised surname alone: a boost, never a filter
            for m in re.finditer(r"\b([A-Z][\w'’-]{2,})\b", query):
                surname = self._surnames.get(m.group(1).lower())
                if surname:
                    found.append(Mention("speaker", [surname], m.span(), False))
        if self._role_re is not None:  # an office or seat ("the Secretary of State for Health"): a boost
            for m in self._role_re.finditer(text):
                holders = sorted(self._speakers_by_role[_words(m.group(1))])
                found.append(Mention("speaker", holders[:MAX_ROLE_HOLDERS], m.span(), False))
        names = {f.values[0] for f in found if f.as_filter}
        if len(names) > 1:
            for f in found:
                f.as_filter = False
        return found

    def _doc_types_in(self, text: str) -> list[Mention]:
        found = []
        for m in re.finditer(r"\b(\d+\s+)?([a-z]+)\b", text):
            target = DOC_TYPE_WORDS.get(m.group(2))
            if not target or target not in self.doc_types or m.group(1):
                continue
            if text[m.end():].lstrip().startswith("item"):
                continue
            before = text[:m.start(2)]
            strong = re.search(r"\b(?:in|from|according to|per)\s+(?:the\s+|a\s+|its\s+)?$", before) is not None
            found.append(Mention("doc_type", [target], m.span(2), strong))
        return found

    def _speaker_matchers(self) -> list[tuple[re.Pattern[str], str]]:
        out = []
        for key, spellings in self._speaker_by_key.items():
            pats, _ = _speaker_patterns(key)
            if pats:
                rx = re.compile(r"(?<![\w])(?:" + "|".join(pats) + r")" + _POSS + r"(?![\w])")
                out.append((rx, spellings[0]))
        return out

    def _unique_surnames(self) -> dict[str, str]:
        by_surname: dict[str, set[str]] = defaultdict(set)
        for key, spellings in self._speaker_by_key.items():
            parts = key.split()
            if len(parts) >= 2 and len(parts[-1]) >= 4:
                by_surname[parts[-1]].add(spellings[0])
        return {s: next(iter(v)) for s, v in by_surname.items() if len(v) == 1}


def _committee_phrases(committees: Iterable[str]) -> dict[str, set[str]]:
    """A committee's name as a question would say it -> the committee: its full name and, without a
    trailing "committee", the rest when that is two words or more; names of generic words only (Council,
    Plenary, City Council) are left out, they would match every other question."""
    out: dict[str, set[str]] = defaultdict(set)
    for c in committees:
        words = _words(re.sub(r"\([^)]*\)", " ", c)).split()
        if not words or all(w in GENERIC_COUNCIL_WORDS or w in ("plenary", "committee") for w in words):
            continue
        if len(words) >= 2:
            out[" ".join(words)].add(c)
        if words[-1] == "committee" and len(words) >= 3:
            out[" ".join(words[:-1])].add(c)
    return out


def _role_phrases(speakers: Iterable[str]) -> dict[str, set[str]]:
    """Office and seat phrases of the speakers' labels -> the labels holding them.

    A phrase is a role as the label gives it without a leading "the", and each of its first three or
    more words that ends on a content word, so "Secretary of State for Communities" finds "(The
    Secretary of State for Communities and Local Government)".
    """
    out: dict[str, set[str]] = defaultdict(set)
    for label in speakers:
        for role in speaker_roles(label):
            words = _words(role).split()
            if words and words[0] == "the":
                words = words[1:]
            if len(words) < 2:
                continue
            for n in range(min(3, len(words)), len(words) + 1):
                if words[n - 1] not in LABEL_CONNECTIVES:
                    out[" ".join(words[:n])].add(label)
    return out


def _alternation(keys: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(keys), key=len, reverse=True)
    if not ordered:
        return None
    alts = "|".join(r"\s+".join(map(re.escape, k.split())) for k in ordered)
    return re.compile(rf"(?<![\w])({alts}){_POSS}(?![\w])")


def _year_range(y: int) -> list[str]:
    return [f"{y}-01-01", f"{y}-12-31"]


def _dates_in(text: str) -> list[Mention]:
    """Years, ranges and months named with a preposition become filters; a bare month-year boosts."""
    out: list[Mention] = []
    rules: list[tuple[str, Any]] = [
        (rf"\bbetween\s+{_YEAR}\s+and\s+{_YEAR}\b", lambda m: [f"{m[1]}-01-01", f"{m[2]}-12-31"]),
        (rf"\bfrom\s+{_YEAR}\s+(?:to|until|till|through)\s+{_YEAR}\b", lambda m: [f"{m[1]}-01-01", f"{m[2]}-12-31"]),
        (rf"\b(?:since|from)\s+{_YEAR}\b", lambda m: [f"{m[1]}-01-01", ""]),
        (rf"\bafter\s+{_YEAR}\b", lambda m: [f"{int(m[1]) + 1}-01-01", ""]),
        (rf"\bbefore\s+{_YEAR}\b", lambda m: ["", f"{int(m[1]) - 1}-12-31"]),
        (rf"\b(?:until|up to|by)\s+{_YEAR}\b", lambda m: ["", f"{m[1]}-12-31"]),
        (rf"\b(?:in|during|on)\s+(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?{_MONTH}\s+{_YEAR}\b", _month_range),
        # "on April 20, 2020", "per the April 20th 2020 work session": the US order, read as its month
        (rf"\b(?:in|during|on|of|per|at)\s+(?:the\s+)?{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", _month_range),
        (rf"\b(?:in|during|of)\s+{_YEAR}\b", lambda m: _year_range(int(m[1]))),
    ]
    taken: list[tuple[int, int]] = []
    for pattern, to_range in rules:
        for m in re.finditer(pattern, text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            out.append(Mention("date", to_range(m), m.span(), True))
    for m in re.finditer(rf"\b{_MONTH}\s+(?:{_DAY},?\s+)?{_YEAR}\b", text):
        if not any(s < m.end() and m.start() < e for s, e in taken):
            out.append(Mention("date", _month_range(m), m.span(), False))
    if sum(1 for mention in out if mention.as_filter) > 1:  # two separate periods: boost both
        for mention in out:
            mention.as_filter = False
    return out


def _month_range(m: re.Match[str]) -> list[str]:
    last = m.lastindex or 0  # every pattern that calls this ends in (month)(year)
    month, year = month_number(m.group(last - 1)), int(m.group(last))
    return list(month_period(year, month))


def _drop_overlaps(mentions: list[Mention]) -> list[Mention]:
    """A span claimed by a council is not also a speaker's surname, and so on (first wins)."""
    kept: list[Mention] = []
    for m in mentions:
        if any(k.span[0] < m.span[1] and m.span[0] < k.span[1] for k in kept):
            continue
        kept.append(m)
    return kept


def strip_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """The query without the words that became filters (used for the BM25 query)."""
    out, pos = [], 0
    for s, e in sorted(spans):
        out.append(text[pos:s])
        pos = max(pos, e)
    out.append(text[pos:])
    stripped = re.sub(r"\s+", " ", " ".join(out)).strip()
    return stripped if re.search(r"\w", stripped) else text
