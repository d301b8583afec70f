"""Document metadata: sidecar JSON > folder manifest > inference from the text, field by field.

Council names are merged through `CouncilRegistry`: "Wolverhampton", "Wolverhampton City Council" and
"City of Wolverhampton Council" share one `alias_key` and are stored under the most official form
seen. Nothing here knows any particular council: the product meets councils we never saw.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from common.dates import find_dates, iso_date
from common.fields import DOCUMENT_FIELD_NAMES
from common.language import (
    GENERIC_COUNCIL_WORDS,
    MEETING_WORDS,
    NOT_PLACE_FIRST_WORDS,
    NOT_PLACE_WORDS,
    OFFICIAL_WORDS,
    PLACE_PREPOSITIONS,
    PLACE_STOP_WORDS,
    SMALL_WORDS,
    is_common_phrase,
    prose_words,
)
from common.names import alias_key
from indexer.access import check_access, declared_restriction
from indexer.models import DOC_TYPES, DocumentMeta, SkipFile

# Every metadata key a sidecar or manifest row may set: the id and the table's document fields.
META_FIELDS = ("doc_id", *DOCUMENT_FIELD_NAMES)
# The fields `infer_metadata` can read from a paper's own text when no metadata file gives them.
INFERRED_FIELDS = ("council", "committee", "date", "title", "doc_type")
MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")
HEAD_CHARS = 3000  # inference looks at the document's header, where papers state who/what/when

# ------------------------------------------------------------------------------------------ councils

def tidy_council_name(name: str) -> str:
    """A council name with spaces collapsed, stray punctuation trimmed and ALL CAPS title-cased."""
    name = re.sub(r"\s+", " ", name).strip(" ,.;:-–")
    letters = [c for c in name if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        name = smart_title(name)
    return name


def _officialness(name: str) -> tuple[int, int, str]:
    lowered = name.lower()
    official = int(any(w in lowered.split() for w in OFFICIAL_WORDS))
    # deterministic regardless of the order documents are seen in
    return (official, len(name), name)


class CouncilRegistry:
    """Maps every spelling of a council seen while indexing to one canonical name."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {}

    def add(self, name: str) -> str:
        """Register a spelling (tidied) and return its council's canonical name so far; an empty name stays empty."""
        name = tidy_council_name(name)
        if not name:
            return name
        self._names.setdefault(alias_key(name), set()).add(name)
        return self.canonical(name)

    def canonical(self, name: str) -> str:
        """The most official spelling seen for this council; `name` itself (tidied) if unknown."""
        names = self._names.get(alias_key(name))
        return max(names, key=_officialness) if names else tidy_council_name(name)

    def aliases(self) -> dict[str, list[str]]:
        """Canonical name -> the other spellings seen for that council, sorted."""
        out = {}
        for names in self._names.values():
            canon = max(names, key=_officialness)
            out[canon] = sorted(n for n in names if n != canon)
        return out

    def keys(self) -> dict[str, str]:
        """alias_key -> canonical name, for matching council names mentioned in questions."""
        return {key: max(names, key=_officialness) for key, names in self._names.items()}

    def to_dict(self) -> dict[str, list[str]]:
        """alias_key -> every spelling seen, sorted: the form `from_dict` reads back."""
        return {key: sorted(names) for key, names in self._names.items()}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> CouncilRegistry:
        """A registry holding every spelling of a `to_dict` result."""
        reg = cls()
        for names in data.values():
            for name in names:
                reg.add(name)
        return reg


def canonical_council(name: str, registry: CouncilRegistry | None = None) -> str:
    """Register `name` and return its canonical form. Without a registry (one per build) the name is only
    tidied: a process-wide registry would make one document's metadata depend on what was loaded before."""
    return (registry or CouncilRegistry()).add(name)


# --------------------------------------------------------------------------------------------- dates

# Metadata values ("27 November 2024") are read by the one date parser in common.dates; the old name
# stays for callers of this module (the tests import it).
parse_date = iso_date


def infer_date(text: str) -> str | None:
    """The meeting date: the best-scored date in the header, earliest on ties."""
    dates = find_dates(text[:HEAD_CHARS])
    if not dates:
        return None
    return max(dates, key=lambda d: (d[2], -d[0]))[1]


# ---------------------------------------------------------------------------------------- inference

