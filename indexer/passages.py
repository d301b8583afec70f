"""The passage store: passages, documents and their metadata in one SQLite file.

SQLite keeps the store on disk and lazy, so a million passages load in no time and cost memory
only for the rows a query touches. Row numbers are the ids the vector and BM25 indexes use.
"""

from __future__ import annotations

import functools
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from common.fields import FACET_FIELDS, FIELDS, FILTER_FIELDS, Field
from indexer.models import Document, DocumentMeta, Passage

# The passage's own columns; the cited, filtered and faceted ones come from the field table.
_OWN_COLS = ("id", "doc_id", "text", "char_start", "char_end", "speakers", "turns", "n_tokens")
_OWN_TYPES = ("TEXT NOT NULL", "TEXT NOT NULL", "TEXT NOT NULL", "INTEGER", "INTEGER", "TEXT", "TEXT", "INTEGER")
_PASSAGE_COLS = _OWN_COLS + tuple(f.name for f in FIELDS)
_JSON_COLS = ("speakers", "turns")


def _sql_type(f: Field) -> str:
    return "INTEGER" if f.type is int else "TEXT"


def _schema() -> str:
    cols = [f"{c} {t}" for c, t in zip(_OWN_COLS, _OWN_TYPES, strict=True)]
    cols += [f"{f.name} {_sql_type(f)}" for f in FIELDS]
    return f"""
CREATE TABLE passages (row INTEGER PRIMARY KEY, {", ".join(cols)});
CREATE TABLE passage_speakers (row INTEGER NOT NULL, speaker TEXT NOT NULL);
CREATE TABLE documents (
  doc_id TEXT PRIMARY KEY, meta TEXT NOT NULL, text TEXT NOT NULL, content_hash TEXT,
  source_path TEXT, n_passages INTEGER, fingerprint TEXT
);
"""


def _indexes() -> str:
    lines = ["CREATE INDEX ix_p_doc ON passages(doc_id);", "CREATE INDEX ix_ps_speaker ON passage_speakers(speaker);"]
    lines += [f"CREATE INDEX ix_p_{f.name} ON passages({f.name});"
              for f in FILTER_FIELDS if f.filter in ("exact", "date")]
    return "\n".join(lines)


_T = TypeVar("_T")


READERS = 4  # connections a read-only store opens at once, shared by the server's worker threads


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a read on one of the store's connections, taken for the call (nested reads reuse it)."""

    @functools.wraps(method)
    def run(self: PassageStore, *args: Any, **kwargs: Any) -> _T:
        if getattr(self._held, "db", None) is not None:  # a read inside a read of this thread
            return method(self, *args, **kwargs)
        conn = self._idle.get()
        self._held.db = conn
        try:
            return method(self, *args, **kwargs)
        finally:
            self._held.db = None
            self._idle.put(conn)

    return run


