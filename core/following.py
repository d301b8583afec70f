"""Saved searches and what is new for them after each build ("tell me when this comes up again").

Saved searches live in the service's state file (`state.sqlite` in `Settings.resolved_state_dir`, beside
the API keys, outside the index folder that builds replace), each owned by the key that made it (or
`local`: the CLI, or a service with no keys). `run_alerts` compares the build's documents with those the
state has seen (by content hash): the documents a build added or changed are searched for every saved
search, with its owner's access, and the passages that would let the service answer (evidence at the
abstention threshold, as a timeline counts them) become new results. A passage already alerted for a
search is not alerted again: it is known by its words (case, spacing and punctuation aside), so a
document that changes only trivially alerts nothing, and a rebuild with no change finds no changed
document at all. The first run over an index only records what exists: alerts are for what comes after.

Delivery (Atom feeds, email digests) is the shells' job (service/delivery.py); this module keeps the
pending digests so that a failed delivery is retried later and never lost.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import CoreError
from core.keys import STATE_FILE, KeyStore
from core.results import Query, citation

LOCAL_OWNER = "local"  # the CLI, or callers of a service that has no API keys
MAX_NAME, MAX_QUERY = 200, 1000
_EMAIL_RE = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[A-Za-z]{2,}")
_WORD_RE = re.compile(r"\w+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS saved_searches (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, query TEXT NOT NULL, filters TEXT NOT NULL,
  deliver TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_documents (doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_items (
  search_id TEXT NOT NULL, words_key TEXT NOT NULL, build_id TEXT NOT NULL, created_at REAL NOT NULL,
  passage TEXT NOT NULL, PRIMARY KEY (search_id, words_key)
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, search_id TEXT NOT NULL, build_id TEXT NOT NULL, items TEXT NOT NULL,
  created_at REAL NOT NULL, sent_at REAL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
"""


@dataclass(frozen=True)
class SavedSearch:
    """A question someone follows, and how its new results reach them."""

    id: str
    owner: str
    name: str
    query: str
    filters: dict[str, str]
    deliver: dict[str, Any]
    created_at: float

    def to_dict(self, new_results: int | None = None) -> dict[str, Any]:
        """The API's shape."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "query": self.query, "filters": self.filters,
                               "deliver": self.deliver, "created_at": self.created_at}
        if new_results is not None:
            out["new_results"] = new_results
        return out


@dataclass
class AlertRun:
    """What one run found: documents changed since the last run, and new results per saved search."""

    build_id: str
    changed_documents: int = 0
    first_run: bool = False
    new: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for a person."""
        if self.first_run:
            return f"Alerts: first run, {self.changed_documents} document(s) recorded; new ones will alert."
        found = sum(self.new.values())
        return (f"Alerts: {self.changed_documents} new or changed document(s), {found} new result(s) for "
                f"{sum(1 for n in self.new.values() if n)} saved search(es)")


def words_key(text: str) -> str:
    """A passage known by its words, whatever its case, spacing and punctuation."""
    return hashlib.sha256(" ".join(_WORD_RE.findall(text.casefold())).encode()).hexdigest()[:32]


def check_deliver(deliver: Mapping[str, Any] | None) -> dict[str, Any]:
    """{"email": address} or {"feed": true} (both may be given); CoreError naming the problem otherwise."""
    d = dict(deliver or {"feed": True})
    unknown = sorted(set(d) - {"email", "feed"})
    if unknown:
        raise CoreError("invalid_deliver", f"Unknown delivery {', '.join(unknown)}: use \"email\" or \"feed\".",
                        "invalid", {"unknown": unknown})
    if "email" in d and not (isinstance(d["email"], str) and _EMAIL_RE.fullmatch(d["email"].strip())):
        raise CoreError("invalid_email", f"{d['email']!r} is not an email address (name@example.org).", "invalid")
    if "feed" in d and not isinstance(d["feed"], bool):
        raise CoreError("invalid_deliver", "\"feed\" is true or false.", "invalid")
    if not d.get("email") and not d.get("feed"):
        raise CoreError("invalid_deliver", "Say how new results arrive: {\"email\": …} or {\"feed\": true}.",
                        "invalid")
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in d.items()}


