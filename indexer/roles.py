"""What each passage of a paper does: a decision, a recommendation, a question, an answer, or discussion.

Officers rarely want "passages about X"; they want what was decided, what a report proposed and what
members said. Each structural segment of a paper is given one role at index time, from its own
words, its document type and its neighbours; a passage takes the role of the segments it holds
(`passage_role`), and a decision's recorded vote is parsed (`parse_vote`).

The rules are about how minutes and reports are written in general (resolutions, motions and their
outcome lines, "is asked to", "asked whether ... replied"), never about one council's papers. They
are measured against a hand-labelled sample of three bodies' papers: `python -m evaluation.roles`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.models import Segment
from indexer.structure import opens_decision

ROLES: tuple[str, ...] = ("decision", "recommendation", "question", "answer", "discussion")
# Part of the build's fingerprint with the hash of this file's source: a rebuild after any change to the
# rules re-derives every passage's role instead of reusing the roles stored by the last build.
ROLES_VERSION = f"2-{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]}"

_BODY = (r"(?:the\s+)?(?:(?:parish|town|city|district|county|borough|full)\s+)?(?:council|committee|"
         r"sub-committee|board|panel|cabinet|meeting|members|councillors|executive|forum|group|"
         r"commission|authority|assembly)")
_ACT = r"(?:resolved|agreed|decided|approved|adopted|endorsed|voted|accepted|ratified|determined)"
# "It was agreed ...", "Members unanimously resolved ...", "the Committee approved ...", "agreed to write",
# "the minutes were agreed as a true record", "Proposed by X, seconded by Y", "All in favour".
_PROSE_DECISION_RE = re.compile(
    "|".join((
        rf"\b(?:it\s+was|{_BODY})\s+(?:then\s+|therefore\s+|also\s+)?(?:(?:unanimously|duly|formally)\s+)?{_ACT}\b",
        r"(?:^|[.;:!?\-–]\s*|\ball\s+|\bunanimously\s+)(?:agreed|resolved|decided)\s+(?:to|that|unanimously)\b"
        r"|\bagreed\s+(?:£|\$)",
        r"\b(?:was|were)\s+(?:then\s+|duly\s+|unanimously\s+)?(?:agreed|approved|adopted|accepted|ratified|"
        r"carried)(?:\s+(?:as|for|by|unanimously|and)\b|\s*[.;,]|\s*$)",
        r"\ball\s+(?:were\s+|members\s+)?in\s+favou?r\b|\ball\s+agreed\b"
        r"|\b(?:motion|amendment|proposal)\s+(?:was\s+)?(?:carried|lost|defeated|passed|failed)",
        r"\bprop(?:osed|\.)\s.{0,120}?\b(?:seconded|2nd)\b",
        r"\b(?:was|were)\s+(?:duly\s+|unanimously\s+)?(?:elected|re-elected|appointed|co-opted)\b",
        # a parish or town council's own answer to a planning consultation
        r"\brecommend(?:ed|s)?\s+(?:for\s+)?(?:approval|refusal)\b|\b(?:raised\s+)?no\s+objections?\s+(?:to|was|were)\b",
    )),
    re.IGNORECASE,
)
# What a chair says when the meeting decides: "all in favour", "the motion is carried", "that's agreed".
_SPOKEN_DECISION_RE = re.compile(
    r"\b(?:motion|amendment|recommendations?|resolution)\s+(?:is\s+|are\s+|was\s+|were\s+|has\s+been\s+)?"
    r"(?:carried|passed|approved|agreed|adopted|defeated|lost|fails|failed)\b|\ball\s+(?:those\s+)?in\s+favou?r\b"
    r"|(?:^|[.!?]\s+)(?:so\s+|okay,?\s+)?that(?:'s|\s+is)\s+(?:agreed|carried|approved)\b|\bunanimous(?:ly)?\b"
    r"|\bproposer\b[^.?]{0,80}\bseconder\b|\bso\s+moved\b|\bmotion\s+(?:by|carries|passes)\b",
    re.IGNORECASE,
)
# An outcome line: "Motion Passed (4 to 0)", "CARRIED", "Motion Failed", "The motion was lost".
_OUTCOME_RE = re.compile(
    r"^\W*(?:the\s+)?(?:(?:motion|amendment|recommendation|resolution|substantive\s+motion)s?\s+(?:was\s+|is\s+)?"
    r"(?:passed|carried|adopted|failed|lost|defeated|approved)|carried|lost|defeated|passed)\b", re.IGNORECASE,
)
_VOTE_HEAD_RE = re.compile(r"^\W*(?:vote|votes|recorded vote|voting)\s*:|^\W*\|?\s*(?:yeas|ayes)\s*:", re.I)
# Parliamentary procedure lines: "[Question put and agreed to.]", "[Question accordingly negatived.]", "[The
# Committee divided: Ayes 5, Noes 11.]". Each records a decision, but does not close a motion block
# (`_motion_end`): between a "Moved by" and its division lie the debate's speeches, not the motion's points.
_PROCEDURE_RE = re.compile(
    r"^\W*(?:question\s+(?:put\s+and\s+)?(?:accordingly\s+)?(?:agreed\s+to|negatived)\b"
    r"|(?:the\s+(?:house|committee|council|assembly|chamber|senate)\s+divided|division)\s*:)", re.IGNORECASE)
_QUESTION_PUT_RE = re.compile(r"^\W*question\s+put,?\s+that\b", re.IGNORECASE)  # the motion, as the chair puts it
_MOVED_RE = re.compile(r"^\W*(?:motion\s+)?(?:moved|made|proposed|seconded)\s+by\b|^\W*motion made by\b", re.I)
# A motion's wording: "That the report be noted", "That it BE NOTED ...", "That Council rise and go ..."
_MOTION_RE = re.compile(r"^\W*(?:\d+[.)]\s*|[a-z][.)]\s*|[ivx]+[.)]\s*)?that\b", re.IGNORECASE)
_SUBJUNCTIVE_RE = re.compile(r"\bbe\s+(?:[A-Za-z]+ed|[A-Za-z]+en|made|held|sent|set|put|given|taken|"
                             r"paid|built|granted|kept|done|written|undertaken|brought|sought)\b", re.IGNORECASE)
_LIST_POINT_RE = re.compile(r"^\W*(?:\(?[a-z]{1,2}\)|\(?[ivx]+\)|\d+[.)]|[•·–-])\s")
_RECOMMEND_RE = re.compile(
    r"\b(?:is|are)\s+(?:therefore\s+)?(?:asked|invited|recommended|requested|requested)\s+to\b|\bit\s+is\s+"
    r"(?:therefore\s+)?recommended\b|\b(?:officers?|we|the\s+director|the\s+report)\s+recommends?\s+that\b"
    r"|^\W*recommendations?\s*[:\-–]|^\W*recommended\s*[:\-–]|\brecommended\s+that\b",
    re.IGNORECASE,
)
_RECOMMEND_HEAD_RE = re.compile(r"^\W*(?:\d+[.)]?\s*)?(?:recommendations?|recommended|decisions?\s+required|"
                                r"action\s+required|proposals?)\b\W*$", re.IGNORECASE)
_QUESTION_RE = re.compile(
    r"^\W*(?:q\d*|question(?:\s+\d+)?)\s*[:.\-–]|\b(?:asked|enquired|inquired|queried|questioned|wondered)"
    r"\b(?:\s+\w+){0,4}?\s+(?:whether|if|what|how|why|when|where|who|which|about|for|regarding|a\s+question)\b"
    r"|\basked\s+(?:a\s+)?question|\braised\s+(?:a\s+)?(?:question|query|concern)s?\b",
    re.IGNORECASE,
)
_ANSWER_RE = re.compile(
    r"^\W*(?:a\d*|answer|response|reply)\s*[:.\-–]|\b(?:in\s+(?:response|reply)|responded|replied|answered)\b"
    r"|\b(?:response|reply)\s+(?:was|from)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_TRANSCRIPT_TYPES = ("transcript",)
_PROPOSAL_TYPES = ("report", "agenda")


@dataclass(frozen=True)
class Vote:
    """A recorded vote: counts where stated, whether it was unanimous, and whether it was carried or lost."""

    for_: int | None = None
    against: int | None = None
    abstained: int | None = None
    absent: int | None = None
    unanimous: bool = False
    outcome: str | None = None  # "carried" | "lost"

    def to_dict(self) -> dict[str, int | bool | str | None]:
        """The JSON shape of the API and the labelled sample."""
        return {"for": self.for_, "against": self.against, "abstained": self.abstained, "absent": self.absent,
                "unanimous": self.unanimous, "outcome": self.outcome}

    def text(self) -> str:
        """What a person reads: "carried, 11 for, 2 against, 2 absent" or "carried unanimously"."""
        parts = [self.outcome or "recorded"]
        if self.unanimous and not self.against:
            parts[0] += " unanimously"
        for n, what in ((self.for_, "for"), (self.against, "against"), (self.abstained, "abstained"),
                        (self.absent, "absent")):
            if n is not None:
                parts.append(f"{n} {what}")
        return ", ".join(parts)


_TABLE_HEAD_RE = re.compile(r"^\W*\|?\s*((?:yeas|ayes|nays|noes|absent|abstain\w*|for|against)\s*:?\s*\|.*)$",
                            re.I | re.M)
_COLUMN_NAMES = {"yeas": "for", "ayes": "for", "for": "for", "nays": "against", "noes": "against",
                 "against": "against", "absent": "absent", "content": "for", "contents": "for",
                 "not-content": "against", "not-contents": "against"}
_INLINE_COUNT_RE = re.compile(
    r"\b(yeas|ayes|nays|noes|for|against|abstentions?|abstained|absent)\s*:\s*\(?(\d+)\)?"
    # a division's "Ayes 5, Noes 11" (the Lords': "Content 56, Not-content 74")
    r"|\b(ayes|noes|yeas|nays|not-contents?|contents?)\s+(\d+)\b", re.IGNORECASE)
_BY_RE = re.compile(r"\((\d+)\s+(?:to|-|–)\s+(\d+)\)|\b(\d+)\s+(?:votes?\s+)?(?:to|-|–)\s+(\d+)\b")
_PROSE_COUNT_RE = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:members?\s+|councillors?\s+)?"
    r"(?:were\s+|voted\s+)?(in\s+favou?r|votes?\s+for|against|abstentions?|abstained|absent)\b", re.IGNORECASE)
_NAMED_ABSTAINED_RE = re.compile(r"\b[A-Z][A-Za-z.]{0,20}\s+abstained\b|\(\s*[A-Z]{1,4}\s+abstained\s*\)")
_TALLY_RE = re.compile(r"^\W*[^\n():|]{2,80}\((\d+|none|no)(?:\s+votes?)?\)\s*:", re.IGNORECASE)
_ROLL_NAME = r"\b(?:Mr|Ms|Mrs|Miss|Dr|Cllr|Councillor|Commissioner|Alderman)\.?\s+[A-Z][\w'’-]+[.?,]\s+"
_ROLL_YES_RE = re.compile(_ROLL_NAME + r"(?:yes|aye)\b", re.IGNORECASE)
_ROLL_NO_RE = re.compile(_ROLL_NAME + r"(?:no|nay)\b", re.IGNORECASE)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10}
_CARRIED_RE = re.compile(r"\b(?:passed|passes|carried|carries|adopted|approved|agreed|accepted)\b", re.I)
_LOST_RE = re.compile(r"\b(?:failed|fails|lost|defeated|rejected|fell|negatived)\b", re.I)
# "All in favour." records a unanimous vote; a chair's "all in favor, say aye" only calls one.
_UNANIMOUS_RE = re.compile(r"\bunanimous(?:ly)?\b|\ball\s+were\s+in\s+favou?r\b|\ball\s+(?:members\s+)?in\s+favou?r\b"
                           r"(?!,?\s+(?:of|for|say|please|signify|raise|to)\b)"
                           r"|\ball\s+agreed\b"
                           r"|\bnem\.?\s*con\b", re.I)


def _table_counts(text: str) -> dict[str, int]:
    """Names counted per column of a "|Yeas:|Nays:|Absent:|" vote table."""
    m = _TABLE_HEAD_RE.search(text)
    if not m:
        return {}
    heads = [h.strip().rstrip(":").lower() for h in m.group(1).strip().strip("|").split("|")]
    keys = [_COLUMN_NAMES.get(h, "abstained" if h.startswith("abstain") else "") for h in heads]
    counts = {k: 0 for k in keys if k}
    for line in text[m.end():].split("\n"):
        cells = line.strip().lstrip(">").strip()
        if not cells.startswith("|"):
            if cells:
                break
            continue
        values = [c.strip() for c in cells.removeprefix("|").removesuffix("|").split("|")]
        if all(set(v) <= set("-: ") for v in values):
            continue  # the |-|-| rule under the header
        for key, value in zip(keys, values, strict=False):
            if key and value:
                counts[key] += 1
    return counts


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _first_record(text: str) -> str:
    """The text of the first vote a paragraph records. Parish minutes run motion after motion in one
    paragraph ("…, all were in favour. … five were in favour, one abstained."): counting them together
    would make one vote of several. Tables and "Yeas: (4)" lists are one vote's lines, kept whole."""
    if _TABLE_HEAD_RE.search(text) or _INLINE_COUNT_RE.search(text):
        return text
    ends = [m.start() for m in _SENTENCE_END_RE.finditer(text)] + [len(text)]
    start, runs, previous_marked = 0, 0, False
    for end in ends:
        sentence = text[start:end]
        marked = bool(_UNANIMOUS_RE.search(sentence) or _PROSE_COUNT_RE.search(sentence))
        if marked and not previous_marked:
            runs += 1
            if runs == 2:
                return text[:start].rstrip()
        previous_marked = marked
        start = end
    return text


