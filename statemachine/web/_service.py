"""What every request handler shares: the store, the settings, and who may in."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, Literal, TypeVar

import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..store import AsyncStore
from ._security import bearer, same_secret
from ._settings import Settings

__all__ = ["SESSION_COOKIE", "Access", "Service", "authorize", "service_of"]

_T = TypeVar("_T")

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


def service_of(request: Request) -> Service:
    """The service an app was created with."""
    found: Service = request.app.state.orderfsm
    return found


def authorize(request: Request, level: Access, *, cookie: bool = False) -> Access:
    """The access the request's bearer token (or, with ``cookie``, the inspector session)
    grants, if it is at least ``level``; else an ``HTTPException``, 401 or 403 (answered as a
    problem document)."""
    service = service_of(request)
    header = request.headers.get("authorization")
    token = bearer(header)
    granted: Access | None = None
    if token is not None:
        granted = service.token_access(token)
    elif cookie:
        granted = service.session_access(request.cookies.get(SESSION_COOKIE))
    if granted is None:
        why = (
            "this request needs a bearer token"
            if header is None and not (cookie and request.cookies.get(SESSION_COOKIE))
            else "the credentials given are not valid here"
        )
        raise HTTPException(401, why, headers={"WWW-Authenticate": 'Bearer realm="orderfsm"'})
    if level == "write" and granted != "write":
        raise HTTPException(403, "the read token cannot write")
    return granted
