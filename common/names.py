"""Names of councils and speakers, normalised the same way at index time and at query time.

`alias_key` is what the indexer merges council spellings by and what query understanding matches a
question's words against, so "City of Wolverhampton Council", "Wolverhampton City Council" and
"Wolverhampton" cannot be one council in the index and three in a question. Nothing here knows any
particular council or person: the word lists are generic (common.language).
"""

from __future__ import annotations

import re

from common.language import COUNCIL_NAME_PREFIXES, COUNCILLOR_TITLES, GENERIC_COUNCIL_WORDS

_PREFIX_RE = re.compile(
    r"(?<![\w])(?:" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in COUNCIL_NAME_PREFIXES) + r")(?![\w])",
    re.IGNORECASE,
)

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_SPEAKER_PREFIX_RE = re.compile(r"^(?:" + "|".join(COUNCILLOR_TITLES) + r")\.?\s+", re.IGNORECASE)


def _place_words(words: list[str]) -> list[str]:
    """`words` without the generic ones; an "and" between generic words goes too ("City and County of")."""
    generic = [w in GENERIC_COUNCIL_WORDS for w in words]
    for i, w in enumerate(words):
        # "and" joins two places ("Brighton and Hove") or two kinds of body ("City and County of Swansea")
        if w == "and" and ((i > 0 and generic[i - 1]) or (i + 1 < len(words) and generic[i + 1])):
            generic[i] = True
    return [w for w, g in zip(words, generic, strict=True) if not g]


def alias_key(name: str) -> str:
    """Matching key for a council name: place words only, lower case; a (qualifier) is kept.

    "City of Wolverhampton Council", "Wolverhampton City Council" and "Wolverhampton" -> "wolverhampton";
    "London Borough of Hackney" and "Hackney Council" -> "hackney"; "City of London (Ontario) City
    Council" -> "london (ontario)". A name that is all generic words keeps them ("City Council").
    """
    text = name.lower().replace("&", " and ").replace("’", "'")
    # "London" names the borough's region here, not the place; elsewhere (City of London) it is the place.
    text = re.sub(r"\blondon borough of\b", " ", text)
    qualifiers = re.findall(r"\([^)]*\)", text)
    text = re.sub(r"\([^)]*\)", " ", text)
    words = _place_words(_WORD.findall(text))
    quals = [" ".join(re.findall(r"[a-z0-9]+", q)) for q in qualifiers]
    key = " ".join(words + [f"({q})" for q in quals if q])
    return key or " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def query_words(text: str) -> str:
    """Lower-case words of `text`, punctuation other than ' & - dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w'’& -]", " ", text.lower())).strip()


def council_aliases(name: str) -> set[str]:
    """Lower-case keys a council is known by in a question: its full name and its `alias_key`.

    "City of Wolverhampton Council" -> {"city of wolverhampton council", "wolverhampton"}; "Brighton &
    Hove City Council" also "brighton and hove" and "brighton & hove". A key shorter than three
    characters is left out: it would turn up in too many questions by chance.
    """
    full = query_words(name)
    keys = {full, full.replace("&", "and")}
    key = query_words(alias_key(name))
    if len(key) >= 3:
        keys.add(key)
    # "&" and "and" are one word in a council's name: alias_key reads them alike, so must a question
    keys |= {k.replace(" and ", " & ") for k in keys}
    return {k for k in keys if k}


def name_prefix_spans(text: str) -> list[tuple[int, int]]:
    """Spans of official-name prefixes in `text` ("London Borough of", "City of").

    A council matched wholly inside one is part of another council's name, not a mention of its own:
    "London" in "London Borough of Hackney" is not the City of London, as `alias_key` reads it too.
    """
    return [m.span() for m in _PREFIX_RE.finditer(text)]


_PARENS_RE = re.compile(r"\(([^()]*)\)")
# A part of a label that names a person: two to four capitalised words ("Alex Salmond", "Ms Morris KC"),
# not an office ("The First Minister") and not a place joined by "and" ("Clydebank and Milngavie").
_PERSON_RE = re.compile(r"^(?!The\b)[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){1,3}$")


def label_parts(label: str) -> tuple[str, list[str]]:
    """A speaker label's text outside brackets and its bracketed parts, spaces collapsed.

    "Sarah Boyack (Edinburgh Central) (Lab)" -> ("Sarah Boyack", ["Edinburgh Central", "Lab"]).
    """
    inside = [" ".join(p.split()) for p in _PARENS_RE.findall(label) if p.strip()]
    outside = " ".join(_PARENS_RE.sub(" ", label).split())
    return outside, inside


def person_name(label: str) -> str:
    """The part of a speaker label that names the person: the text outside brackets, unless that is an
    office and a bracketed part is a name ("The First Minister (Alex Salmond)" -> "Alex Salmond")."""
    outside, inside = label_parts(label)
    if outside and _PERSON_RE.match(outside):
        return outside
    return next((p for p in inside if _PERSON_RE.match(p)), outside or label)


def speaker_roles(label: str) -> list[str]:
    """The other parts of a label, offices, seats and parties ("The Secretary of State for Health",
    "Edinburgh Central"), each of two words or more; "Lab" and the person's name are left out."""
    outside, inside = label_parts(label)
    name = person_name(label)
    return [p for p in [outside, *inside] if p and p != name and len(p.split()) >= 2]


def speaker_key(name: str) -> str:
    """Normalised speaker name for matching: "Councillor Jane Francis" == "Cllr Jane Francis", and a label
    with its office or seat is the person ("John Denham (The Secretary of State)" == "John Denham")."""
    key = re.sub(r"\s+", " ", person_name(name).strip().lower())
    key = _SPEAKER_PREFIX_RE.sub("", key)
    return re.sub(r"[^\w' -]", "", key).strip()