def parse_vote(text: str) -> Vote | None:
    """The vote a passage records, or None: tables of names, "Yeas: (4)", "(11 to 2)", "4 in favour, 2 against".
    Where a paragraph records several, the first."""
    text = _first_record(text)
    counts: dict[str, int] = dict(_table_counts(text))
    for m in _INLINE_COUNT_RE.finditer(text):
        key = (m.group(1) or m.group(3)).lower()
        key = _COLUMN_NAMES.get(key, "abstained" if key.startswith("abst") else key)
        counts.setdefault(key, int(m.group(2) or m.group(4)))
    for m in _PROSE_COUNT_RE.finditer(text):
        what = m.group(2).lower()
        key = "for" if what.startswith(("in", "vote")) else _COLUMN_NAMES.get(what, "abstained")
        if what.startswith("abst"):
            key = "abstained"
        counts.setdefault(key, _number(m.group(1)))
    if "abstained" not in counts:
        named = _NAMED_ABSTAINED_RE.findall(text)
        if named:
            counts["abstained"] = len(named)
    tally = _TALLY_RE.match(text)
    if tally and "for" not in counts:  # "Marsha Lemon (2 votes): C. Rahman, P. Cuddy": a ballot's count
        counts["for"] = 0 if tally.group(1).lower() in ("none", "no") else int(tally.group(1))
    if "for" not in counts and _vote_context(text):
        yes, no = len(_ROLL_YES_RE.findall(text)), len(_ROLL_NO_RE.findall(text))
        if yes:  # a roll call: "Ms. Owen. Yes. Mr. Norman. Yes."
            counts["for"] = yes
            if no:
                counts["against"] = no
    by = _BY_RE.search(text) if ("for" not in counts and _vote_context(text)) else None
    if by:
        a, b = (int(x) for x in (by.group(1) or by.group(3), by.group(2) or by.group(4)))
        counts.setdefault("for", a)
        counts.setdefault("against", b)
    unanimous = bool(_UNANIMOUS_RE.search(text))
    # Counts decide the outcome when they are the whole vote: both sides given, or a table of every voter.
    complete = "against" in counts or bool(_TABLE_HEAD_RE.search(text))
    outcome = _outcome(text, counts, complete)
    first = _first_line(text)
    if not counts and not unanimous and (outcome is None or not (_OUTCOME_RE.search(first)
                                                                 or _PROCEDURE_RE.match(first) or _vote_context(text))):
        return None  # "lost" or "approved" alone, outside the words of a vote, records none
    return Vote(counts.get("for"), counts.get("against"), counts.get("abstained"), counts.get("absent"),
                unanimous, outcome)


