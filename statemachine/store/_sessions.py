"""Sign-ins to the inspector, kept in the store so that every worker and every server of one
store knows them: a session holds the hash of its random id (the cookie carries the id; a copy
of the table opens nothing), the name of the credential that signed in, a print of that
credential's secret (a session of a rotated credential is over), the token its forms carry
against cross-site requests, and when it ends."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import InvalidInput
from ._db import Database
from ._inputs import valid_moment

__all__ = ["Session", "Sessions", "session_key"]

_KEY_LENGTH: Final = 64


def session_key(session_id: str) -> str:
    """What the store keeps of a session's id: its SHA-256, in hex."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen
class Session:
    """A sign-in to the inspector: who (the credential's name), the print of its secret at
    sign-in, the form token, and when it began and ends."""

    credential: str
    secret_print: str = attrs.field(repr=False)
    csrf: str = attrs.field(repr=False)
    created_at: dt.datetime
    expires_at: dt.datetime


def _text(value: object, field: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise InvalidInput(f"{field} must be printable text of at most {limit}", field=field)
    return value


class Sessions:
    """The sessions side of :class:`~statemachine.store._store.SQLStore` (a part of it)."""

    _db: Database
    _lock: Any

    def open_session(
        self,
        session_id: str,
        *,
        credential: str,
        secret_print: str,
        csrf: str,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        """Keep a new session (by the hash of ``session_id``); sessions over at ``now`` are
        removed at the same time."""
        key = session_key(_text(session_id, "session_id"))
        now = valid_moment(now, "now")
        expires_at = valid_moment(expires_at, "expires_at")
        db = self._db
        with self._lock, db.write() as tx:
            tx.run("DELETE FROM sessions WHERE expires_at <= ?", [(db.ts(now),)], db)
            tx.run(
                "INSERT INTO sessions (id, credential, secret_print, csrf, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        _text(credential, "credential"),
                        _text(secret_print, "secret_print"),
                        _text(csrf, "csrf"),
                        db.ts(now),
                        db.ts(expires_at),
                    )
                ],
                db,
            )

    def session(self, session_id: str, now: dt.datetime) -> Session | None:
        """The session ``session_id`` opened, if it is not over at ``now``; else ``None``."""
        if not isinstance(session_id, str) or not 0 < len(session_id) <= _KEY_LENGTH * 2:
            return None
        now = valid_moment(now, "now")
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute(
                db.q(
                    "SELECT credential, secret_print, csrf, created_at, expires_at FROM sessions "
                    "WHERE id = ? AND expires_at > ?"
                ),
                (session_key(session_id), db.ts(now)),
            )
            row = cur.fetchone()
        if row is None:
            return None
        credential, secret_print, csrf, created, expires = row
        return Session(credential, secret_print, csrf, db.from_ts(created), db.from_ts(expires))

    def end_session(self, session_id: str) -> bool:
        """End a session (sign out); whether there was one."""
        if not isinstance(session_id, str) or not session_id:
            return False
        with self._lock, self._db.write() as tx:
            return (
                tx.run("DELETE FROM sessions WHERE id = ?", [(session_key(session_id),)], self._db)
                > 0
            )

    def end_sessions_unlike(self, current: Mapping[str, str]) -> int:
        """End every session whose credential is gone or whose secret changed since it was
        opened (``current``: each credential's name and the print of its secret now), so that
        a rotated secret's sessions are over for good, not only while the new one is in
        place. How many were ended."""
        db = self._db
        with self._lock, db.write() as tx:
            tx.cur.execute("SELECT id, credential, secret_print FROM sessions")
            stale = [(key,) for key, name, held in tx.cur.fetchall() if current.get(name) != held]
            return tx.run("DELETE FROM sessions WHERE id = ?", stale, db)
