"""API keys: created once, stored only as hashes, checked in constant time, revoked for good.

A key reads `cqa_<id>_<secret>`: the id (public, 8 hex digits) finds the row, the secret (32 random
bytes, URL-safe) is compared by its SHA-256 with `hmac.compare_digest`. A slow password hash is not
needed: the secret is random and as long as the hash, so there is nothing to guess from it.

The store is one SQLite file in the service's state folder (`Settings.resolved_state_dir`), shared by
the CLI (`councilqa keys ...`) and the service, which reads it on each request so that a key created or
revoked from the CLI counts at once. Nothing here logs a key.

Scopes: `read` (public papers), `restricted` (public and restricted papers), `admin` (all of that,
and actions that change the index or other callers' state).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

Scope = Literal["read", "restricted", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
STATE_FILE = "state.sqlite"
_RANK = {"read": 0, "restricted": 1, "admin": 2}
_KEY_RE = re.compile(r"cqa_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
_DUMMY = hashlib.sha256(b"no such key").hexdigest()  # compared against when the id is unknown: same time
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
  key_id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
  created_at REAL NOT NULL, revoked_at REAL
);
"""


class KeyProblem(Exception):
    """A key that cannot be used: `code` is missing_key, malformed_key, unknown_key or revoked_key."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KeyRecord:
    """One key as stored: never its secret."""

    key_id: str
    name: str
    scope: Scope
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens anything."""
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """Whether this key's scope includes `scope` (admin ⊇ restricted ⊇ read)."""
        return _RANK[self.scope] >= _RANK[scope]

    def to_dict(self) -> dict[str, object]:
        """The key's public fields, for listings."""
        return {"key_id": self.key_id, "name": self.name, "scope": self.scope, "created_at": self.created_at,
                "revoked_at": self.revoked_at, "active": self.active}


def check_scope(scope: str) -> Scope:
    """`scope` as a Scope; ValueError naming the allowed ones."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    return scope


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """The API keys of one service, in `<state_dir>/state.sqlite`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self._lock = threading.Lock()

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        con = sqlite3.connect(self.path, timeout=5)
        try:
            con.execute("PRAGMA journal_mode=WAL") if write else None
            con.executescript(_SCHEMA) if write else None
            yield con
            con.commit()
        finally:
            con.close()

    def create(self, name: str, scope: str) -> tuple[KeyRecord, str]:
        """A new key: its record and the key itself, which is shown once and never stored."""
        name = name.strip()
        if not name:
            raise ValueError("a key needs a name (who or what uses it), e.g. --name 'planning team'")
        record = KeyRecord(secrets.token_hex(4), name, check_scope(scope), time.time())
        secret = secrets.token_urlsafe(32)
        with self._lock, self._db(write=True) as con:
            con.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                        (record.key_id, record.name, record.scope, _sha(secret), record.created_at))
        return record, f"cqa_{record.key_id}_{secret}"

    def list(self) -> builtins.list[KeyRecord]:
        """Every key, active and revoked, oldest first."""
        try:
            with self._db() as con:
                rows = con.execute("SELECT key_id, name, scope, created_at, revoked_at FROM api_keys "
                                   "ORDER BY created_at").fetchall()
        except (FileNotFoundError, sqlite3.OperationalError):
            return []
        return [KeyRecord(*r) for r in rows]

    def revoke(self, key_id_or_name: str) -> builtins.list[KeyRecord]:
        """Revoke the key with this id (or every active key with this name); the keys revoked."""
        targets = [k for k in self.list() if k.active and key_id_or_name in (k.key_id, k.name)]
        if targets:
            with self._lock, self._db(write=True) as con:
                con.executemany("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?",
                                [(time.time(), k.key_id) for k in targets])
        return targets

    def has_active_keys(self) -> bool:
        """Whether any key can be used: if none, the service serves public papers to loopback callers."""
        try:
            with self._db() as con:
                return con.execute("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone() is not None
        except (FileNotFoundError, sqlite3.OperationalError):
            return False

    def verify(self, key: str) -> KeyRecord:
        """The record of a usable key; KeyProblem saying what is wrong with any other."""
        m = _KEY_RE.fullmatch(key.strip())
        if not m:
            raise KeyProblem("malformed_key", "The API key is not in the form cqa_<id>_<secret>; copy it whole "
                            "as `councilqa keys create` printed it.")
        key_id, secret = m.groups()
        try:
            with self._db() as con:
                row = con.execute("SELECT key_id, name, scope, created_at, revoked_at, secret_sha256 "
                                  "FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        except (FileNotFoundError, sqlite3.OperationalError):
            row = None
        matches = hmac.compare_digest(_sha(secret), row[5] if row else _DUMMY)
        if row is None or not matches:
            raise KeyProblem("unknown_key", "The API key is not known to this service; ask its administrator "
                            "for one (`councilqa keys create`).")
        record = KeyRecord(*row[:5])
        if not record.active:
            raise KeyProblem("revoked_key", f"The API key {record.key_id!r} was revoked; ask for a new one.")
        return record
