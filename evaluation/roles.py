"""Passage roles and votes against the hand-labelled sample in `eval/roles.jsonl`.

    python -m evaluation.roles [--sample eval/roles.jsonl] [--json] [--errors]

Each labelled unit is one paragraph or speaker turn of a real paper, named by its file and character
span: the seeds (read from `corpus/`) and three other bodies' papers in `../shared/corpora` (units
whose file is absent are skipped and counted). The paper is loaded as the indexer loads it, roles are
assigned to every segment, and the segment at the labelled span is compared with the label. It
prints precision, recall and F1 per role and, for every unit labelled with a vote, whether the vote
parsed from the unit's text equals the label.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.meetings import ROLES, parse_vote, read_paper

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "eval" / "roles.jsonl"
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Unit:
    """One labelled paragraph or turn."""

    n: int
    body: str
    path: str  # "seeds/<file>" (read from corpus/) or a path under ../shared
    char_start: int
    char_end: int
    role: str
    vote: dict[str, Any] | None


def load_sample(path: Path = SAMPLE) -> list[Unit]:
    """The labelled units; an unknown role is refused with its line number."""
    units = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        if d["role"] not in ROLES:
            raise ValueError(f"{path}:{i}: role {d['role']!r} is not one of {', '.join(ROLES)}")
        units.append(Unit(int(d["n"]), d["body"], d["path"], int(d["char_start"]), int(d["char_end"]), d["role"],
                          d.get("vote")))
    return units


def source_file(unit: Unit) -> Path:
    """Where the unit's paper is: the seeds ship in corpus/, the rest are read from ../shared."""
    if unit.path.startswith("seeds/"):
        return ROOT / "corpus" / Path(unit.path).name
    return SHARED / unit.path


@lru_cache(maxsize=64)
def _document(path: Path) -> Any:
    return read_paper(path)


def segment_at(doc: Any, start: int, end: int) -> Any:
    """The segment with exactly the labelled span, else the one holding its start."""
    for s in doc.segments:
        if (s.start, s.end) == (start, end):
            return s
    return next(s for s in doc.segments if s.start <= start < s.end)


@dataclass(frozen=True)
class Scored:
    """A unit with what the indexer made of it."""

    unit: Unit
    predicted: str
    vote: dict[str, Any] | None
    text: str


def score(units: Sequence[Unit]) -> tuple[list[Scored], list[Unit]]:
    """Each unit whose paper is here, classified; and the units skipped for want of their paper."""
    scored, missing = [], []
    for u in units:
        path = source_file(u)
        if not path.is_file():
            missing.append(u)
            continue
        doc = _document(path)
        seg = segment_at(doc, u.char_start, u.char_end)
        text = doc.text[seg.start:seg.end]
        vote = parse_vote(text)
        scored.append(Scored(u, seg.role or "discussion", vote.to_dict() if vote else None, text))
    return scored, missing


def per_role(scored: Sequence[Scored]) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support of each role."""
    out: dict[str, dict[str, float | int]] = {}
    for role in ROLES:
        tp = sum(1 for s in scored if s.predicted == role and s.unit.role == role)
        predicted = sum(1 for s in scored if s.predicted == role)
        support = sum(1 for s in scored if s.unit.role == role)
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        out[role] = {"precision": round(p, 3), "recall": round(r, 3),
                     "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0, "support": support, "predicted": predicted}
    return out


def vote_results(scored: Sequence[Scored]) -> tuple[int, list[Scored]]:
    """How many labelled votes there are, and those parsed differently from the label."""
    labelled = [s for s in scored if s.unit.vote]
    return len(labelled), [s for s in labelled if s.vote != _normal(s.unit.vote)]


def _normal(vote: dict[str, Any] | None) -> dict[str, Any] | None:
    if not vote:
        return None
    keys = ("for", "against", "abstained", "absent", "unanimous", "outcome")
    return {k: vote.get(k, False if k == "unanimous" else None) for k in keys}


def report(scored: Sequence[Scored], missing: Sequence[Unit]) -> dict[str, Any]:
    """Everything the command prints, as data."""
    n_votes, wrong_votes = vote_results(scored)
    return {
        "units": len(scored), "skipped_missing_paper": len(missing),
        "bodies": dict(Counter(s.unit.body for s in scored)),
        "accuracy": round(sum(s.predicted == s.unit.role for s in scored) / len(scored), 3) if scored else 0.0,
        "roles": per_role(scored),
        "votes": {"labelled": n_votes, "parsed_right": n_votes - len(wrong_votes),
                  "wrong": [s.unit.n for s in wrong_votes]},
    }


def _print(rep: dict[str, Any], scored: Sequence[Scored], errors: bool) -> None:
    print(f"{rep['units']} labelled units ({', '.join(f'{k} {v}' for k, v in rep['bodies'].items())}); "
          f"{rep['skipped_missing_paper']} skipped (paper not here); accuracy {rep['accuracy']:.3f}")
    print(f"{'role':16}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}{'predicted':>11}")
    for role, m in rep["roles"].items():
        print(f"{role:16}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>9}{m['predicted']:>11}")
    v = rep["votes"]
    print(f"votes: {v['parsed_right']}/{v['labelled']} parsed right" + (f"; wrong: {v['wrong']}" if v["wrong"] else ""))
    if errors:
        for s in scored:
            if s.predicted != s.unit.role or (s.unit.vote and s.vote != _normal(s.unit.vote)):
                print(f"\n#{s.unit.n} {s.unit.path} labelled {s.unit.role}, got {s.predicted}; "
                      f"vote {s.unit.vote} got {s.vote}\n  {' '.join(s.text.split())[:300]}")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line."""
    ap = argparse.ArgumentParser(prog="python -m evaluation.roles", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=Path, default=SAMPLE, help="labelled units (JSON lines)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--errors", action="store_true", help="also print every unit the indexer got wrong")
    args = ap.parse_args(argv)
    scored, missing = score(load_sample(args.sample))
    rep = report(scored, missing)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        _print(rep, scored, args.errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