class PassageStore:
    """Passages, documents and their metadata in one SQLite file; a passage's row is its id in every index.

    Opened read-only (immutable) by default with a few connections that worker threads share, one per
    read; `create` makes a new store to write, and `finish` completes it.
    """

    def __init__(self, path: Path, *, readonly: bool = True) -> None:
        self.path = Path(path)
        # A finished store is never written again (a rebuild writes a new folder), so a reader opens it
        # immutable: no locks or journal checks. Its connections are all opened now, so that they keep
        # reading this build even after the folder is swapped away.
        uri = f"file:{self.path}?mode=ro&immutable=1" if readonly else f"file:{self.path}"
        self._conns = [sqlite3.connect(uri, uri=True, check_same_thread=False)
                       for _ in range(READERS if readonly else 1)]
        for conn in self._conns:
            conn.row_factory = sqlite3.Row
        self._primary = self._conns[0]
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for conn in self._conns:
            self._idle.put(conn)
        self._held = threading.local()

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection of the read this thread is running (the writer's one connection when writing)."""
        return getattr(self._held, "db", None) or self._primary

    # -- writing -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> PassageStore:
        """A new, empty store at `path`, open for writing."""
        store = cls(path, readonly=False)
        store._db.executescript(_schema())
        return store

    def add_document(self, doc: Document, passages: Sequence[Passage], first_row: int, fingerprint: str = "") -> None:
        """Write a document and its passages, numbered from `first_row`; nothing is committed until `finish`.

        The document keeps its metadata, cleaned text, content hash and file fingerprint for the next build.
        """
        meta = doc.meta.to_dict()
        self._db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?)",
            (doc.meta.doc_id, json.dumps(meta, ensure_ascii=False), doc.text, doc.content_hash,
             doc.source_path, len(passages), fingerprint),
        )
        rows = []
        speakers: list[tuple[int, str]] = []
        for i, p in enumerate(passages):
            d = p.to_dict()
            for c in _JSON_COLS:
                d[c] = json.dumps(d[c], ensure_ascii=False)
            rows.append((first_row + i, *(d[c] for c in _PASSAGE_COLS)))
            speakers.extend((first_row + i, s) for s in p.speakers)
        self._db.executemany(f"INSERT INTO passages VALUES ({','.join('?' * (len(_PASSAGE_COLS) + 1))})", rows)
        self._db.executemany("INSERT INTO passage_speakers VALUES (?,?)", speakers)

    def finish(self) -> None:
        """Create the lookup indexes, commit, compact the file and close it: the store is complete."""
        self._db.executescript(_indexes())
        self._db.commit()
        self._db.execute("VACUUM")
        self._db.close()

    def close(self) -> None:
        """Close every connection without committing."""
        for conn in self._conns:
            conn.close()

    # -- reading -------------------------------------------------------------------------------
    @_locked
    def missing_columns(self) -> list[str]:
        """Columns the field table declares that this store lacks (it was built before they were added)."""
        have = {r[1] for r in self._db.execute("PRAGMA table_info(passages)")}
        return [c for c in _PASSAGE_COLS if c not in have]

    @_locked
    def count(self) -> int:
        """Number of passages."""
        return int(self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    @_locked
    def get(self, rows: Sequence[int]) -> list[Passage]:
        """Passages for the given rows, in the given order."""
        wanted = [int(r) for r in rows]
        if not wanted:
            return []
        found: dict[int, Passage] = {}
        for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
            part = wanted[start:start + 900]
            q = f"SELECT * FROM passages WHERE row IN ({','.join('?' * len(part))})"
            for r in self._db.execute(q, part):
                found[r["row"]] = _row_to_passage(r)
        return [found[r] for r in wanted if r in found]

    @_locked
    def rows_matching(self, filters: dict[str, Any]) -> np.ndarray | None:
        """Rows that pass the filters, or None when no filter is set (everything passes).

        `filters` holds canonical values by filter name (`council`, `date_from`, `speaker` ...).
        """
        where, args = [], []
        for f in FILTER_FIELDS:
            for name in f.filter_names:
                value = filters.get(name)
                if not value:
                    continue
                if f.filter == "speaker":
                    where.append(f"p.row IN (SELECT row FROM passage_speakers WHERE {f.name} = ?)")
                elif f.filter == "date":
                    where.append(f"p.{f.name} {'>=' if name.endswith('_from') else '<='} ?")
                elif f.filter == "since":
                    where.append(f"p.{f.name} > ?")
                else:
                    where.append(f"p.{f.name} = ?")
                args.append(str(value))
        if not where:
            return None
        q = f"SELECT p.row FROM passages p WHERE {' AND '.join(where)}"
        return np.fromiter((r[0] for r in self._db.execute(q, args)), dtype=np.int64)

    @_locked
    def restricted_rows(self) -> np.ndarray:
        """Rows of passages from restricted papers (`access` = restricted), ascending."""
        q = "SELECT row FROM passages WHERE access = 'restricted' ORDER BY row"
        return np.fromiter((r[0] for r in self._db.execute(q)), dtype=np.int64)

    @_locked
    def facets(self, public_only: bool = False) -> dict[str, Any]:
        """What the filters can choose from: each facet's values, counts, date ranges and totals.

        Values come most frequent first, with their passage and document counts (speakers: the passages
        of any of their turns, no document count); each date field gives its min and max. `public_only`
        counts public papers alone, exactly as an index built without the restricted ones would.
        """
        only = " AND access IS NOT 'restricted'" if public_only else ""
        of_public = (" AND row IN (SELECT row FROM passages WHERE access IS NOT 'restricted')"
                     if public_only else "")

        def counts(col: str, table: str = "passages") -> list[dict[str, Any]]:
            cond = only if table == "passages" else of_public
            q = (f"SELECT {col}, COUNT(*) FROM {table} WHERE {col} IS NOT NULL{cond} GROUP BY {col} "
                 "ORDER BY 2 DESC, 1")
            return [{"value": v, "count": int(n)} for v, n in self._db.execute(q)]

        def doc_counts(col: str) -> dict[str, int]:
            q = (f"SELECT {col}, COUNT(DISTINCT doc_id) FROM passages WHERE {col} IS NOT NULL{only} "
                 f"GROUP BY {col}")
            return {v: int(n) for v, n in self._db.execute(q)}

        out: dict[str, Any] = {}
        for f in FACET_FIELDS:
            if f.filter == "speaker":  # every speaker of every turn, not only a passage's first
                out[str(f.facet)] = counts(f.name, "passage_speakers")
                continue
            docs = doc_counts(f.name)
            out[str(f.facet)] = [{**c, "documents": docs.get(c["value"], 0)} for c in counts(f.name)]
        for f in FILTER_FIELDS:
            if f.filter == "date":
                lo, hi = self._db.execute(f"SELECT MIN({f.name}), MAX({f.name}) FROM passages WHERE 1{only}"
                                          ).fetchone()
                out[f"{f.name}_min"], out[f"{f.name}_max"] = lo, hi
        out["documents"] = int(self._db.execute(f"SELECT COUNT(*) FROM documents WHERE 1{_DOC_ONLY[public_only]}"
                                                ).fetchone()[0])
        out["passages"] = int(self._db.execute(f"SELECT COUNT(*) FROM passages WHERE 1{only}").fetchone()[0])
        return out

    @_locked
    def documents(self, limit: int = 50, offset: int = 0, public_only: bool = False
                  ) -> tuple[int, list[dict[str, Any]]]:
        """The number of documents and one page of them (by document id): metadata, passage and character
        counts. `public_only` leaves out restricted papers."""
        only = _DOC_ONLY[public_only]
        total = int(self._db.execute(f"SELECT COUNT(*) FROM documents WHERE 1{only}").fetchone()[0])
        q = f"SELECT meta, n_passages, length(text) FROM documents WHERE 1{only} ORDER BY doc_id LIMIT ? OFFSET ?"
        docs = [
            {**json.loads(m), "n_passages": int(n), "n_chars": int(c)}
            for m, n, c in self._db.execute(q, (limit, offset))
        ]
        return total, docs

    @_locked
    def all_metadata(self, public_only: bool = False) -> list[DocumentMeta]:
        """Every document's metadata, by document id: what meetings are grouped from."""
        return [DocumentMeta.from_dict(json.loads(m)) for (m,) in
                self._db.execute(f"SELECT meta FROM documents WHERE 1{_DOC_ONLY[public_only]} ORDER BY doc_id")]

    @_locked
    def passages_of(self, doc_ids: Sequence[str]) -> list[Passage]:
        """Every passage of these documents, document by document in reading order."""
        out: list[Passage] = []
        for doc_id in doc_ids:
            rows = self._db.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY row", (doc_id,))
            out.extend(_row_to_passage(r) for r in rows)
        return out

    @_locked
    def document(self, doc_id: str) -> tuple[DocumentMeta, str] | None:
        """The metadata and cleaned full text of one document, or None when there is no such document."""
        r = self._db.execute("SELECT meta, text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if r is None:
            return None
        return DocumentMeta.from_dict(json.loads(r[0])), r[1]

    @_locked
    def text_span(self, doc_id: str, start: int, end: int) -> str:
        """Characters start..end of a document's cleaned text ('' for an unknown document), read in SQL."""
        r = self._db.execute("SELECT substr(text, ?, ?) FROM documents WHERE doc_id = ?",
                             (start + 1, max(0, end - start), doc_id)).fetchone()
        return r[0] if r and r[0] else ""

    @_locked
    def decisions_of(self, doc_id: str) -> list[Passage]:
        """The decision passages of a document, in reading order."""
        rows = self._db.execute("SELECT * FROM passages WHERE doc_id = ? AND role = 'decision' ORDER BY row", (doc_id,))
        return [_row_to_passage(r) for r in rows]

    @_locked
    def rows_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The rows of these documents' passages, ascending."""
        rows: list[int] = []
        for start in range(0, len(doc_ids), 900):  # SQLite's bound-parameter limit
            part = list(doc_ids[start:start + 900])
            q = f"SELECT row FROM passages WHERE doc_id IN ({','.join('?' * len(part))})"
            rows.extend(r[0] for r in self._db.execute(q, part))
        return np.unique(np.asarray(rows, dtype=np.int64))

    @_locked
    def document_hashes(self) -> dict[str, str]:
        """Document id -> content hash, for every stored document."""
        return {d: h for d, h in self._db.execute("SELECT doc_id, content_hash FROM documents")}

    @_locked
    def document_paths(self) -> dict[str, str]:
        """Document id -> the path of the file it was read from, for every stored document."""
        return {d: p or "" for d, p in self._db.execute("SELECT doc_id, source_path FROM documents")}

    @_locked
    def fingerprints(self) -> dict[str, str]:
        """File fingerprint -> document id, for skipping unchanged files without parsing them."""
        q = "SELECT fingerprint, doc_id FROM documents WHERE fingerprint IS NOT NULL AND fingerprint != ''"
        return {f: d for f, d in self._db.execute(q)}

    @_locked
    def document_record(self, doc_id: str) -> tuple[Document, list[Passage]] | None:
        """A stored document with its passages, reused as-is when its file has not changed."""
        r = self._db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if r is None:
            return None
        doc = Document(DocumentMeta.from_dict(json.loads(r["meta"])), r["text"], [], r["source_path"],
                       r["content_hash"])
        rows = self._db.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY row", (doc_id,))
        return doc, [_row_to_passage(p) for p in rows]


# The documents table keeps metadata as JSON: a restricted paper is one whose `access` says so.
_DOC_ONLY = {False: "", True: " AND json_extract(meta, '$.access') IS NOT 'restricted'"}


def _row_to_passage(r: sqlite3.Row) -> Passage:
    present = r.keys()
    d = {c: r[c] for c in _PASSAGE_COLS if c in present}  # a store older than a new field lacks its column
    for c in _JSON_COLS:
        d[c] = json.loads(d[c] or "[]")
    return Passage(**d, row=int(r["row"]))