def _vote_context(text: str) -> bool:
    """A bare "11 to 2" is a vote only beside the words of one (not "pages 4 to 6")."""
    return bool(re.search(r"\b(?:motion|vote|voted|carried|passed|failed|lost|favou?r|majority)\b", text, re.I))


def _outcome(text: str, counts: dict[str, int], complete: bool) -> str | None:
    lost, carried = _LOST_RE.search(text), _CARRIED_RE.search(text)
    if lost and (not carried or lost.start() < carried.start()):
        return "lost"
    if carried:
        return "carried"
    if complete and "for" in counts and counts["for"] != counts.get("against", 0):
        return "carried" if counts["for"] > counts.get("against", 0) else "lost"
    return "carried" if _UNANIMOUS_RE.search(text) else None


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END_RE.split(" ".join(text.split())) if s]


def _is_decision_text(text: str, doc_type: str | None) -> bool:
    """A segment whose own words record a decision of the meeting."""
    first = _first_line(text)
    if opens_decision(first) or _OUTCOME_RE.match(first) or _VOTE_HEAD_RE.match(first) or _PROCEDURE_RE.match(first) \
            or _QUESTION_PUT_RE.match(first):
        return True
    if doc_type in _PROPOSAL_TYPES:
        return False  # a report's "the Committee agreed in March ..." is history, not this meeting's decision
    if doc_type in _TRANSCRIPT_TYPES:
        return bool(_SPOKEN_DECISION_RE.search(text))  # "approved by cabinet" in a speech is history too
    return bool(_PROSE_DECISION_RE.search(" ".join(text.split())))