# A capitalised word of at most 61 characters (the longest place name has 58). Bounded so that a run like
# "A-A-A-..." costs each of its starts a bounded scan: unbounded, every start scanned to the run's end.
_CAP = r"[A-Z][\w'’-]{0,60}"
# Spaces, not \s: a place name never spans lines, and a heading above must not glue onto it.
_PLACE = rf"{_CAP}(?: +(?:(?:upon|on|under|in|le|de|and|&) +)?{_CAP}){{0,3}}"
_COUNCIL_RES = [
    re.compile(rf"\b(?:London |Royal )?Borough of {_PLACE}(?:\s+Council)?"),
    re.compile(
        rf"\bCity (?:and County )?of {_PLACE}(?:\s+\([^)\n]{{2,40}}\))?(?:\s+(?:City\s+)?Council|\s+Corporation)"
    ),
    re.compile(rf"\b{_PLACE}\s+(?:(?:Metropolitan\s+)?Borough|City|County|District|Parish|Town|Community)\s+Council\b"),
    re.compile(rf"\b{_PLACE}\s+Council\b"),
]
_BARE_COUNCIL_RE = _COUNCIL_RES[-1]  # "<Place> Council": the weakest shape, the likeliest to be a phrase
_PLACE_MENTION_RE = re.compile(
    r"\b(" + "|".join(PLACE_PREPOSITIONS) + r")\s+([A-Z][a-z]{3,}(?:\s[A-Z][a-z]{3,})?)\b(?!')"
)
_TIER_RE = re.compile(r"\b(Parish|Town|City|County|Borough|District|Community)\s+Council\b", re.IGNORECASE)


