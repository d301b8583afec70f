"""Milvus filter expressions built from typed values, never by pasting user text into them.

Every value reaches an expression through `literal`: a string becomes a JSON string literal (quotes,
backslashes and control characters escaped; Milvus's parser reads JSON escapes), an integer its
decimal digits. Field names come only from the declared field table (common/fields.py), never from
a request. milvus-lite does not take `filter_params` templates, so escaping is done here, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from common.fields import FILTER_FIELDS

ID_CHUNK = 10_000  # ids per `row in [...]` expression


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