class FollowStore:
    """Saved searches, the documents seen, alerted passages and pending digests, in the state file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self.keys = KeyStore(state_dir)
        self._lock = threading.Lock()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        try:
            con.executescript(_SCHEMA)
            yield con
            con.commit()
        finally:
            con.close()

    # -- saved searches ---------------------------------------------------------------------------
    def create(self, owner: str, name: str, query: str, filters: dict[str, str], deliver: dict[str, Any],
               current: Mapping[str, str] | None = None) -> SavedSearch:
        """A new saved search; CoreError for an empty query (filters and delivery are checked already).
        `current` (document id -> content hash of the build served now) is what already exists: where no
        run has recorded the documents yet, they are recorded, so that only what comes after alerts."""
        query, name = query.strip(), (name or query).strip()
        if not query:
            raise CoreError("empty_query", "A saved search needs a query: the words to look for.", "invalid")
        if len(query) > MAX_QUERY or len(name) > MAX_NAME:
            raise CoreError("too_long", f"Keep the query under {MAX_QUERY} characters and the name under "
                            f"{MAX_NAME}.", "invalid")
        s = SavedSearch(secrets.token_hex(6), owner, name, query, dict(filters), check_deliver(deliver), time.time())
        with self._lock, self._db() as con:
            con.execute("INSERT INTO saved_searches VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (s.id, s.owner, s.name, s.query, json.dumps(s.filters), json.dumps(s.deliver), s.created_at))
            if current and con.execute("SELECT 1 FROM seen_documents LIMIT 1").fetchone() is None:
                con.executemany("INSERT INTO seen_documents VALUES (?, ?)", sorted(current.items()))
        return s

    def list(self, owner: str | None = None) -> builtins.list[SavedSearch]:
        """Saved searches, oldest first: one owner's, or everyone's (owner None: admin)."""
        with self._db() as con:
            q = "SELECT * FROM saved_searches" + (" WHERE owner = ?" if owner is not None else "") + \
                " ORDER BY created_at"
            rows = con.execute(q, (owner,) if owner is not None else ()).fetchall()
        return [SavedSearch(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6]) for r in rows]

    def get(self, search_id: str, owner: str | None = None) -> SavedSearch:
        """One saved search of this owner (any owner's for None); the same not-found for another's."""
        for s in self.list(owner):
            if s.id == search_id:
                return s
        raise CoreError("saved_search_not_found", f"No saved search {search_id!r} of yours.", "not_found",
                        {"id": search_id})

    def delete(self, search_id: str, owner: str | None = None) -> None:
        """Forget a saved search, its results and its pending digests."""
        s = self.get(search_id, owner)
        with self._lock, self._db() as con:
            for table, col in (("saved_searches", "id"), ("alert_items", "search_id"), ("deliveries", "search_id")):
                con.execute(f"DELETE FROM {table} WHERE {col} = ?", (s.id,))

    def items(self, search_id: str, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """A saved search's results, newest first: each the passage as cited, and when it was found."""
        with self._db() as con:
            rows = con.execute("SELECT passage, created_at, build_id FROM alert_items WHERE search_id = ? "
                               "ORDER BY created_at DESC, rowid DESC LIMIT ?", (search_id, limit)).fetchall()
        return [{**json.loads(p), "found_at": t, "build_id": b} for p, t, b in rows]

    def counts(self) -> dict[str, int]:
        """Results per saved search id."""
        with self._db() as con:
            return dict(con.execute("SELECT search_id, COUNT(*) FROM alert_items GROUP BY search_id").fetchall())

    # -- after a build ----------------------------------------------------------------------------
    def _changed(self, hashes: dict[str, str]) -> tuple[builtins.list[str], bool]:
        with self._db() as con:
            seen = dict(con.execute("SELECT doc_id, content_hash FROM seen_documents").fetchall())
        return sorted(d for d, h in hashes.items() if seen.get(d) != h), not seen

    def _restricted(self, owner: str) -> bool | None:
        """Whether the owner may read restricted papers; None when its key is gone (its searches rest)."""
        if owner == LOCAL_OWNER:
            return False
        record = next((k for k in self.keys.list() if k.key_id == owner), None)
        if record is None or not record.active:
            return None
        return record.allows("restricted")

    def run(self, engine: Any) -> AlertRun:
        """Search what the engine's build added or changed for every saved search, and keep the new results
        (and, for searches delivered by email, a pending digest of them)."""
        hashes = engine.document_hashes()
        changed, first = self._changed(hashes)
        report = AlertRun(engine.index.build_id, len(changed), first)
        if not first:
            for s in self.list():
                restricted = self._restricted(s.owner)
                if restricted is None:
                    continue  # its key was revoked: it rests
                if not changed:
                    report.new[s.id] = 0
                    continue
                try:
                    found = engine.new_matches(Query(s.query, filters=s.filters), changed, restricted=restricted)
                except CoreError as exc:  # its council or committee is no longer indexed: it rests, the rest run
                    report.errors[s.id] = exc.message
                    continue
                report.new[s.id] = self._keep(s, found, report.build_id)
        with self._lock, self._db() as con:
            con.executemany("INSERT OR REPLACE INTO seen_documents VALUES (?, ?)", sorted(hashes.items()))
        return report

    def _keep(self, s: SavedSearch, found: builtins.list[Any], build_id: str) -> int:
        now, fresh = time.time(), []
        with self._lock, self._db() as con:
            for p in found:
                item = {"text": p.text, "citation": citation(p)}
                cur = con.execute("INSERT OR IGNORE INTO alert_items VALUES (?, ?, ?, ?, ?)",
                                  (s.id, words_key(p.text), build_id, now, json.dumps(item)))
                if cur.rowcount:
                    fresh.append(item)
            if fresh and s.deliver.get("email"):
                con.execute("INSERT INTO deliveries (search_id, build_id, items, created_at) VALUES (?, ?, ?, ?)",
                            (s.id, build_id, json.dumps(fresh), now))
        return len(fresh)

    # -- digests ----------------------------------------------------------------------------------
    def pending(self) -> builtins.list[tuple[int, SavedSearch, builtins.list[dict[str, Any]], int]]:
        """Digests not yet sent: (delivery id, its saved search, its new results, attempts so far)."""
        searches = {s.id: s for s in self.list()}
        with self._db() as con:
            rows = con.execute("SELECT id, search_id, items, attempts FROM deliveries WHERE sent_at IS NULL "
                               "ORDER BY id").fetchall()
        return [(i, searches[sid], json.loads(items), n) for i, sid, items, n in rows if sid in searches]

    def mark(self, delivery_id: int, error: str | None) -> None:
        """Record a delivery attempt: sent (error None), or failed with why (kept, to be retried)."""
        with self._lock, self._db() as con:
            if error is None:
                con.execute("UPDATE deliveries SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                            "WHERE id = ?", (time.time(), delivery_id))
            else:
                con.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                            (error[:500], delivery_id))


def owner_of(key_id: str | None) -> str:
    """The owner a caller's saved searches are kept under."""
    return key_id or LOCAL_OWNER


__all__ = ["AlertRun", "FollowStore", "LOCAL_OWNER", "SavedSearch", "check_deliver", "owner_of",
           "words_key"]
