"""Who gets in: bearer tokens, signed webhooks, and the request body limit.

Every comparison of a secret runs in constant time (:func:`hmac.compare_digest`); tokens are
compared through their SHA-256 digests, so not even their length shows in the timing.

Signed requests (supplier webhooks in, the outbox relay out) carry the header
``Orderfsm-Signature: t=<unix seconds>,k=<key id>,v1=<hex>`` where ``k`` names the signing key
(a supplier credential; without it, the webhook secret) and ``v1`` is HMAC-SHA256, keyed with
that secret, of::

    <t> LF <METHOD> LF <URL path> LF <Idempotency-Key> LF <raw body bytes>

The timestamp bounds replays to the tolerance window; the method, path and key bind the
signature to one request, so a captured body cannot be sent to another order, another event,
or again under a fresh idempotency key (which would make R15 treat it as a new event). Several
``v1=`` entries may be given (while a secret is rotated); one match is enough.

The service's HTML pages (the inspector, the API's documentation) are answered with
:func:`page_headers`: one content security policy, which lets a page load nothing from
another origin and run no inline script.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import quote

from ..errors import StoreFault
from ._problems import LOGGER, PROBLEM_JSON, document

__all__ = [
    "SIGNATURE_HEADER",
    "BodyLimit",
    "bearer",
    "key_id",
    "page_headers",
    "same_secret",
    "sign",
    "signature_header",
    "signed_message",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "Orderfsm-Signature"
"""The header of a signed webhook or relayed notification: ``t=<unix seconds>,v1=<hex>``."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_PAGE_POLICY: Final = (
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)
"""The content security policy of every page: nothing from another origin, no plugin, no
frame around it, forms only to the service."""


def page_headers(*, scripts: bool = False) -> dict[str, str]:
    """The headers of an HTML page of the service. The inspector's pages run no script at all;
    with ``scripts`` (``/docs``), the same policy lets the page run the service's own script
    files and fetch from the service, and still no inline script, no ``eval`` and nothing from
    another origin."""
    policy = list(_PAGE_POLICY)
    if scripts:  # Swagger UI sets the style of the elements it makes, from its own script
        policy[1:2] = [
            "script-src 'self'",
            "connect-src 'self'",
            "style-src 'self' 'unsafe-inline'",
        ]
    return {
        "Content-Security-Policy": "; ".join(policy),
        "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: under no-referrer a browser posts a form with the
        # Origin "null", and the inspector's forms are checked against their origin
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def same_secret(given: str, expected: str | None) -> bool:
    """Whether ``given`` is the secret ``expected`` (never, when none is configured), in
    constant time."""
    if expected is None:
        return False
    mine = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    theirs = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(mine, theirs)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def signed_message(timestamp: int, method: str, path: str, key: str, body: bytes) -> bytes:
    """The bytes a signature covers (see the module's docstring)."""
    head = f"{timestamp}\n{method.upper()}\n{path}\n{key}\n"
    return head.encode("utf-8") + body


def sign(secret: str, timestamp: int, method: str, path: str, key: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of a request."""
    message = signed_message(timestamp, method, path, key, body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(
    secret: str,
    method: str,
    path: str,
    key: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    key_id: str | None = None,
) -> str:
    """The value of the ``Orderfsm-Signature`` header for a request sent now (or at
    ``timestamp``), naming the signing key (``k=``, a supplier credential's name) if given."""
    t = int(time.time()) if timestamp is None else timestamp
    named = "" if key_id is None else f"k={key_id},"
    return f"t={t},{named}v1={sign(secret, t, method, path, key, body)}"


def key_id(header: str | None) -> str | None:
    """The key id a signature header names (``k=NAME``), if one; the first if several."""
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "k" and value.strip():
            return value.strip()[:64]
    return None


def verify_signature(
    secret: str | None,
    header: str | None,
    *,
    method: str,
    path: str,
    key: str,
    body: bytes,
    tolerance: float,
    now: float | None = None,
) -> str | None:
    """``None`` if ``header`` signs this request within the tolerance window, else why not
    (a sentence for the problem document; it never reveals the expected signature)."""
    if secret is None:
        return "this service accepts no signed requests (no webhook secret is configured)"
    if not header:
        return f"the {SIGNATURE_HEADER} header is missing"
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        return f"the {SIGNATURE_HEADER} header must read t=<unix seconds>,v1=<hex HMAC-SHA256>"
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance:
        return (
            f"the signature's timestamp is outside the {tolerance:g} s tolerance window "
            "(a replay, or a clock that is off)"
        )
    expected = sign(secret, timestamp, method, path, key, body).encode("ascii")
    given = [c.encode("utf-8", "surrogatepass") for c in candidates]
    if any(hmac.compare_digest(expected, g) for g in given):
        return None
    return "the signature does not match this request (method, path, Idempotency-Key and body)"


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before the app
    sees any of it, whether it announces its length or streams in chunks."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        known: Callable[[dict[bytes, bytes]], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.known = known
        """Whether a request's headers carry credentials of the service (then 413; else 401:
        who asks is checked before the size of what they send)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced < 0 or announced > self.limit:
                    await _too_large(scope, send, self.limit, self.known)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(scope, send, self.limit, self.known)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(
    scope: Scope,
    send: Send,
    limit: int,
    known: Callable[[dict[bytes, bytes]], Awaitable[bool]] | None,
) -> None:
    """413 for a body over the limit; but 401 first when the request's credentials are none
    of the service's (none at all, a wrong token, an unknown key, an ended session): who asks
    is checked before anything else, the size of what they send included."""
    headers = dict(scope.get("headers", ()))
    path = quote(str(scope.get("root_path", "")) + str(scope.get("path", "")), safe="/")
    extra: list[tuple[bytes, bytes]] = []
    try:
        anonymous = known is not None and not await known(headers)
        failed = False
    except StoreFault as exc:  # a session could not be looked up: the store is down
        LOGGER.error("%s: %s", type(exc).__name__, exc)
        anonymous, failed = False, True
    if failed:
        status = 503
        problem = document(503, "the order store is unavailable; try again later", instance=path)
        extra = [(b"retry-after", b"5")]
    elif anonymous:
        status, problem = 401, document(401, "this request needs a bearer token", instance=path)
        extra = [(b"www-authenticate", b'Bearer realm="orderfsm"')]
    else:
        status = 413
        problem = document(
            413,
            f"the request body is over this service's limit of {limit} bytes",
            name="TooLarge",
            instance=path,
        )
    body = json.dumps(problem, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
