"""The service's log: every line with its time, level and request id, as text or JSON lines.

A request's id is its ``X-Request-ID`` header when that is a sane token (1 to
:data:`MAX_REQUEST_ID` printable ASCII characters, no space), else a new one (``uuid4().hex``):
a line break or ten kilobytes from a caller never reach the log. :class:`RequestContext` (the
ASGI middleware of :mod:`._metrics`) keeps it in :data:`REQUEST_ID` for the request's task, and
:class:`RequestIdFilter` puts it on every record logged meanwhile, the access line included.

Two formats, chosen by ``--log-format``:

- ``text``: ``2026-03-02T01:00:00.123Z INFO statemachine.web [3f9a...] message``, the message
  on one line (control characters escaped) and a traceback, when there is one, below it;
- ``json``: one JSON object per line, ``time`` (ISO 8601, UTC), ``level``, ``logger``,
  ``message``, ``request_id`` (``null`` outside a request), the record's extras
  (``outcome``, ``order_id``, ``status``...) and ``pid``; a traceback is its ``exc`` member.

uvicorn's own access line is replaced by :data:`ACCESS`'s, which carries the request id, the
method, the path (without its query), the status and the duration.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import uuid
from typing import Any, Final, Literal

__all__ = [
    "ACCESS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MAX_REQUEST_ID",
    "REQUEST_ID",
    "JSONFormatter",
    "LogFormat",
    "RequestIdFilter",
    "TextFormatter",
    "log_config",
    "request_id",
]

LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
"""The levels ``--log-level`` takes."""
LogFormat = Literal["text", "json"]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("text", "json")
"""The formats ``--log-format`` takes."""

MAX_REQUEST_ID: Final = 128
"""The longest ``X-Request-ID`` taken from a request; a longer one is replaced."""

REQUEST_ID: Final = contextvars.ContextVar[str | None]("orderfsm_request_id", default=None)
"""The id of the request being answered (``None`` outside a request)."""

ACCESS: Final = logging.getLogger("statemachine.web.access")
"""One INFO line per request answered: method, path, status, duration."""

_SANE: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_REQUEST_ID}}}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SET_BY_LOGGING: Final = ("message", "asctime", "request_id", "color_message", "taskName")
_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__).union(
    _SET_BY_LOGGING
)
"""A record's own attributes; the others are the extras a caller passed."""


def request_id(sent: str | None) -> str:
    """The request's id: ``sent`` (its ``X-Request-ID``) when it is a sane token, else a new
    one."""
    if sent is not None and _SANE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being answered on each record (``request_id``; ``None``
    outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def _utc(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TextFormatter(logging.Formatter):
    """``<time, UTC> <LEVEL> <logger> [<request id>] <message>``, the message on one line."""

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or "-"
        line = f"{_utc(record)} {record.levelname} {record.name} [{rid}] "
        line += _one_line(record.getMessage())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, ``pid``, the record's extras, and ``exc`` for a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": os.getpid(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in line:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of a server: uvicorn's lines and the package's
    (``statemachine``) at ``level`` in ``log_format`` on standard error, each with its request
    id; uvicorn's access line off (:data:`ACCESS` writes ours); the database drivers' lines
    (``psycopg``) at WARNING through :class:`~._serve.OnceALine` (one line each, repeats held
    back)."""
    here = __name__
    formatter = "JSONFormatter" if log_format == "json" else "TextFormatter"
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "line",
        "filters": ["request_id"],
    }
    loud = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": f"{here}.{formatter}"}},
        "filters": {
            "request_id": {"()": f"{here}.RequestIdFilter"},
            "once_a_line": {"()": "statemachine.web._serve.OnceALine"},
        },
        "handlers": {
            "default": handler,
            "libraries": {**handler, "filters": ["request_id", "once_a_line"]},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": loud, "propagate": False},
            "uvicorn.error": {"level": loud},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "statemachine": {"handlers": ["default"], "level": loud, "propagate": False},
            "psycopg": {"handlers": ["libraries"], "level": "WARNING", "propagate": False},
        },
    }
