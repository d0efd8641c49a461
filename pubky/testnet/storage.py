"""SQLite persistence for the local testnet (relay packet caches and the homeserver).

Why SQLite: the testnet must survive a restart with the same data directory (tests restart it;
developers keep a long-lived one), needs no server, and the standard library ships it. File
contents live in the database too — the testnet is for development data, not for gigabytes.

Every store owns one connection shared by the event-loop thread and by test threads (e.g.
``Testnet.create_signup_token()``); a lock serialises access. All statements are short, so
running them synchronously inside async handlers is acceptable for a test network.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EntryRow",
    "EventRow",
    "HomeserverStore",
    "RelayStore",
    "SessionRow",
    "SignupResult",
    "UserRow",
]


class _Store:
    """Common connection/lock handling."""

    _SCHEMA: str = ""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(self._SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one IMMEDIATE transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- relay -------------------------------------------------------------------------------------


class RelayStore(_Store):
    """The relay's packet cache: the latest SignedPacket bytes per public key."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS packets (
        public_key BLOB PRIMARY KEY,
        timestamp INTEGER NOT NULL,
        signed_packet BLOB NOT NULL,
        last_seen INTEGER NOT NULL
    );
    """

    def get(self, public_key: bytes) -> bytes | None:
        """Full SignedPacket bytes (``key ‖ sig ‖ ts ‖ dns``) or ``None``."""
        rows = self._query("SELECT signed_packet FROM packets WHERE public_key = ?", (public_key,))
        return bytes(rows[0][0]) if rows else None

    def put(self, public_key: bytes, timestamp: int, signed_packet: bytes, now_us: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO packets (public_key, timestamp, signed_packet, last_seen)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(public_key) DO UPDATE SET"
                " timestamp = excluded.timestamp, signed_packet = excluded.signed_packet,"
                " last_seen = excluded.last_seen",
                (public_key, timestamp, signed_packet, now_us),
            )

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM packets")[0][0])


# --- homeserver --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    id: int
    public_key: str
    created_at: int
    disabled: bool
    used_bytes: int


@dataclass(frozen=True)
class SessionRow:
    secret: str
    user_id: int
    user_public_key: str
    capabilities: str
    created_at: int


@dataclass(frozen=True)
class EntryRow:
    user_id: int
    path: str
    content_hash: bytes
    content_length: int
    content_type: str
    modified_at: int
    created_at: int


@dataclass(frozen=True)
class EventRow:
    """One change-feed event; ``kind`` is ``"PUT"`` or ``"DEL"``."""

    id: int
    kind: str
    user_id: int
    user_public_key: str
    path: str
    content_hash: bytes | None
    created_at: int


@dataclass(frozen=True)
class SignupResult:
    """Outcome of :meth:`HomeserverStore.signup`; exactly one of the flags/``user`` is set."""

    user: UserRow | None = None
    already_exists: bool = False
    token_unknown: bool = False
    token_used: bool = False


_USER_COLS = "id, public_key, created_at, disabled, used_bytes"
_ENTRY_COLS = "user_id, path, content_hash, content_length, content_type, modified_at, created_at"
_EVENT_COLS = (
    "events.id, events.type, events.user_id, users.public_key, events.path,"
    " events.content_hash, events.created_at"
)


def _user(row: Sequence[Any]) -> UserRow:
    return UserRow(int(row[0]), str(row[1]), int(row[2]), bool(row[3]), int(row[4]))


def _entry(row: Sequence[Any]) -> EntryRow:
    return EntryRow(
        int(row[0]),
        str(row[1]),
        bytes(row[2]),
        int(row[3]),
        str(row[4]),
        int(row[5]),
        int(row[6]),
    )


def _event(row: Sequence[Any]) -> EventRow:
    content_hash = row[5]
    return EventRow(
        int(row[0]),
        str(row[1]),
        int(row[2]),
        str(row[3]),
        str(row[4]),
        bytes(content_hash) if content_hash is not None else None,
        int(row[6]),
    )


class HomeserverStore(_Store):
    """Users, sessions, signup tokens, files and the change feed of one homeserver."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        public_key TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        used_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS sessions (
        secret TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        capabilities TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS signup_tokens (
        token TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        used_by TEXT
    );
    CREATE TABLE IF NOT EXISTS entries (
        user_id INTEGER NOT NULL REFERENCES users(id),
        path TEXT NOT NULL,
        content BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        content_length INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        modified_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, path)
    );
    CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        path TEXT NOT NULL,
        content_hash BLOB,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);
    CREATE INDEX IF NOT EXISTS events_created ON events (created_at);
    """

    # --- users & signup ---

    def get_user(self, public_key: str) -> UserRow | None:
        sql = f"SELECT {_USER_COLS} FROM users WHERE public_key = ?"  # noqa: S608 (constant columns)
        rows = self._query(sql, (public_key,))
        return _user(rows[0]) if rows else None

    def signup(self, public_key: str, token: str | None, now_us: int) -> SignupResult:
        """Create the user atomically, consuming ``token`` when one is given.

        The order of checks mirrors the v0.6.0 handler: existing user first, then the token.
        """
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE public_key = ?", (public_key,)).fetchone():
                return SignupResult(already_exists=True)
            if token is not None:
                row = db.execute(
                    "SELECT used_by FROM signup_tokens WHERE token = ?", (token,)
                ).fetchone()
                if row is None:
                    return SignupResult(token_unknown=True)
                if row[0] is not None:
                    return SignupResult(token_used=True)
                db.execute(
                    "UPDATE signup_tokens SET used_by = ? WHERE token = ?", (public_key, token)
                )
            cur = db.execute(
                "INSERT INTO users (public_key, created_at) VALUES (?, ?)", (public_key, now_us)
            )
            user_id = int(cur.lastrowid or 0)
        return SignupResult(user=UserRow(user_id, public_key, now_us, False, 0))

    def set_user_disabled(self, public_key: str, disabled: bool) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE users SET disabled = ? WHERE public_key = ?", (int(disabled), public_key)
            )
            return cur.rowcount > 0

    def create_signup_token(self, token: str, now_us: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO signup_tokens (token, created_at) VALUES (?, ?)", (token, now_us)
            )

    # --- sessions ---

    def create_session(self, secret: str, user_id: int, capabilities: str, now_us: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions (secret, user_id, capabilities, created_at)"
                " VALUES (?, ?, ?, ?)",
                (secret, user_id, capabilities, now_us),
            )

    def get_session(self, secret: str) -> SessionRow | None:
        rows = self._query(
            "SELECT sessions.secret, sessions.user_id, users.public_key, sessions.capabilities,"
            " sessions.created_at FROM sessions JOIN users ON users.id = sessions.user_id"
            " WHERE sessions.secret = ?",
            (secret,),
        )
        if not rows:
            return None
        r = rows[0]
        return SessionRow(str(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]))

    def delete_session(self, secret: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE secret = ?", (secret,))

    # --- files ---

    def get_entry(self, public_key: str, path: str) -> EntryRow | None:
        rows = self._query(
            f"SELECT {_ENTRY_COLS} FROM entries WHERE path = ? AND user_id ="  # noqa: S608
            " (SELECT id FROM users WHERE public_key = ?)",
            (path, public_key),
        )
        return _entry(rows[0]) if rows else None

    def get_content(self, user_id: int, path: str) -> bytes | None:
        rows = self._query(
            "SELECT content FROM entries WHERE user_id = ? AND path = ?", (user_id, path)
        )
        return bytes(rows[0][0]) if rows else None

    def entry_size(self, user_id: int, path: str) -> int:
        rows = self._query(
            "SELECT content_length FROM entries WHERE user_id = ? AND path = ?", (user_id, path)
        )
        return int(rows[0][0]) if rows else 0

    def put_entry(
        self,
        user_id: int,
        path: str,
        content: bytes,
        content_hash: bytes,
        content_type: str,
        now_us: int,
    ) -> EventRow:
        """Upsert the file, account its bytes and append a ``PUT`` event, atomically."""
        with self._tx() as db:
            old = db.execute(
                "SELECT content_length, created_at FROM entries WHERE user_id = ? AND path = ?",
                (user_id, path),
            ).fetchone()
            old_len, created_at = (int(old[0]), int(old[1])) if old else (0, now_us)
            db.execute(
                "INSERT OR REPLACE INTO entries (user_id, path, content, content_hash,"
                " content_length, content_type, modified_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    path,
                    content,
                    content_hash,
                    len(content),
                    content_type,
                    now_us,
                    created_at,
                ),
            )
            db.execute(
                "UPDATE users SET used_bytes = MAX(0, used_bytes + ?) WHERE id = ?",
                (len(content) - old_len, user_id),
            )
            return self._append_event(db, "PUT", user_id, path, content_hash, now_us)

    def delete_entry(self, user_id: int, path: str, now_us: int) -> EventRow | None:
        """Delete the file and append a ``DEL`` event; ``None`` if there was no such file."""
        with self._tx() as db:
            old = db.execute(
                "SELECT content_length FROM entries WHERE user_id = ? AND path = ?",
                (user_id, path),
            ).fetchone()
            if old is None:
                return None
            db.execute("DELETE FROM entries WHERE user_id = ? AND path = ?", (user_id, path))
            db.execute(
                "UPDATE users SET used_bytes = MAX(0, used_bytes - ?) WHERE id = ?",
                (int(old[0]), user_id),
            )
            return self._append_event(db, "DEL", user_id, path, None, now_us)

    @staticmethod
    def _append_event(
        db: sqlite3.Connection,
        kind: str,
        user_id: int,
        path: str,
        content_hash: bytes | None,
        now_us: int,
    ) -> EventRow:
        cur = db.execute(
            "INSERT INTO events (type, user_id, path, content_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, user_id, path, content_hash, now_us),
        )
        row = db.execute("SELECT public_key FROM users WHERE id = ?", (user_id,)).fetchone()
        return EventRow(
            int(cur.lastrowid or 0), kind, user_id, str(row[0]), path, content_hash, now_us
        )

    def paths_under(
        self,
        public_key: str,
        directory: str,
        *,
        after: str | None = None,
        before: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[str]:
        """File paths starting with ``directory``, in byte order (SQLite BINARY = ``C``)."""
        sql = (
            "SELECT path FROM entries WHERE user_id = (SELECT id FROM users WHERE public_key = ?)"
            " AND substr(path, 1, ?) = ?"
        )
        params: list[object] = [public_key, len(directory), directory]
        if after is not None:
            sql += " AND path > ?"
            params.append(after)
        if before is not None:
            sql += " AND path < ?"
            params.append(before)
        sql += " ORDER BY path " + ("DESC" if descending else "ASC")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [str(r[0]) for r in self._query(sql, params)]

    # --- events ---

    def events_after(self, cursor: int, limit: int) -> list[EventRow]:
        rows = self._query(
            f"SELECT {_EVENT_COLS} FROM events JOIN users ON users.id = events.user_id"  # noqa: S608
            " WHERE events.id > ? ORDER BY events.id ASC LIMIT ?",
            (cursor, limit),
        )
        return [_event(r) for r in rows]

    def event_id_at(self, created_at: int) -> int | None:
        """Id of the event created at exactly ``created_at`` µs (legacy timestamp cursors)."""
        rows = self._query(
            "SELECT id FROM events WHERE created_at = ? ORDER BY id LIMIT 1", (created_at,)
        )
        return int(rows[0][0]) if rows else None

    def events_for_users(
        self,
        user_cursors: Sequence[tuple[int, int | None]],
        *,
        reverse: bool,
        path_prefix: str | None,
        limit: int,
    ) -> list[EventRow]:
        """Events of several users, each after (or, reversed, before) its own cursor."""
        if not user_cursors:
            return []
        clauses: list[str] = []
        params: list[object] = []
        for user_id, cursor in user_cursors:
            clause = "(events.user_id = ?"
            params.append(user_id)
            if cursor is not None:
                clause += " AND events.id " + ("<" if reverse else ">") + " ?"
                params.append(cursor)
            clauses.append(clause + ")")
        sql = (
            f"SELECT {_EVENT_COLS} FROM events JOIN users ON users.id = events.user_id"  # noqa: S608
            f" WHERE ({' OR '.join(clauses)})"
        )
        if path_prefix is not None:
            sql += " AND substr(events.path, 1, ?) = ?"
            params.extend([len(path_prefix), path_prefix])
        sql += " ORDER BY events.id " + ("DESC" if reverse else "ASC") + " LIMIT ?"
        params.append(limit)
        return [_event(r) for r in self._query(sql, params)]

    def stats(self) -> dict[str, int]:
        """Numbers for the admin ``/info`` route."""
        users = self._query("SELECT COUNT(*), SUM(disabled), SUM(used_bytes) FROM users")[0]
        tokens = self._query(
            "SELECT COUNT(*), SUM(CASE WHEN used_by IS NULL THEN 1 ELSE 0 END) FROM signup_tokens"
        )[0]
        return {
            "num_users": int(users[0] or 0),
            "num_disabled_users": int(users[1] or 0),
            "total_disk_used_mb": int(users[2] or 0) // (1024 * 1024),
            "num_signup_codes": int(tokens[0] or 0),
            "num_unused_signup_codes": int(tokens[1] or 0),
        }