def _is_question(text: str, doc_type: str | None, kind: str) -> bool:
    if _QUESTION_RE.search(text):
        return True
    if kind != "turn" and doc_type not in _TRANSCRIPT_TYPES:
        return False
    sentences = _sentences(text)
    if len(text.split()) < 4 or not sentences:
        return False
    asks = sum(s.rstrip('"”’)').endswith("?") for s in sentences)
    return sentences[-1].rstrip('"”’)').endswith("?") or asks * 3 >= len(sentences)


_REPORTING_RE = re.compile(r"\b(?:said|stated|mentioned|explained|advised|confirmed|informed|assured|clarified|"
                           r"acknowledged|noted|highlighted|added|reported|outlined|agreed)\b", re.IGNORECASE)


def _replied_within(text: str) -> bool:
    """A minute that records a question and, in a later sentence, someone's reply ("... asked X. The
    Director explained that ...")."""
    sentences = _sentences(text)
    asked = next((i for i, s in enumerate(sentences) if _QUESTION_RE.search(s) or s.endswith("?")), None)
    return asked is not None and any(_REPORTING_RE.search(s) for s in sentences[asked + 1:])


def _motion_blocks(texts: Sequence[str], segments: Sequence[Segment]) -> set[int]:
    """Segments of a motion: "Moved by ..." or a "That ..." wording, its points, its vote and outcome line.

    A block opens at a mover line or a motion's wording and runs, within one agenda item, to the
    outcome line or the vote; it counts as a decision only if it reaches one (a motion put to the
    meeting), so a report's "That the Committee approves ..." is not one.
    """
    found: set[int] = set()
    i = 0
    while i < len(segments):
        if not (_MOVED_RE.match(texts[i]) or _MOTION_RE.match(texts[i])):
            i += 1
            continue
        end = _motion_end(texts, segments, i)
        if end is None:
            i += 1
            continue
        found.update(range(i, end + 1))
        i = end + 1
    return found


