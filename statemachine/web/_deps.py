"""Who is asking, and which service answers: the FastAPI dependencies the routes declare.

Every caller is a credential with a name and a role (:mod:`._credentials`); what a role may
do is the application layer's to say (:mod:`statemachine.application._access`).

- :data:`Reader`: the service, for a caller whose role may read (``read``, ``support``,
  ``write``). :data:`Writer` (create orders: ``write``) and :data:`Support` (send
  notifications again: ``support``, ``write``): who called and the service. Else 401 (no or
  wrong credentials, with a ``WWW-Authenticate`` challenge) or 403 (the role may not), as
  problem documents.
- :data:`SenderDep`: an event's sender (its name and role, checked by the use case against the
  event's party) and the service: a bearer token (``api``), or a webhook signed by a
  ``supplier`` credential, named by the signature's key id (``webhook``).
- :data:`ViewerDep`: who looks at the inspector: a bearer token or the session its cookie
  names, or ``None`` (then the inspector answers its sign-in page, not a problem).
- :data:`ServiceDep`: the service, for the routes anyone may call.

Each is a FastAPI security scheme (or depends on them), so ``/openapi.json`` lists the schemes
(``bearer``, ``signature``) and each operation's security from what it depends on. A guarded
read is one dependency (the check and the service at once): FastAPI spends tens of
microseconds on each dependency it solves, and a read of an order costs about as much.
The credential's name is kept on the request (``request.state.actor``) for the access log."""

from __future__ import annotations

from typing import Annotated, Final, Literal

import attrs
from fastapi import Depends, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..application import Actor, check_may
from ..declaration._definition import event_spec
from ..errors import NotPermitted
from ._credentials import Credential
from ._parsing import utf8_header
from ._security import SIGNATURE_HEADER, bearer, key_id, verify_signature
from ._service import SESSION_COOKIE, Service, Viewer

__all__ = [
    "BearerAccess",
    "Caller",
    "Migrator",
    "Reader",
    "Sender",
    "SenderDep",
    "ServiceDep",
    "Source",
    "Support",
    "ViewerDep",
    "Writer",
]

_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="orderfsm"'}
_BEARER_TEXT: Final = (
    "A credential's secret (ORDERFSM_CREDENTIALS, ORDERFSM_CREDENTIAL_<NAME>, or "
    "ORDERFSM_TOKEN for writes and ORDERFSM_READ_TOKEN for reads); its role says what it may do"
)


def get_service(request: Request) -> Service:
    """The service the app was created with."""
    service: Service = request.app.state.orderfsm
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def _caller(request: Request, service: Service) -> Credential:
    """The credential the request's bearer token is; else 401 (no or wrong credentials)."""
    header = request.headers.get("authorization")
    token = bearer(header)
    found = None if token is None else service.caller(token)
    if found is None:
        why = (
            "this request needs a bearer token"
            if header is None
            else "the credentials given are not valid here"
        )
        raise HTTPException(401, why, headers=_CHALLENGE)
    request.state.actor = found.name
    return found


Need = Literal["read", "create", "redeliver"]


class BearerAccess(SecurityBase):
    """The ``bearer`` security scheme as a dependency: the service, once the request's
    credential may do ``need`` (its role: :func:`~statemachine.application.check_may`, a
    403 problem otherwise)."""

    def __init__(self, need: Need) -> None:
        self.model = HTTPBearerModel(description=_BEARER_TEXT)
        self.scheme_name = "bearer"
        self.need: Need = need

    async def __call__(self, request: Request) -> Service:
        service = get_service(request)
        check_may(_caller(request, service).actor, self.need)
        return service


