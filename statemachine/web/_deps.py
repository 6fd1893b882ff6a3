"""Who is asking, and which service answers: the FastAPI dependencies the routes declare.

- :data:`Reader` and :data:`Writer`: the service, for a caller whose bearer token may read
  (``ORDERFSM_READ_TOKEN`` or ``ORDERFSM_TOKEN``) or write (``ORDERFSM_TOKEN``); else 401
  (no or wrong credentials, with a ``WWW-Authenticate`` challenge) or 403 (the read token on
  a write), as problem documents.
- :data:`SenderDep`: an event's sender and the service: a bearer token that may write
  (``api``), or a supplier webhook signed under ``ORDERFSM_WEBHOOK_SECRET`` (``webhook``).
- :data:`ViewerDep`: who looks at the inspector: a bearer token or its session cookie, or
  ``None`` (then the inspector answers its sign-in page, not a problem).
- :data:`ServiceDep`: the service, for the routes anyone may call.

Each is a FastAPI security scheme (or depends on them), so ``/openapi.json`` lists the schemes
(``bearer``, ``signature``) and each operation's security from what it depends on. A guarded
read is one dependency (the check and the service at once): FastAPI spends tens of
microseconds on each dependency it solves, and a read of an order costs about as much.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import attrs
from fastapi import Depends, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ._security import SIGNATURE_HEADER, bearer, verify_signature
from ._service import SESSION_COOKIE, Access, Service

__all__ = [
    "WRITE",
    "BearerAccess",
    "Reader",
    "Sender",
    "SenderDep",
    "ServiceDep",
    "Source",
    "ViewerDep",
    "Writer",
]

_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="orderfsm"'}
_BEARER_TEXT: Final = "ORDERFSM_TOKEN writes and reads; ORDERFSM_READ_TOKEN reads"


def get_service(request: Request) -> Service:
    """The service the app was created with."""
    service: Service = request.app.state.orderfsm
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def _granted(request: Request, service: Service, level: Access) -> Access:
    """The access the request's bearer token grants, if it is at least ``level``; else 401
    or 403."""
    header = request.headers.get("authorization")
    token = bearer(header)
    granted = None if token is None else service.token_access(token)
    if granted is None:
        why = (
            "this request needs a bearer token"
            if header is None
            else "the credentials given are not valid here"
        )
        raise HTTPException(401, why, headers=_CHALLENGE)
    if level == "write" and granted != "write":
        raise HTTPException(403, "the read token cannot write")
    return granted


class BearerAccess(SecurityBase):
    """The ``bearer`` security scheme as a dependency: the service, once the request's token
    may ``level`` (read or write)."""

    def __init__(self, level: Access) -> None:
        self.model = HTTPBearerModel(description=_BEARER_TEXT)
        self.scheme_name = "bearer"
        self.level: Access = level

    async def __call__(self, request: Request) -> Service:
        service = get_service(request)
        _granted(request, service, self.level)
        return service


Reader = Annotated[Service, Security(BearerAccess("read"))]
"""The service, for a caller that may read."""
Writer = Annotated[Service, Security(BearerAccess("write"))]
"""The service, for a caller that may write."""
WRITE: Final = Security(BearerAccess("write"))
"""A route's dependency (``dependencies=[WRITE]``) when it needs the check, not the service."""

_bearer: Final = HTTPBearer(scheme_name="bearer", description=_BEARER_TEXT, auto_error=False)
_signature: Final = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="signature",
    description="t=<unix seconds>,v1=<hex HMAC-SHA256 of t LF METHOD LF path LF "
    "Idempotency-Key LF body> under ORDERFSM_WEBHOOK_SECRET; events only, with an "
    "Idempotency-Key",
    auto_error=False,
)
_session: Final = APIKeyCookie(name=SESSION_COOKIE, scheme_name="inspector", auto_error=False)

Source = Literal["api", "webhook"]
"""Who sent an event, as the log keeps it."""


@attrs.frozen
class Sender:
    """Who sent an event (``source``, as the log keeps it) and the service it goes to."""

    source: Source
    service: Service


async def event_sender(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    signature: Annotated[str | None, Security(_signature)],
) -> Sender:
    """An event's sender: a bearer token that may write, or, without an ``Authorization``
    header, a webhook whose signature covers this very request (its method, path,
    ``Idempotency-Key`` and body) within the tolerance window. A signed webhook without an
    ``Idempotency-Key`` is 400; a signature that does not match is 401. (``token`` is read
    again by the check: it is declared for the document, which lists both schemes.)"""
    service = get_service(request)
    if request.headers.get("authorization") is not None or signature is None:
        _granted(request, service, "write")
        return Sender("api", service)
    key = request.headers.get("idempotency-key")
    if key is None:
        raise HTTPException(
            400, "a signed webhook must carry an Idempotency-Key (its event id, R15)"
        )
    why = verify_signature(
        service.settings.webhook_secret,
        signature,
        method=request.method,
        path=request.url.path,
        key=key,
        body=await request.body(),
        tolerance=service.settings.webhook_tolerance,
    )
    if why is not None:
        raise HTTPException(401, why)
    return Sender("webhook", service)


SenderDep = Annotated[Sender, Depends(event_sender)]


async def inspector_viewer(
    request: Request, service: ServiceDep, cookie: Annotated[str | None, Security(_session)]
) -> Access | None:
    """Who looks at the inspector: a bearer token, else its session cookie (an HMAC of the
    token that signed in); ``None``: nobody the service knows."""
    token = bearer(request.headers.get("authorization"))
    if token is not None:
        return service.token_access(token)
    return service.session_access(cookie)


ViewerDep = Annotated[Access | None, Depends(inspector_viewer)]