_MOVER_WORDS = 8  # "Seconded by Cllr A. B. Name": longer lines say more than who moved
_MOTION_SPAN = 80  # segments a motion may run to its vote: its points, sub-items and list of names


def _motion_end(texts: Sequence[str], segments: Sequence[Segment], i: int) -> int | None:
    """The segment that closes the motion opened at `i` (its outcome line, else its vote), or None when
    a Markdown heading or another mover line comes first: then it was never put to the meeting."""
    for j in range(i, min(len(segments), i + _MOTION_SPAN)):
        first = _first_line(texts[j])
        if _OUTCOME_RE.match(first):
            return j
        if _VOTE_HEAD_RE.match(first):
            nxt = j + 1
            return nxt if nxt < len(segments) and _OUTCOME_RE.match(_first_line(texts[nxt])) else j
        if j > i and (first.startswith("#") or (_MOVED_RE.match(first) and not _SECONDED_RE.match(first))):
            return None
    return None


_SECONDED_RE = re.compile(r"^\W*seconded\b", re.IGNORECASE)


def segment_roles(text: str, segments: Sequence[Segment], doc_type: str | None) -> list[str]:
    """One role per segment of a document, in order (see `ROLES`)."""
    texts = [text[s.start:s.end] for s in segments]
    motion = _motion_blocks(texts, segments)
    roles: list[str] = []
    under_recommendation = False
    for i, (seg, t) in enumerate(zip(segments, texts, strict=True)):
        if seg.kind in ("heading", "agenda"):
            under_recommendation = bool(_RECOMMEND_HEAD_RE.match(_first_line(t)))
            roles.append("decision" if _OUTCOME_RE.match(_first_line(t)) else "discussion")
            continue
        roles.append(_role_of(seg, t, doc_type, i in motion, under_recommendation, _last_said(roles, texts)))
    return roles