class CallerAccess(BearerAccess):
    """:class:`BearerAccess` handing over who called too (their :class:`Caller`)."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        service = get_service(request)
        credential = _caller(request, service)
        check_may(credential.actor, self.need)
        return Caller(service, credential.actor)


@attrs.frozen
class Caller:
    """Who called (their name and role, for the use cases and the log) and the service."""

    service: Service
    actor: Actor


Reader = Annotated[Service, Security(BearerAccess("read"))]
"""The service, for a caller whose role may read (read, support, write)."""
Writer = Annotated[Caller, Security(CallerAccess("create"))]
"""Who called and the service, for a caller whose role may create orders (write)."""
Migrator = Annotated[Caller, Security(CallerAccess("migrate"))]
"""Who called and the service, for a caller whose role may run migration plans (write)."""
Support = Annotated[Caller, Security(CallerAccess("redeliver"))]
"""Who called and the service, for a caller whose role may act for the customers (support,
write): send notifications again."""

_bearer: Final = HTTPBearer(scheme_name="bearer", description=_BEARER_TEXT, auto_error=False)
_signature: Final = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="signature",
    description="t=<unix seconds>,k=<key id>,v1=<hex HMAC-SHA256 of t LF METHOD LF path LF "
    "Idempotency-Key LF body> under the secret of the supplier credential named k (without "
    "k, ORDERFSM_WEBHOOK_SECRET); events only, with an Idempotency-Key",
    auto_error=False,
)
_session: Final = APIKeyCookie(name=SESSION_COOKIE, scheme_name="inspector", auto_error=False)

Source = Literal["api", "webhook"]
"""Where an event came from, as the log keeps it."""


@attrs.frozen
class Sender:
    """Who sent an event: where it came from (``source``), their name and role (``actor``,
    checked by the use case against the event's party), and the service it goes to."""

    source: Source
    service: Service
    actor: Actor


async def event_sender(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    signature: Annotated[str | None, Security(_signature)],
) -> Sender:
    """An event's sender: a bearer token whose role may send events (support, write,
    supplier; a read credential is 403), or, without an ``Authorization`` header, a webhook
    signed by a supplier credential (its key id ``k=``; without one, the webhook secret's)
    over this very request (its method, path, ``Idempotency-Key`` and body) within the
    tolerance window. A signed webhook without an ``Idempotency-Key`` is 400; a signature that
    does not match is 401. Which events a role may send is the use case's to say (the table's
    parties). (``token`` is read again by the check: it is declared for the document.)"""
    service = get_service(request)
    if request.headers.get("authorization") is not None or signature is None:
        credential = _caller(request, service)
        if credential.role == "read":
            refused = NotPermitted(
                f"the read role may not send events (credential {credential.name!r})",
                role="read",
            )
            from ._metrics import event_refused  # the metrics' module reads this one's

            event = request.url.path.rsplit("/", 1)[-1]
            if event_spec(event) is not None:
                event_refused(event, refused)
            raise refused
        return Sender("api", service, credential.actor)
    raw_key = request.headers.get("idempotency-key")
    if raw_key is None:
        raise HTTPException(
            400, "a signed webhook must carry an Idempotency-Key (its event id, R15)"
        )
    key = utf8_header(raw_key)  # signed as the UTF-8 text it is
    signer = service.signer(signature)
    if signer is None:
        raise HTTPException(
            401,
            "the signature names no supplier key of this service"
            if key_id(signature)
            else "this service accepts no signature without a key id (k=); none is configured",
        )
    why = verify_signature(
        signer.secret,
        signature,
        method=request.method,
        path=request.url.path,
        key=key,
        body=await request.body(),
        tolerance=service.settings.webhook_tolerance,
    )
    if why is not None:
        raise HTTPException(401, why)
    request.state.actor = signer.name
    return Sender("webhook", service, signer.actor)


SenderDep = Annotated[Sender, Depends(event_sender)]


async def inspector_viewer(
    request: Request, service: ServiceDep, cookie: Annotated[str | None, Security(_session)]
) -> Viewer | None:
    """Who looks at the inspector: a bearer token's credential, else the one its session
    cookie signed in (a session the store keeps, not over, of a credential unchanged);
    ``None``: nobody the service knows. A supplier's credential sees nothing of it."""
    token = bearer(request.headers.get("authorization"))
    viewer: Viewer | None
    if token is not None:
        credential = service.caller(token)
        viewer = None if credential is None else Viewer(credential)
    else:
        viewer = await service.viewer(cookie)
    if viewer is None or viewer.credential.role == "supplier":
        return None
    request.state.actor = viewer.credential.name
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer | None, Depends(inspector_viewer)]
