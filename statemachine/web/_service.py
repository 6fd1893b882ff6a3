"""The running service: its store, its settings, and what its credentials open. The routes
reach it through :mod:`._deps`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, Literal

import attrs

from ..store import AsyncStore
from ._security import same_secret
from ._settings import Settings

__all__ = ["SESSION_COOKIE", "Access", "Service"]

Access = Literal["read", "write"]

SESSION_COOKIE: Final = "orderfsm_inspector"
"""The inspector's session cookie: an HMAC of the token that logged in, never the token."""


@attrs.define
class Service:
    """The running service: its store and its settings. Everything the service keeps is the
    store's (orders, listings, the outbox and what the relay did): the web layer runs no SQL
    and holds no connection of its own."""

    store: AsyncStore
    settings: Settings

    def session_value(self, token: str) -> str:
        """The inspector cookie of a session opened with ``token``."""
        key = token.encode("utf-8")
        return hmac.new(key, b"orderfsm inspector session", hashlib.sha256).hexdigest()

    def session_access(self, cookie: str | None) -> Access | None:
        """What an inspector cookie lets its holder do (``None``: nothing)."""
        if not cookie:
            return None
        token, read_token = self.settings.token, self.settings.read_token
        if token is not None and same_secret(cookie, self.session_value(token)):
            return "write"
        if read_token is not None and same_secret(cookie, self.session_value(read_token)):
            return "read"
        return None

    def token_access(self, token: str) -> Access | None:
        """What a bearer token lets its holder do (``None``: it is no token of ours)."""
        if same_secret(token, self.settings.token):
            return "write"
        if same_secret(token, self.settings.read_token):
            return "read"
        return None