_HANDOVER_WORDS = 8  # a turn this short ("Cllr Jane Francis - 1:50:32", "Thank you.") hands over, says nothing


def _last_said(roles: Sequence[str], texts: Sequence[str]) -> str | None:
    """The role of the last segment that said something, passing over the chair's short handovers, so a
    reply given after "Thank you, Alison" still follows the question."""
    for role, text in zip(reversed(roles), reversed(texts[:len(roles)]), strict=False):
        if len(text.split()) > _HANDOVER_WORDS:
            return role
    return None


def _role_of(seg: Segment, t: str, doc_type: str | None, in_motion: bool, under_recommendation: bool,
             previous: str | None) -> str:
    if doc_type in _PROPOSAL_TYPES and (under_recommendation or _RECOMMEND_RE.search(t)
                                        or (_MOTION_RE.match(t) and _SUBJUNCTIVE_RE.search(t))):
        return "recommendation"
    if in_motion and _MOVED_RE.match(t) and len(t.split()) <= _MOVER_WORDS:
        return "discussion"  # "Moved by X" alone: who moved it, not what was decided
    if seg.kind == "decision" or in_motion or _is_decision_text(t, doc_type):
        return "decision"
    if (previous == "decision" and doc_type not in _TRANSCRIPT_TYPES and _LIST_POINT_RE.match(t)
            and _SUBJUNCTIVE_RE.search(t)):
        return "decision"  # "g) the communication ... BE REFERRED": a point of the resolution above
    if doc_type not in _TRANSCRIPT_TYPES and _MOTION_RE.match(t) and _SUBJUNCTIVE_RE.search(t):
        return "decision"  # minutes' "That the report be noted." with no RESOLVED above it
    if _RECOMMEND_RE.search(t) or under_recommendation:
        return "recommendation"
    if previous == "question" and seg.kind == "turn" and len(t.split()) >= 8 and not _opens_with_question(t):
        return "answer"  # the turn after a question, by the one who replies
    question, answer = _is_question(t, doc_type, seg.kind), bool(_ANSWER_RE.search(t))
    answer = answer or (question and _replied_within(t))
    if answer:
        return "answer"
    if question:
        return "question"
    return "discussion"


