"""Milvus filter expressions built from typed values, never by pasting user text into them.

Every value reaches an expression through `literal`: a string becomes a JSON string literal (quotes,
backslashes and control characters escaped; Milvus's parser reads JSON escapes), an integer its
decimal digits. Field names come only from the declared field table (common/fields.py), never from
a request. milvus-lite does not take `filter_params` templates, so escaping is done here, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from common.fields import FILTER_FIELDS

ID_CHUNK = 10_000  # ids per `row in [...]` expression
Hits = tuple[np.ndarray, np.ndarray]  # scores and rows, shape (queries, k); missing hits are row -1


def literal(value: Any) -> str:
    """`value` as a Milvus literal: a JSON string for text, digits for an integer; TypeError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise TypeError(f"a filter value must be text or an integer, not {type(value).__name__}")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(int(value))


def ids_in(field: str, ids: Iterable[int]) -> str:
    """`field in [1,2,3]` for integer ids."""
    return f"{field} in [{','.join(str(int(i)) for i in ids)}]"


def strings_in(field: str, values: Iterable[str]) -> str:
    """`field in ["a","b"]` for text values."""
    return f"{field} in [{','.join(literal(v) for v in values)}]"


class RowSet(np.ndarray):
    """Rows that pass a filter, carrying the Milvus expression that selects them: a search sends the
    expression instead of the ids (an array operation on it gives a plain array again, searched by ids)."""

    expr: str | None = None

    def __array_finalize__(self, obj: object) -> None:
        self.expr = None  # slices and results of numpy operations are not the filter's rows


def with_expression(rows: np.ndarray, expr: str) -> RowSet:
    """`rows` as a RowSet selected by `expr`."""
    out = np.asarray(rows, dtype=np.int64).view(RowSet)
    out.expr = expr
    return out


def filters_expression(filters: Mapping[str, Any]) -> str | None:
    """The expression of canonical search filters (`council`, `date_from`, `speaker`, `since` ...), None when no
    filter is set. Mirrors `PassageStore.rows_matching`: exact values, date ranges, any speaker turn."""
    parts: list[str] = []
    for f in FILTER_FIELDS:
        for name in f.filter_names:
            value = filters.get(name)
            if not value:
                continue
            value = str(value)
            if f.filter == "speaker":
                parts.append(f"array_contains(speakers, {literal(value)})")
            elif f.filter == "date":
                parts.append(f"{f.name} {'>=' if name.endswith('_from') else '<='} {literal(value)}")
            elif f.filter == "since":
                parts.append(f"{f.name} > {literal(value)}")
            else:
                parts.append(f"{f.name} == {literal(value)}")
    return " and ".join(f"({p})" for p in parts) if parts else None


def no_hits(nq: int, k: int) -> Hits:
    """No hit for any of `nq` queries: zero scores, rows -1."""
    return np.zeros((nq, k), np.float32), np.full((nq, k), -1, np.int64)


def search_within(run: Callable[[str | None, int], Hits], nq: int, k: int, size: int,
                  allowed: np.ndarray | None, field: str = "row") -> Hits:
    """`run(expression, k)`'s best `k` per query, restricted to `allowed` rows: by the filter's own expression
    when they carry one (`RowSet`), else as `<field> in [...]` in pieces of `ID_CHUNK` rows whose top-k are merged
    (or as the excluded rows when nearly all are allowed)."""
    if size == 0 or nq == 0:
        return no_hits(nq, k)
    if allowed is None:
        return run(None, k)
    expr = getattr(allowed, "expr", None)
    if expr is not None:  # the filter's own expression selects exactly these rows
        return run(expr, k) if len(allowed) else no_hits(nq, k)
    allowed = np.unique(np.asarray(allowed, dtype=np.int64))
    allowed = allowed[(allowed >= 0) & (allowed < size)]
    if len(allowed) == 0:
        return no_hits(nq, k)
    if len(allowed) == size:
        return run(None, k)
    if size - len(allowed) <= ID_CHUNK:
        return run(f"not ({ids_in(field, np.setdiff1d(np.arange(size, dtype=np.int64), allowed))})", k)
    parts = [run(ids_in(field, allowed[i:i + ID_CHUNK]), k) for i in range(0, len(allowed), ID_CHUNK)]
    if len(parts) == 1:
        return parts[0]
    scores = np.hstack([p[0] for p in parts])
    rows = np.hstack([p[1] for p in parts])
    scores = np.where(rows < 0, -np.inf, scores)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    scores, rows = np.take_along_axis(scores, top, axis=1), np.take_along_axis(rows, top, axis=1)
    scores[rows < 0] = 0.0
    return scores.astype(np.float32), rows
