"""Dates: the one month table and the parsers built on it, shared by index time and query time.

Two contracts, two names:

* `iso_date(value)` reads a free-form *metadata* value ("2024-11-27", "27 November 2024",
  "January 6, 2025", "27/11/2024") and returns an ISO date or None;
* `period_bound(value, end=...)` reads a *filter* value (YYYY, YYYY-MM or YYYY-MM-DD) and returns the
  first or last day of that period, raising ValueError for anything else.

`find_dates` finds every date in a text with a score for how likely it is the meeting date; the
metadata inference picks from it. English month names only: the product reads UK council papers.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

# Full names first: several rules (answer-type detection, place stop-words) want only these.
MONTH_NAMES: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Abbreviations as papers write them; "sept" as well as "sep" ("3rd Sept. 2019").
_MONTH_ABBREVIATIONS: dict[str, int] = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# The month table: every lower-case spelling -> month number. Everything else is derived from it.
MONTHS: dict[str, int] = {**{name: i for i, name in enumerate(MONTH_NAMES, start=1)}, **_MONTH_ABBREVIATIONS}

WEEKDAY_NAMES: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Longest first, so "september" is not read as "sep" + "tember".
MONTH_PATTERN = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"

_WEEKDAY = r"(?P<weekday>(?:" + "|".join(WEEKDAY_NAMES) + r"),?\s+(?:the\s+)?)?"
_MONTH = rf"(?P<month>{MONTH_PATTERN})"
_DATE_RES = [
    re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(
        rf"{_WEEKDAY}\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}\.?,?\s+(?P<year>(?:19|20)\d{{2}})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"{_WEEKDAY}\b{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{{2}})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?P<day>\d{1,2})[/.](?P<mnum>\d{1,2})[/.](?P<year>(?:19|20)\d{2})\b"),
]
# Words just before a date that say it is the meeting's own date, or some other meeting's.
_DATE_CONTEXT_RE = re.compile(r"\b(meeting|held|date|dated|on|minutes)\b\W*(?:the\s+)?$", re.IGNORECASE)
_PREVIOUS_RE = re.compile(r"\b(previous|last|next|prior)\b", re.IGNORECASE)


def month_number(name: str) -> int:
    """1-12 for an English month name or abbreviation ("Sept.", "november"); KeyError if it is none."""
    return MONTHS[name.lower().rstrip(".")]


def month_end(year: int, month: int) -> int:
    """The last day of that month (29 for February 2024)."""
    return calendar.monthrange(year, month)[1]


def _to_iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _match_iso(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    month = month_number(groups["month"]) if groups.get("month") else int(groups["mnum"])
    day, year = int(groups["day"]), int(groups["year"])
    iso = _to_iso(year, month, day)
    if iso is None and not groups.get("month"):
        iso = _to_iso(year, day, month)  # a US-style 06/27/2024
    return iso


def find_dates(text: str) -> list[tuple[int, str, int]]:
    """(position, ISO date, score) for every date in `text`; higher score = likelier the meeting date.

    A weekday, a leading "held on"/"date:" and a place in the first lines raise the score; "previous",
    "last" or "next" before it lower it. Impossible dates (30 February) are skipped.
    """
    found: dict[int, tuple[int, str, int]] = {}
    for regex in _DATE_RES:
        for m in regex.finditer(text):
            iso = _match_iso(m)
            if iso is None or any(abs(m.start() - p) < 3 for p in found):
                continue
            before = text[max(0, m.start() - 40) : m.start()]
            score = 0
            score += 2 if m.groupdict().get("weekday") else 0
            score += 2 if _DATE_CONTEXT_RE.search(before) else 0
            score -= 3 if _PREVIOUS_RE.search(before) else 0
            score += 3 if text.count("\n", 0, m.start()) < 3 and not text[: m.start()].strip().count("\n\n") else 0
            found[m.start()] = (m.start(), iso, score)
    return sorted(found.values())


def iso_date(value: Any) -> str | None:
    """ISO date for a metadata value ("2024-11-27", "27 November 2024", "January 6, 2025"), else None."""
    if value is None:
        return None
    text = str(value).strip()
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$", text)
    if m:
        return _to_iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    dates = find_dates(text)
    return dates[0][1] if dates else None


def period_bound(value: str, *, end: bool) -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD to an ISO date: the first day of the period, or the last with `end`.

    ValueError (naming the expected format) for anything else, including impossible dates.
    """
    value = value.strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not m:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD")
    y, mo, d = int(m[1]), m[2], m[3]
    if d is not None:
        return date(y, int(mo), int(d)).isoformat()
    if mo is not None:
        month = int(mo)
        return date(y, month, month_end(y, month) if end else 1).isoformat()
    return date(y, 12, 31).isoformat() if end else date(y, 1, 1).isoformat()


def month_period(year: int, month: int) -> tuple[str, str]:
    """First and last ISO day of a month: (2024, 2) -> ("2024-02-01", "2024-02-29")."""
    return f"{year}-{month:02d}-01", f"{year}-{month:02d}-{month_end(year, month):02d}"


def long_date(value: str | None) -> str:
    """'2024-11-27' -> '27 November 2024'; anything that is no ISO date is returned as given ('' for None)."""
    if not value:
        return ""
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{d.day} {d.strftime('%B %Y')}"
