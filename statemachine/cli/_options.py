"""The options several commands share: ``--json``, ``--db``/``--dsn``, ``--create``, ``--now``.

``--json``, ``--db``, ``--dsn`` and ``--create`` are kept on the run's
:class:`~._context.Invocation`, not passed to the command; ``--json`` is read first (eager), so
that even an error in a later option is reported as JSON.
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..application._requests import visible
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH, require_text
from ..store._ref import DB_ENV
from ._context import Invocation
from ._lines import parse_moment

__all__ = [
    "Seconds",
    "actor_option",
    "create_option",
    "json_option",
    "now_option",
    "or_wall_clock",
    "store_options",
]

_F = TypeVar("_F", bound=Callable[..., Any])


class Seconds(click.FloatRange):
    """A number of seconds within a range, and finite: ``nan`` compares false to every bound
    and ``inf`` is no time to wait or to allow."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def _json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Invocation).json = True


def json_option(help_text: str) -> Callable[[_F], _F]:
    """``--json``: machine-readable output; errors become one JSON line on standard error."""
    return click.option(
        "--json", is_flag=True, help=help_text, callback=_json, is_eager=True, expose_value=False
    )


def _db(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.ensure_object(Invocation).db = value


def _dsn(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.ensure_object(Invocation).dsn = value


def store_options(f: _F) -> _F:
    """``--db PATH`` and ``--dsn URL``; without either, the environment's ``ORDERFSM_DB``."""
    f = click.option(
        "--dsn",
        metavar="URL",
        callback=_dsn,
        expose_value=False,
        help="PostgreSQL store: a libpq connection string or postgresql:// URL (needs "
        "'order-statemachine[postgres]').",
    )(f)
    f = click.option(
        "--db",
        metavar="PATH",
        callback=_db,
        expose_value=False,
        help=f"SQLite store: the database file. Without --db or --dsn, ${DB_ENV} (a path, or "
        "a postgresql:// URL).",
    )(f)
    return f


def _create(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.ensure_object(Invocation).create = value


def create_option(f: _F) -> _F:
    """``--create``: a SQLite file that does not exist is made a new, empty store; without it
    the command refuses a missing file (exit 4), so a mistyped path or a lost file never
    silently becomes a new store."""
    return click.option(
        "--create",
        is_flag=True,
        callback=_create,
        expose_value=False,
        help="Make the SQLite file if it does not exist (a new store); without it a missing "
        "file is refused.",
    )(f)


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): say what ran
        return "orderfsm"


def _actor(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    name = _system_user() if value is None else value
    try:
        return require_text(visible(name, "--actor"), "--actor", limit=MAX_ID_LENGTH)
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, ctx, param) from None


def actor_option(f: _F) -> _F:
    """``--actor NAME``: who the log says sent the events (default: this system user)."""
    return click.option(
        "--actor",
        metavar="NAME",
        callback=_actor,
        help="Who the log names as the sender of these events (default: the system user).",
    )(f)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """``--now``: an ISO 8601 moment with its offset, or ``now`` (the wall clock)."""
    if value is None:
        return None
    if value == "now":
        return dt.datetime.now(dt.UTC)
    try:
        return parse_moment(value, "--now")
    except InvalidInput as exc:
        raise click.BadParameter(exc.message.removeprefix("--now "), ctx, param) from None


def now_option(help_text: str) -> Callable[[_F], _F]:
    """``--now TIME``: the moment a command judges at (default: the wall clock)."""
    return click.option("--now", callback=_moment, metavar="TIME", help=help_text)


def or_wall_clock(value: dt.datetime | None) -> dt.datetime:
    """``--now`` as given, or else the wall clock at this moment."""
    return value if value is not None else dt.datetime.now(dt.UTC)
