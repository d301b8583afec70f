"""Gold questions (eval/gold.jsonl): one JSON object per line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("factual", "paraphrased", "council", "committee", "date", "speaker", "cross_document", "unanswerable")


@dataclass(frozen=True)
class Evidence:
    doc_id: str
    quote: str


@dataclass
class GoldQuestion:
    id: str
    question: str
    kind: str
    answerable: bool
    evidence: list[Evidence] = field(default_factory=list)
    key_facts: list[str] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def item_of(self) -> list[int]:
        """For each evidence entry, the evidence item it belongs to: one item per distinct quote.

        The same words found in several documents (a committee's resolution restated in the council's
        minutes, a paper filed twice) are one item with several places to find it: retrieving any copy
        delivers that evidence, and a ranking is not asked to fill its top five with copies.
        """
        keys: dict[str, int] = {}
        return [keys.setdefault(_quote_key(e.quote), len(keys)) for e in self.evidence]

    @property
    def n_items(self) -> int:
        """How many distinct evidence items the question has (what Recall@k counts)."""
        return len(set(self.item_of))

    @property
    def has_evidence(self) -> bool:
        """Counted in the retrieval metrics: answerable, with at least one evidence quote."""
        return self.answerable and bool(self.evidence)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GoldQuestion:
        return cls(
            id=str(d["id"]), question=str(d["question"]), kind=str(d.get("kind", "factual")),
            answerable=bool(d.get("answerable", True)),
            evidence=[Evidence(str(e["doc_id"]), str(e["quote"])) for e in d.get("evidence") or []],
            key_facts=[str(f) for f in d.get("key_facts") or []],
            filters={k: v for k, v in (d.get("filters") or {}).items() if v},
        )


def _quote_key(quote: str) -> str:
    return "".join(c for c in quote.casefold() if c.isalnum())


class GoldError(ValueError):
    """The gold file is missing or malformed; the message names the line."""


def load_gold(path: Path) -> list[GoldQuestion]:
    if not path.is_file():
        raise GoldError(f"No gold file at {path}")
    out: list[GoldQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = GoldQuestion.from_dict(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise GoldError(f"{path}:{n}: cannot read gold question ({exc})") from exc
        if q.id in seen:
            raise GoldError(f"{path}:{n}: duplicate id {q.id!r}")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise GoldError(f"{path} holds no questions")
    return out
