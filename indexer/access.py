"""Who may read a paper: `public` or `restricted`, and why.

A document's `access` comes from its sidecar or folder manifest (`"access": "restricted"`), from the
source (a connector's restricted flag, written into the sidecar), or from the paper's own words: a
paper that declares itself exempt or not for publication is restricted unless its metadata says
`public`. Only the paper's head is read for that declaration, because public agendas routinely say
further down that a *later* item is exempt ("Exclusion of the press and public … the following item
contains exempt information …"), and that does not make the agenda itself private.

The wording is the law's and the clerks' (Schedule 12A of the Local Government Act 1972, "Part II",
"not for publication"), not any council's.
"""

from __future__ import annotations

import re

ACCESS_LEVELS = ("public", "restricted")
HEAD_CHARS = 1500  # a paper declares its own status in its heading block, before its first item

_DECLARATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bnot\s+for\s+publication\b", re.I), "marked 'not for publication'"),
    (re.compile(r"\bexempt\s+information\b[^\n]{0,300}?\bschedule\s+12\s*a\b"
                r"|\bschedule\s+12\s*a\b[^\n]{0,300}?\bexempt\b", re.I),
     "declares exempt information under Schedule 12A"),
    (re.compile(r"\bpart\s+(?:ii|2|b)\b\s*[-–—:(]*\s*(?:private|exempt|confidential|closed)\b", re.I),
     "marked as a private (Part II) paper"),
    (re.compile(r"\b(?:restricted|confidential)\s*[-–—:]?\s*not\s+to\s+be\s+(?:published|circulated)\b", re.I),
     "marked as not to be published"),
)


def declared_restriction(text: str) -> str | None:
    """Why the paper's head declares it exempt or not for publication, or None when it does not."""
    head = text[:HEAD_CHARS]
    for pattern, why in _DECLARATIONS:
        m = pattern.search(head)
        if m:
            return f"{why} ({' '.join(m.group(0).split())[:80]!r})"
    return None


def check_access(value: object, where: str) -> str:
    """A metadata file's `access` value, lower-cased; ValueError naming the file and the fix if invalid."""
    text = str(value).strip().lower()
    if text not in ACCESS_LEVELS:
        raise ValueError(f"{where}: access {value!r} is not one of {', '.join(ACCESS_LEVELS)}; "
                         "write \"access\": \"public\" or \"access\": \"restricted\"")
    return text
