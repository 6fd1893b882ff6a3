"""Who is asking, and which service answers: the FastAPI dependencies the routes declare.

- :data:`ServiceDep`: the :class:`~._service.Service` the app was created with.
- :data:`READ` and :data:`WRITE`: a bearer token that may read (``ORDERFSM_READ_TOKEN`` or
  ``ORDERFSM_TOKEN``) or write (``ORDERFSM_TOKEN``); else 401 (no or wrong credentials, with a
  ``WWW-Authenticate`` challenge) or 403 (the read token on a write), as problem documents.
- :data:`SenderDep`: who sends an event: a bearer token that may write (``api``), or a
  supplier webhook signed under ``ORDERFSM_WEBHOOK_SECRET`` (``webhook``).
- :data:`ViewerDep`: who looks at the inspector: a bearer token or its session cookie, or
  ``None`` (then the inspector answers its sign-in page, not a problem).

The credentials are read by FastAPI's own security classes, so ``/openapi.json`` lists the
schemes (``bearer``, ``signature``) and each operation's security from what it depends on.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import Depends, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ._security import SIGNATURE_HEADER, verify_signature
from ._service import SESSION_COOKIE, Access, Service

__all__ = ["READ", "WRITE", "SenderDep", "ServiceDep", "Source", "ViewerDep"]

_bearer: Final = HTTPBearer(
    scheme_name="bearer",
    description="ORDERFSM_TOKEN writes and reads; ORDERFSM_READ_TOKEN reads",
    auto_error=False,
)
_signature: Final = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="signature",
    description="t=<unix seconds>,v1=<hex HMAC-SHA256 of t LF METHOD LF path LF "
    "Idempotency-Key LF body> under ORDERFSM_WEBHOOK_SECRET; events only, with an "
    "Idempotency-Key",
    auto_error=False,
)
_session: Final = APIKeyCookie(name=SESSION_COOKIE, scheme_name="inspector", auto_error=False)

_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="orderfsm"'}


def get_service(request: Request) -> Service:
    """The service the app was created with."""
    service: Service = request.app.state.orderfsm
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
_Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _granted(request: Request, service: Service, bearer: _Bearer, level: Access) -> Access:
    """The access ``bearer`` grants, if it is at least ``level``; else 401 or 403."""
    granted = None if bearer is None else service.token_access(bearer.credentials)
    if granted is None:
        why = (
            "this request needs a bearer token"
            if request.headers.get("authorization") is None
            else "the credentials given are not valid here"
        )
        raise HTTPException(401, why, headers=_CHALLENGE)
    if level == "write" and granted != "write":
        raise HTTPException(403, "the read token cannot write")
    return granted


async def read_access(request: Request, service: ServiceDep, bearer: _Bearer) -> Access:
    """A token that may read (either token)."""
    return _granted(request, service, bearer, "read")


async def write_access(request: Request, service: ServiceDep, bearer: _Bearer) -> Access:
    """A token that may write (``ORDERFSM_TOKEN``)."""
    return _granted(request, service, bearer, "write")


READ: Final = Depends(read_access)
"""A route's dependency (``dependencies=[READ]``): the caller may read."""
WRITE: Final = Depends(write_access)
"""A route's dependency (``dependencies=[WRITE]``): the caller may write."""

Source = Literal["api", "webhook"]
"""Who sent an event, as the log keeps it."""


async def event_sender(
    request: Request,
    service: ServiceDep,
    bearer: _Bearer,
    signature: Annotated[str | None, Security(_signature)],
) -> Source:
    """An event's sender: a bearer token that may write, or, without an ``Authorization``
    header, a webhook whose signature covers this very request (its method, path,
    ``Idempotency-Key`` and body) within the tolerance window. A signed webhook without an
    ``Idempotency-Key`` is 400; a signature that does not match is 401."""
    if request.headers.get("authorization") is not None or signature is None:
        _granted(request, service, bearer, "write")
        return "api"
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
    return "webhook"


SenderDep = Annotated[Source, Depends(event_sender)]


async def inspector_viewer(
    service: ServiceDep, bearer: _Bearer, cookie: Annotated[str | None, Security(_session)]
) -> Access | None:
    """Who looks at the inspector: a bearer token, else its session cookie (an HMAC of the
    token that signed in); ``None``: nobody the service knows."""
    if bearer is not None:
        return service.token_access(bearer.credentials)
    return service.session_access(cookie)


ViewerDep = Annotated[Access | None, Depends(inspector_viewer)]