def _opens_with_question(text: str) -> bool:
    sentences = _sentences(text.split("\n", 1)[-1] if "\n" in text else text)
    return bool(sentences) and sentences[0].rstrip('"”’)').endswith("?")


_PRIORITY = {"decision": 0, "recommendation": 1, "answer": 2, "question": 3, "discussion": 4}


def passage_role(roles: Sequence[str], sizes: Sequence[int]) -> str:
    """A passage's role from its segments': a decision or recommendation in it wins (they are what a
    role filter is for); otherwise the role that covers most of its text, a reply before a question."""
    if not roles:
        return "discussion"
    best = min(roles, key=_PRIORITY.__getitem__)
    if best in ("decision", "recommendation"):
        return best
    share: dict[str, int] = {}
    for role, n in zip(roles, sizes, strict=True):
        share[role] = share.get(role, 0) + n
    return max(share, key=lambda r: (share[r] if r != "discussion" else share[r] // 2, -_PRIORITY[r]))


def assign_roles(text: str, segments: Sequence[Segment], doc_type: str | None) -> None:
    """Set each segment's `role` and, for a decision, the `vote` of its motion (the block of decision
    segments in its agenda item that the vote record belongs to)."""
    roles = segment_roles(text, segments, doc_type)
    for seg, role in zip(segments, roles, strict=True):
        seg.role = role
        seg.vote = None
    for block in _decision_blocks(text, segments, roles):
        vote = parse_vote("\n".join(text[s.start:s.end] for s in block))
        for seg in block:
            seg.vote = vote.text() if vote else None


def _decision_blocks(text: str, segments: Sequence[Segment], roles: Sequence[str]) -> list[list[Segment]]:
    """Runs of decision segments, each one motion or resolution: an item title inside a motion does not
    end it, any other segment does, and an outcome line closes it."""
    blocks: list[list[Segment]] = []
    current: list[Segment] = []
    for seg, role in zip(segments, roles, strict=True):
        if role == "decision":
            current.append(seg)
            if _ends_motion(text, seg):
                blocks.append(current)
                current = []
        elif seg.kind not in ("agenda", "heading") and current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _ends_motion(text: str, seg: Segment) -> bool:
    """An outcome line closes its motion: the next decision is another one, with its own vote."""
    first = _first_line(text[seg.start:seg.end])
    return bool(_OUTCOME_RE.match(first) or _PROCEDURE_RE.match(first))




def records_decision(text: str) -> bool:
    """Whether a sentence or line, read alone, records a decision ("RESOLVED:", "1) That the report be
    noted.", "Motion Passed (4 to 0)", "It was agreed to ..."): what an answer quotes as Decided."""
    first = _first_line(text)
    return (_is_decision_text(text, None) or bool(_MOTION_RE.match(first) and _SUBJUNCTIVE_RE.search(text))
            or bool(_LIST_POINT_RE.match(first) and _SUBJUNCTIVE_RE.search(text)))


def records_recommendation(text: str) -> bool:
    """Whether a sentence, read alone, asks the meeting to decide something ("The Committee is asked to ...")."""
    return bool(_RECOMMEND_RE.search(text))


def records_outcome(text: str) -> bool:
    """Whether a line only records a motion's outcome or vote ("Motion Passed (13 to 0)", "Vote: |Yeas:|")."""
    first = _first_line(text)
    return bool(_OUTCOME_RE.match(first) or _VOTE_HEAD_RE.match(first) or _PROCEDURE_RE.match(first))