def _council_candidates(head: str, prose: frozenset[str]) -> list[tuple[int, str]]:
    """(position, name) of every council-shaped name in `head`; `prose`: the document's lower-case words."""
    out: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for regex in _COUNCIL_RES:
        for m in regex.finditer(head):
            if any(s <= m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            words = [w for w in m.group(0).split() if w.lower() not in MEETING_WORDS]
            article = head[max(0, m.start() - 4) : m.start()] == "the "
            if words and words[0] == "The":
                words, article = words[1:], True
            if not words or any(w.lower() in NOT_PLACE_WORDS for w in words):
                continue
            name = " ".join(words)
            place = [w for w in words if w.lower().strip("'’") not in GENERIC_COUNCIL_WORDS]
            if not place:
                continue  # "The Council", "Parish Council": no place in it
            if words[0].lower() in NOT_PLACE_FIRST_WORDS and not name.startswith(_NAMED_PREFIXES):
                continue
            if regex is _BARE_COUNCIL_RE and _common_noun_council(place, prose, article):
                continue
            out.append((m.start(), name))
    return out


_NAMED_PREFIXES = ("City of", "Borough of", "London Borough", "Royal Borough")


def _common_noun_council(place: list[str], prose: frozenset[str], article: bool) -> bool:
    """Whether "<place> Council" names a kind of council, not the council of a place.

    "Youth Council", "School Council": the paper also writes the word in lower case, so it is common
    English. "the Youth Council": a one-word place's council takes no article in English ("Salford
    Council agreed"), a kind of council does. "People's Council": a council of someone (a possessive).
    A place is capitalised throughout, so "Salford Council" or "Tower Hamlets Council" stays.
    """
    if len(place) == 1 and (article or re.search(r"\w['’]s?$", place[0])):
        return True
    return is_common_phrase(" ".join(place), prose, every=True)


def _tier(name: str) -> str | None:
    m = _TIER_RE.search(name)
    return m.group(1).lower() if m else None


def infer_council(text: str) -> str | None:
    """The council named in the header ("X City Council", "City of X Council", "Borough of X", ...).

    Papers mention other councils too ("reported to the County Council"), so a name in the first lines
    wins, then the name whose tier the paper keeps referring to bare ("agreed by the Parish Council"),
    then the most frequent. Falls back to the place the text keeps referring to ("in Trafford").
    """
    prose = prose_words(text)
    cands = _council_candidates(text[:HEAD_CHARS], prose) or _council_candidates(text, prose)
    if not cands:
        return _infer_place(text, prose)
    bare: dict[str, int] = {}
    for m in _TIER_RE.finditer(text):
        tier = m.group(1).lower()
        bare[tier] = bare.get(tier, 0) + 1
    groups: dict[str, list[tuple[int, str]]] = {}
    for pos, name in cands:
        groups.setdefault(alias_key(name), []).append((pos, name))

    def score(key: str) -> tuple[int, int, int]:
        items = groups[key]
        first = min(pos for pos, _ in items)
        tier = _tier(items[0][1])
        return (int(first < 200), len(items) + (bare.get(tier, 0) if tier else 0), -first)

    best = max(groups, key=score)
    return max((name for _, name in groups[best]), key=_officialness)


def _infer_place(text: str, prose: frozenset[str] | None = None) -> str | None:
    """The place the paper keeps referring to ("in Trafford" three times or more), else None.

    Calendar and council words are never places (PLACE_STOP_WORDS); nor is a capitalised phrase with a
    word the paper also writes in lower case ("in Early Help", "for Children"): a subject, not a place.
    """
    prose = prose_words(text) if prose is None else prose
    # Only council-ish papers: otherwise a frequent "in London" says nothing about the author.
    if not re.search(r"\b(council|councillor|cllr|committee|scrutiny)\b", text, re.IGNORECASE):
        return None
    counts: dict[str, float] = {}
    for m in _PLACE_MENTION_RE.finditer(text):
        place = m.group(2)
        if any(w.lower() in PLACE_STOP_WORDS for w in place.split()) or is_common_phrase(place, prose):
            continue
        counts[place] = counts.get(place, 0) + PLACE_PREPOSITIONS[m.group(1)]
    if not counts:
        return None
    place, n = max(counts.items(), key=lambda kv: kv[1])
    return place if n >= 3 else None


_COMMITTEE_WORDS = r"(?:Sub-Committee|Committee|Scrutiny Panel|Panel|Board|Commission|Cabinet|Forum)"
_COMMITTEE_NAME = rf"(?:{_CAP}|&)(?:\s+(?:{_CAP}|&|and|of|for|the|on)){{0,9}}?\s+{_COMMITTEE_WORDS}\b"
# The name runs to the first dash or comma, trailing spaces not included. Written so that no space is tried
# both as part of the name and as the space after it (a lazy name before `\s*` was quadratic in a run of
# spaces), and so that `^[^\S\n]*` cannot run over blank lines (`^\s*` was quadratic in a run of them).
_REPORT_TO_RE = re.compile(
    r"^[^\S\n]*(?:Report to|Meeting|Committee|Decision maker)\s*:\s*"
    r"(?P<name>[^\s–—,-](?:[^\n–—,-]*[^\s–—,-])?)[^\S\n]*(?:[-–—,].*)?$",
    re.IGNORECASE | re.MULTILINE,
)
# At most 100 characters before the committee word: "TO THE TO THE ..." made every start scan to its end.
_TO_THE_RE = re.compile(rf"\bTO THE\s+(?=[A-Z’'&])(?P<name>[A-Z’'& ]{{1,100}}?{_COMMITTEE_WORDS.upper()})\b")
_COMMITTEE_RE = re.compile(_COMMITTEE_NAME)


def smart_title(text: str) -> str:
    """Title-case an UPPER CASE phrase without "Children’S" artefacts; small words stay lower."""
    words = text.lower().split()
    out = []
    for i, w in enumerate(words):
        out.append(w if i and w in SMALL_WORDS else w[:1].upper() + w[1:])
    return " ".join(out)


def _clean_committee(name: str) -> str | None:
    name = re.sub(r"\s+", " ", name).strip(" -–—,:")
    words = name.split()
    while words and words[0].lower() in {"the", "a", "this", "our", "to", "of"}:
        words = words[1:]
    name = " ".join(words)
    if len(words) < 2 or len(name) > 100:
        return None
    return smart_title(name) if name.isupper() else name


def infer_committee(text: str) -> str | None:
    """The committee a paper is for, read from its header; None when it names none.

    Tried in order: a "Report to:" / "Meeting:" label, "TO THE ... COMMITTEE", a committee name in the first lines.
    """
    head = text[:HEAD_CHARS]
    for m in _REPORT_TO_RE.finditer(head):
        if re.search(_COMMITTEE_WORDS, m.group("name"), re.IGNORECASE):
            name = _clean_committee(m.group("name"))
            if name:
                return name
    to_the = _TO_THE_RE.search(head)
    if to_the and (name := _clean_committee(to_the.group("name"))):
        return name
    # Papers name other committees and boards all over; only a name in the first lines is the author.
    first_lines = "\n".join([line for line in head.split("\n") if line.strip()][:5])
    for m in _COMMITTEE_RE.finditer(first_lines):
        name = _clean_committee(m.group(0))
        if name and not re.match(r"(report|minutes|agenda)\b", name, re.IGNORECASE):
            return name
    return None


# The rest of the label's line; `_label_title` checks its length (a lazy `\S.{2,200}?\s*$` rescanned the
# line's trailing spaces at every length it tried).
_TITLE_LABEL_RE = re.compile(r"^[^\S\n]*(?:Subject|Title|Report title|Topic)\s*:\s*(?P<title>\S.*)$",
                             re.IGNORECASE | re.MULTILINE)  # fmt: skip
_NOT_TITLE_RE = re.compile(
    r"^(agenda( item)?|minutes|date|time|venue|present|apologies|report|summary|item|public|part [ab]|"
    r"\[?original link.*|disclaimer.*|\[\d+:\d\d:\d\d\].*|open|not for publication|held on.*)\W*$",
    re.IGNORECASE,
)


def infer_title(text: str, hint: str | None = None) -> str | None:
    """ "Subject:"/"TITLE:" value, else an HTML <title>, else the first meaningful line of the header."""
    labelled = _label_title(text[:HEAD_CHARS])
    if labelled:
        return _tidy_title(labelled)
    if hint and hint.strip():
        return _tidy_title(hint)
    for line in text[:HEAD_CHARS].split("\n"):
        line = line.strip().lstrip("#").strip()
        if len(line) < 4 or _NOT_TITLE_RE.match(line) or not re.search(r"[A-Za-z]{3}", line):
            continue
        if re.match(r"^[\W\d]", line) or line.startswith(("Date:", "Time:")):
            continue
        return _tidy_title(line)
    return None


def _label_title(head: str) -> str | None:
    """The value of the first "Subject:"/"Title:" line whose value is 3 to 201 characters long."""
    for m in _TITLE_LABEL_RE.finditer(head):
        value = m.group("title")
        if len(value) >= 3 and len(value.rstrip()) <= 201:
            return value.rstrip()
    return None


def _tidy_title(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip(" -–—:")
    title = smart_title(title) if title.isupper() and len(title) > 3 else title
    return title[:200]


def normalise_doc_type(raw: str | None) -> str | None:
    """One of DOC_TYPES for a free-text type ("webcast transcript (ASR, ...)" -> "transcript")."""
    if raw is None or not str(raw).strip():
        return None
    lowered = str(raw).lower()
    if lowered.strip() in DOC_TYPES:
        return lowered.strip()
    patterns = {
        "transcript": r"transcript|webcast|recording|\basr\b|video|audio",
        "minutes": r"minute",
        "agenda": r"agenda",
        "report": r"report|briefing|paper",
        "notes": r"notes?\b|roundtable|summary|workshop",
    }
    hits = [(m.start(), kind) for kind, pat in patterns.items() if (m := re.search(pat, lowered))]
    return min(hits)[1] if hits else "other"


_SPEAKER_TS_RE = re.compile(r"^.{2,80} - \d{1,2}:\d{2}:\d{2}\s*$|^\[\d{1,2}:\d{2}:\d{2}\]", re.MULTILINE)


_MINUTES_SIGNS_RE = re.compile(
    r"\b(present|apologies|called to order|moved by|seconded by|resolved|motion passed|carried|"
    r"declarations? of interest|signed as a (true|correct) record)\b",
    re.IGNORECASE,
)


_REPORT_RE = re.compile(
    r"^[^\w\n]*(report (of|to|for|by)\b|report[^\S\n]*$)|^.{0,60}\breport for (information|decision)", re.I | re.M
)


def infer_doc_type(text: str) -> str | None:
    """The document type its text shows (transcript, minutes, report, notes or agenda), or None when unclear."""
    head = text[:HEAD_CHARS]
    if len(_SPEAKER_TS_RE.findall(text[:20000])) >= 3 or re.search(r"\b(webcast|transcript)\b", head[:1000], re.I):
        return "transcript"
    # `^[^\S\n]*`, not `^\s*`, here and below: `\s*` ran over every blank line after each line start
    if re.search(r"^[^\S\n]*(#+[^\S\n]*)?minutes\b|\bminutes of (the|a)\b.{0,80}\bmeeting\b", head, re.I | re.M):
        return "minutes"
    if _REPORT_RE.search(head):
        return "report"
    if len({m.group(1).lower() for m in _MINUTES_SIGNS_RE.finditer(head)}) >= 2:
        return "minutes"
    if re.search(r"\b(roundtable|round table|notes of|meeting notes|workshop)\b", head[:1500], re.I):
        return "notes"
    if re.search(r"^[^\S\n]*agenda\b", head[:500], re.I | re.M):
        return "agenda"
    return None


def infer_metadata(text: str, hints: dict[str, str] | None = None) -> dict[str, str | None]:
    """Council, committee, date, title (or the title hint) and document type read from the text; None if not found."""
    hints = hints or {}
    return {
        "council": infer_council(text),
        "committee": infer_committee(text),
        "date": infer_date(text),
        "title": infer_title(text, hints.get("title")),
        "doc_type": infer_doc_type(text),
    }


# ------------------------------------------------------------------------------------- document ids

# An id is one URL path segment (/documents/{doc_id}) and a citation: letters, digits, '.', '_', '-'.
_SAFE_ID_RE = re.compile(r"[\w.-]+")
_UNSAFE_ID_CHAR_RE = re.compile(r"[^\w.-]+")
SAFE_ID_RULE = "use letters, digits, '.', '_' or '-'"


def is_safe_doc_id(doc_id: str) -> bool:
    """Whether `doc_id` can be fetched as one URL path segment: no '/', not '.' or '..', no spaces."""
    return bool(_SAFE_ID_RE.fullmatch(doc_id)) and doc_id.strip(".") != ""


def unsafe_doc_id(doc_id: str, where: str) -> str | None:
    """The skip reason for an id (given in `where`) that cannot be fetched, naming the fix; None if it is safe."""
    return None if is_safe_doc_id(doc_id) else f"doc_id {doc_id!r} in {where}: {SAFE_ID_RULE}"


def _id_part(text: str) -> str:
    """`text` with each run of characters an id cannot hold (spaces, '/', undecodable bytes) as one '-'."""
    part = _UNSAFE_ID_CHAR_RE.sub("-", text)
    return part if part.strip(".") else part.replace(".", "-")


def _base_id(path: Path, root: Path | None) -> str:
    """The file's path below its input folder, without the extension, as a safe id: a/b/minutes -> a--b--minutes."""
    rel = path.relative_to(root) if root is not None else Path(path.name)
    return "--".join(_id_part(part) for part in (*rel.parent.parts, path.stem) if part) or "-"


def _suffixed(ids: dict[Path, str], extra: Callable[[Path], str]) -> dict[Path, str]:
    """`ids`, with `extra(path)` appended to every id two or more files share."""
    counts = Counter(ids.values())
    return {p: f"{i}-{extra(p)}" if counts[i] > 1 else i for p, i in ids.items()}


def default_doc_ids(files: Sequence[tuple[Path, Path | None]]) -> dict[Path, str]:
    """The id of each (file, input folder) when no sidecar or manifest gives one: unique, URL-safe and stable.

    A top-level file keeps its stem (`minutes`); below the input folder the path counts (`2024-01--minutes`).
    Files that would share an id get their extension (`minutes-pdf`, `minutes-docx`), then a hash of their
    path: all of them, so that no id depends on the order files are found in.
    """
    ids = {path: _base_id(path, root) for path, root in files}
    ids = _suffixed(ids, lambda p: _id_part(p.suffix.lower().lstrip(".")) or "none")
    return _suffixed(ids, lambda p: hashlib.sha256(os.fsencode(p)).hexdigest()[:8])


# ----------------------------------------------------------------------------- sidecars and manifests


def _check_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate the known keys of one metadata record; SkipFile names the file and the problem."""
    out = dict(data)
    for key in META_FIELDS:
        value = out.get(key)
        if value is not None and not isinstance(value, str | int | float):
            raise SkipFile(f"{where}: '{key}' must be a string, got {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            out[key] = None
    if out.get("doc_id") is not None and (problem := unsafe_doc_id(str(out["doc_id"]), where)):
        raise SkipFile(problem)
    if out.get("access") is not None:
        try:
            out["access"] = check_access(out["access"], where)
        except ValueError as exc:
            raise SkipFile(str(exc)) from exc
    raw_date = out.get("date")
    if raw_date is not None:
        iso = iso_date(raw_date)
        if iso is None:
            raise SkipFile(f"{where}: date {raw_date!r} is not a parseable date")
        out["date"] = iso
    return out


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The `<stem>.json` beside `path`, validated; None if there is none."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SkipFile(f"sidecar {sidecar.name}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SkipFile(f"sidecar {sidecar.name}: expected a JSON object, got {type(data).__name__}")
    return _check_fields(data, f"sidecar {sidecar.name}")


@lru_cache(maxsize=256)
def _load_manifest(path: Path, mtime: float) -> dict[str, dict[str, Any]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SkipFile(f"{path.name} line {n}: invalid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise SkipFile(f"{path.name} line {n}: expected a JSON object")
            rows.append((f"{path.name} line {n}", row))
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), 2):
                rows.append((f"{path.name} line {n}", {k.strip(): v for k, v in row.items() if k}))
    index: dict[str, dict[str, Any]] = {}
    for where, row in rows:
        row = {**row, "_where": where}
        for key in ("file", "filename", "path"):
            if row.get(key):
                index.setdefault(f"file:{Path(str(row[key])).name}", row)
        if row.get("doc_id"):
            index.setdefault(f"id:{row['doc_id']}", row)
    return index


def read_manifest_row(path: Path) -> dict[str, Any] | None:
    """The row for `path` in a manifest.jsonl / manifest.csv in its folder, validated; None if none."""
    for name in MANIFEST_NAMES:
        manifest = path.parent / name
        if not manifest.is_file():
            continue
        index = _load_manifest(manifest, manifest.stat().st_mtime)
        row = index.get(f"file:{path.name}") or index.get(f"id:{path.stem}")
        if row is not None:
            row = dict(row)
            where = row.pop("_where")
            for key in ("file", "filename", "path"):
                row.pop(key, None)
            return _check_fields(row, where)
    return None


def resolve_metadata(
    path: Path,
    text: str,
    registry: CouncilRegistry | None = None,
    hints: dict[str, str] | None = None,
) -> tuple[DocumentMeta, dict[str, Any]]:
    """Metadata for one document and the registry-independent record it was built from (for hashing).

    Per field: sidecar, then manifest, then inference. A null in the sidecar counts as missing.
    """
    sidecar = read_sidecar(path) or {}
    manifest = read_manifest_row(path) or {}
    inferred: dict[str, Any] | None = None
    record: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in META_FIELDS:
        for source, data in (("sidecar", sidecar), ("manifest", manifest)):
            if data.get(key) is not None:
                record[key], sources[key] = data[key], source
                break
        else:
            if key not in INFERRED_FIELDS:
                continue
            if inferred is None:
                inferred = infer_metadata(text, hints)
            if inferred.get(key) is not None:
                record[key], sources[key] = inferred[key], "inferred"
    if record.get("access") is None:  # the paper's own declaration, else public
        why = declared_restriction(text)
        record["access"], sources["access"] = ("restricted", "text") if why else ("public", "default")
        if why:
            record["access_reason"] = why
    extra = {k: v for k, v in manifest.items() if k not in META_FIELDS}
    extra.update({k: v for k, v in sidecar.items() if k not in META_FIELDS})
    record = {k: (str(v) if v is not None else None) for k, v in record.items()}
    record["extra"] = extra
    record["meta_sources"] = sources

    plain = {k: record.get(k) for k in DOCUMENT_FIELD_NAMES if k not in ("council", "doc_type")}
    meta = DocumentMeta(record.get("doc_id") or path.stem, extra=dict(extra), **plain)
    raw_type = record.get("doc_type")
    meta.doc_type = normalise_doc_type(raw_type)
    if raw_type is not None and raw_type.strip().lower() != meta.doc_type:
        meta.extra["doc_type_raw"] = raw_type
    if record.get("council"):
        meta.council = canonical_council(record["council"], registry)
        meta.extra["council_raw"] = record["council"]  # lets `recanonicalise` re-map it later
    meta.extra["meta_sources"] = sources
    if record.get("access_reason"):
        meta.extra["access_reason"] = record["access_reason"]
    return meta, record


def recanonicalise(meta: DocumentMeta, registry: CouncilRegistry | None = None) -> None:
    """Re-map `meta.council` after more spellings were registered (call once all documents are loaded).

    A document loaded early may have got "Wolverhampton" before "City of Wolverhampton Council" was seen.
    """
    raw = meta.extra.get("council_raw") or meta.council
    if raw:
        meta.council = (registry or CouncilRegistry()).canonical(raw)
