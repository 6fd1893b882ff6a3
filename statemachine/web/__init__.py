"""The order service over HTTP, and the inspector for the people who answer customers.

``pip install 'order-statemachine[web]'`` (add ``postgres`` for PostgreSQL). Nothing else in
the package imports this module: the core runs without FastAPI.

- :func:`create_app` builds the ASGI application (FastAPI) on an async store: the JSON API
  with RFC 9457 problems, ``/openapi.json`` describing every answer and ``/docs`` showing it,
  the inspector under ``/inspect/``, and in its lifespan the sweeper and the outbox relay.
- :func:`serve` runs it under uvicorn (``python -m statemachine.web --db orders.db``, and
  ``orderfsm serve``); :func:`app_from_env` is the app factory its workers import.
- :class:`Settings` reads ``ORDERFSM_*`` from the environment.
- :func:`signature_header` and :func:`verify_signature` sign and check webhooks the way the
  service does (a supplier's sender, the relay's receiver).

``docs/service.md`` walks through it with real requests and answers.

Inside, one module per job (all private):

- ``_app``: :func:`create_app`, the lifespan and the error handlers;
- one router per resource: ``_orders``, ``_events`` (with ``explain``), ``_diagrams``,
  ``_health``, ``_inspect`` (the inspector's pages) and ``_docs`` (``/docs``);
- ``_deps``: who is asking and which service answers (FastAPI dependencies);
- ``_parsing``: the only code that reads a request; ``_answers``: the 2xx bodies;
  ``_problems``: errors as RFC 9457 problems; ``_openapi``: the document and its schemas;
- ``_security`` (tokens, signatures, the body limit, the pages' headers), ``_service``,
  ``_settings``, ``_background`` (the sweeper and the relay) and ``_serve`` (uvicorn).
"""

from __future__ import annotations

from ._app import create_app
from ._security import SIGNATURE_HEADER, signature_header, verify_signature
from ._serve import app_from_env, serve
from ._settings import Settings

__all__ = [
    "SIGNATURE_HEADER",
    "Settings",
    "app_from_env",
    "create_app",
    "serve",
    "signature_header",
    "verify_signature",
]
