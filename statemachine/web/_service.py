"""The running service: its store, its settings, and who its credentials are. The routes
reach it through :mod:`._deps`."""

from __future__ import annotations

import datetime as dt
from typing import Final

import attrs

from ..store import AsyncStore
from ._credentials import Credential, Credentials
from ._security import SIGNATURE_HEADER, bearer, key_id
from ._settings import Settings

__all__ = ["SESSION_COOKIE", "Service", "Viewer"]

SESSION_COOKIE: Final = "orderfsm_inspector"
"""The inspector's session cookie: a random id the store knows (by its hash), never a secret
of a credential."""


@attrs.frozen
class Viewer:
    """Who looks at the inspector: their credential, and the form token of their session
    (``None`` for a bearer token, which sends no form)."""

    credential: Credential
    csrf: str | None = attrs.field(default=None, repr=False)

    @property
    def acts(self) -> bool:
        """Whether their role may act from the inspector (send events, redeliver)."""
        return self.credential.role in ("support", "write")


@attrs.define
class Service:
    """The running service: its store and its settings. Everything the service keeps is the
    store's (orders, listings, the outbox and what the relay did, the inspector's sessions):
    the web layer runs no SQL and holds no connection of its own."""

    store: AsyncStore
    settings: Settings
    credentials: Credentials = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.credentials = self.settings.registry()

    async def known(self, headers: dict[bytes, bytes]) -> bool:
        """Whether a request's credentials are some of this service's (its bearer token, its
        signature's key, its session), before its body is read: a body too large from a
        caller the service does not know is 401, not 413. A signature cannot be checked
        without the body; its key must be a supplier's."""
        authorization = headers.get(b"authorization")
        if authorization is not None:
            token = bearer(authorization.decode("latin-1"))
            return token is not None and self.caller(token) is not None
        signature = headers.get(SIGNATURE_HEADER.lower().encode())
        if signature is not None:
            return self.signer(signature.decode("latin-1")) is not None
        cookie = headers.get(b"cookie", b"").decode("latin-1")
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and await self.viewer(value) is not None:
                return True
        return False

    def signer(self, signature: str) -> Credential | None:
        """The supplier credential whose key a signature header names (``k=``; without one,
        the ``webhook`` credential); ``None`` if it names no supplier key of this service."""
        found = self.credentials.by_name(key_id(signature) or "webhook")
        return found if found is not None and found.role == "supplier" else None

    def caller(self, token: str) -> Credential | None:
        """The credential a bearer token is (``None``: no token of this service)."""
        return self.credentials.by_token(token)

    async def viewer(self, session_id: str | None) -> Viewer | None:
        """Who a session cookie signed in, while the session lasts and their credential is
        what it was (removed or given a new secret: the session is over)."""
        if not session_id:
            return None
        session = await self.store.session(session_id, dt.datetime.now(dt.UTC))
        if session is None:
            return None
        credential = self.credentials.by_name(session.credential)
        if credential is None or credential.secret_print != session.secret_print:
            await self.store.end_session(session_id)  # over for good, whatever comes back
            return None
        return Viewer(credential, session.csrf)

    async def end_stale_sessions(self) -> int:
        """At the start: end the sessions of credentials removed or given a new secret."""
        return await self.store.end_sessions_unlike(
            {c.name: c.secret_print for c in self.credentials.all}
        )
