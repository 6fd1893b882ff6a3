"""The service's settings, read from the environment (never from the command line, where any
user of the machine can read a token in the process list)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import attrs

from ..application import RELAY_DEFAULTS
from ..declaration._definition import DEFAULT_DEFINITION, load_definitions, resolve
from ..errors import InvalidInput
from ._credentials import Credential, Credentials, credentials_from_env

__all__ = ["ENV", "Settings"]

ENV: Final[dict[str, str]] = {
    "token": "ORDERFSM_TOKEN",
    "read_token": "ORDERFSM_READ_TOKEN",
    "webhook_secret": "ORDERFSM_WEBHOOK_SECRET",
    "webhook_tolerance": "ORDERFSM_WEBHOOK_TOLERANCE",
    "max_body": "ORDERFSM_MAX_BODY",
    "max_skew": "ORDERFSM_MAX_SKEW",
    "sweep_interval": "ORDERFSM_SWEEP_INTERVAL",
    "sweep_batch": "ORDERFSM_SWEEP_BATCH",
    "relay_url": "ORDERFSM_RELAY_URL",
    "relay_secret": "ORDERFSM_RELAY_SECRET",
    "relay_attempts": "ORDERFSM_RELAY_ATTEMPTS",
    "relay_backoff": "ORDERFSM_RELAY_BACKOFF",
    "relay_backoff_max": "ORDERFSM_RELAY_BACKOFF_MAX",
    "relay_interval": "ORDERFSM_RELAY_INTERVAL",
    "relay_timeout": "ORDERFSM_RELAY_TIMEOUT",
    "relay_concurrency": "ORDERFSM_RELAY_CONCURRENCY",
    "near_hours": "ORDERFSM_NEAR_HOURS",
    "session_hours": "ORDERFSM_SESSION_HOURS",
    "definitions": "ORDERFSM_DEFINITIONS",
    "new_orders": "ORDERFSM_NEW_ORDERS",
}
"""The environment variable of each setting."""


_TEN_YEARS: Final = 10 * 366 * 86400.0
"""The longest time any setting may name, in seconds: more is a typo, and past a date's range."""
MAX_SWEEP_BATCH: Final = 10_000
"""The most orders one sweep transaction may take (the store's own bound)."""
MAX_BODY_LIMIT: Final = 100 * 1024 * 1024
"""The largest ``ORDERFSM_MAX_BODY``: a request body is held in memory whole."""
MAX_RELAY_ATTEMPTS: Final = 1_000
"""Past this many tries a notification would outlive any receiver's memory of it."""
MAX_RELAY_CONCURRENCY: Final = 256
"""Deliveries at once, per process: each holds a connection to the receiver."""
MAX_TOLERANCE: Final = 3600.0
"""The most seconds a webhook signature's timestamp may be from the server's clock."""
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")
"""A bearer token: printable ASCII, no spaces (what an ``Authorization`` header carries)."""


def _secret(value: str | None) -> str | None:
    """A token or secret: ``None`` when unset or blank (a blank token opens nothing)."""
    if value is None or not value.strip():
        return None
    return value.strip()


@attrs.frozen
class Settings:
    """What the service needs besides its store. Build it with :meth:`from_env`, or directly in
    code (tests, an application that mounts the service).

    Tokens and secrets are left out of ``repr`` so they never reach a log line.
    """

    token: str | None = attrs.field(default=None, repr=False, converter=_secret)
    """Bearer token for writes (and reads): ``ORDERFSM_TOKEN``. Unset: nobody writes with a
    token (signed webhooks still may)."""
    read_token: str | None = attrs.field(default=None, repr=False, converter=_secret)
    """Bearer token for reads and the inspector: ``ORDERFSM_READ_TOKEN``."""
    webhook_secret: str | None = attrs.field(default=None, repr=False, converter=_secret)
    """HMAC-SHA256 key of signed webhooks (events only): ``ORDERFSM_WEBHOOK_SECRET``."""
    webhook_tolerance: float = 300.0
    """How far a signature's timestamp may be from the server's clock, in seconds."""
    max_body: int = 64 * 1024
    """The largest request body accepted, in bytes (413 beyond)."""
    max_skew: float = 300.0
    """Seconds an event may be dated ahead of the server's clock (422 beyond, kind ``time``:
    a mistyped year would otherwise leave the order refusing every real event by R16); 0
    switches the check off. Sweeps are exempt: their moment is the clock."""
    sweep_interval: float = 60.0
    """Seconds between sweeps of due clock events (R12, R4); 0 switches the sweeper off."""
    sweep_batch: int = 100
    """Orders one sweep transaction fires at most (a full batch is followed by another)."""
    relay_url: str | None = None
    """Where the outbox relay POSTs notifications; unset: no relay."""
    relay_secret: str | None = attrs.field(default=None, repr=False, converter=_secret)
    """HMAC-SHA256 key that signs the relay's requests (required with ``relay_url``)."""
    relay_attempts: int = RELAY_DEFAULTS.attempts
    """Deliveries tried per notification before it becomes a dead letter (24: with the
    default backoff, about three days of tries)."""
    relay_backoff: float = RELAY_DEFAULTS.backoff
    """The first retry's delay in seconds; each further retry doubles it (with jitter)."""
    relay_backoff_max: float = RELAY_DEFAULTS.backoff_max
    """The longest delay between two tries of one notification, in seconds (6 hours)."""
    relay_interval: float = 2.0
    """Seconds the relay waits when the outbox has nothing it may send now."""
    relay_timeout: float = RELAY_DEFAULTS.timeout
    """Seconds one delivery may take, all of it (a receiver that trickles its answer is cut
    there), before it counts as failed."""
    relay_concurrency: int = RELAY_DEFAULTS.concurrency
    """Deliveries the relay of one process runs at once (one order's notifications still go
    one after the other, in the order they were queued)."""
    near_hours: float = 48.0
    """The inspector lists orders whose next deadline falls within this many hours."""
    session_hours: float = 8.0
    """How long an inspector's sign-in lasts, in hours."""
    definitions: str | None = None
    """Modules whose definitions of the order machine to register (dotted names, separated by
    commas): ``ORDERFSM_DEFINITIONS``. The service serves their events and reads, replays and
    judges each order by its own version."""
    new_orders: str = DEFAULT_DEFINITION
    """The version new orders are created under: ``ORDERFSM_NEW_ORDERS`` (``orders@1``)."""
    credentials: tuple[Credential, ...] = attrs.field(default=(), repr=False, converter=tuple)
    """Named credentials with roles (:mod:`._credentials`): the file ``ORDERFSM_CREDENTIALS``
    names, and each ``ORDERFSM_CREDENTIAL_<NAME>``; beside those of ``token``,
    ``read_token`` and ``webhook_secret``."""

    @property
    def skew(self) -> dt.timedelta | None:
        """:attr:`max_skew` as the application's use cases take it (``None``: no check)."""
        return dt.timedelta(seconds=self.max_skew) if self.max_skew else None

    def __attrs_post_init__(self) -> None:
        positive = {
            "webhook_tolerance": self.webhook_tolerance,
            "relay_backoff": self.relay_backoff,
            "relay_backoff_max": self.relay_backoff_max,
            "relay_interval": self.relay_interval,
            "relay_timeout": self.relay_timeout,
            "near_hours": self.near_hours,
            "session_hours": self.session_hours,
        }
        at_least_0 = {"sweep_interval": self.sweep_interval, "max_skew": self.max_skew}
        for name, value in (*positive.items(), *at_least_0.items()):
            if not math.isfinite(value):  # inf would never expire; nan compares false to all
                message = f"{ENV[name]} must be a finite number, got {value!r}"
                raise InvalidInput(message, field=name)
        for name, value in positive.items():
            if not value > 0:
                raise InvalidInput(f"{ENV[name]} must be more than 0, got {value!r}", field=name)
        for name, value, most in (
            ("max_skew", self.max_skew, _TEN_YEARS),
            ("near_hours", self.near_hours, _TEN_YEARS / 3600),
            ("session_hours", self.session_hours, 24 * 31),
            ("relay_backoff", self.relay_backoff, _TEN_YEARS),
            ("relay_backoff_max", self.relay_backoff_max, _TEN_YEARS),
            ("relay_interval", self.relay_interval, _TEN_YEARS),
            ("relay_timeout", self.relay_timeout, _TEN_YEARS),
            ("sweep_interval", self.sweep_interval, _TEN_YEARS),
            ("sweep_batch", self.sweep_batch, MAX_SWEEP_BATCH),
            ("relay_attempts", self.relay_attempts, MAX_RELAY_ATTEMPTS),
            ("max_body", self.max_body, MAX_BODY_LIMIT),
            ("relay_concurrency", self.relay_concurrency, MAX_RELAY_CONCURRENCY),
        ):
            if value > most:  # past what a date or the store can count with
                raise InvalidInput(
                    f"{ENV[name]} must be at most {most:g}, got {value!r}", field=name
                )
        if self.webhook_tolerance > MAX_TOLERANCE:
            raise InvalidInput(
                f"{ENV['webhook_tolerance']} must be at most {MAX_TOLERANCE:g} seconds (an old "
                f"signature must expire), got {self.webhook_tolerance!r}",
                field="webhook_tolerance",
            )
        for name in ("token", "read_token"):
            value = getattr(self, name)
            if value is not None and not _TOKEN.fullmatch(value):
                raise InvalidInput(
                    f"{ENV[name]} must be printable ASCII without spaces (an HTTP header carries "
                    "it; any other token would never match)",
                    field=name,
                )
        for name, value in at_least_0.items():
            if not value >= 0:
                message = f"{ENV[name]} must be 0 (off) or more, got {value!r}"
                raise InvalidInput(message, field=name)
        for name, value in (
            ("max_body", self.max_body),
            ("sweep_batch", self.sweep_batch),
            ("relay_attempts", self.relay_attempts),
            ("relay_concurrency", self.relay_concurrency),
        ):
            if value < 1:
                raise InvalidInput(f"{ENV[name]} must be at least 1, got {value!r}", field=name)
        self.registry()  # two credentials with one name or one secret: refused here
        if self.definitions:
            try:
                load_definitions(self.definitions)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"{ENV['definitions']}: {exc.message}", field="definitions"
                ) from None
        try:
            object.__setattr__(
                self, "new_orders", resolve(self.new_orders.strip(), ENV["new_orders"]).key
            )
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="new_orders") from None
        if self.relay_url is not None:
            parts = urlsplit(self.relay_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidInput(
                    f"{ENV['relay_url']} must be an http(s) URL, got {self.relay_url!r}",
                    field="relay_url",
                )
            if self.relay_secret is None:
                raise InvalidInput(
                    f"{ENV['relay_url']} is set but {ENV['relay_secret']} is not: the relay "
                    "signs every notification it sends",
                    field="relay_secret",
                )

    def registry(self) -> Credentials:
        """Every credential these settings give: the named ones and the single tokens'."""
        return Credentials.of(
            self.credentials,
            token=self.token,
            read_token=self.read_token,
            webhook_secret=self.webhook_secret,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives (``os.environ`` by default); defaults for the
        rest. :class:`~statemachine.errors.InvalidInput` names a variable that does not read."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, variable in ENV.items():
            raw = env.get(variable)
            if raw is None or not raw.strip():
                continue
            default = getattr(_DEFAULTS, name)
            if name in _TEXT:
                values[name] = raw
            elif isinstance(default, int) and not isinstance(default, bool):
                values[name] = _number(int, variable, raw, name)
            else:
                values[name] = _number(float, variable, raw, name)
        values["credentials"] = credentials_from_env(env)
        return cls(**values)  # type: ignore[arg-type]


_TEXT: Final = frozenset(
    {
        "token",
        "read_token",
        "webhook_secret",
        "relay_url",
        "relay_secret",
        "definitions",
        "new_orders",
    }
)


def _number(kind: type[int] | type[float], variable: str, raw: str, name: str) -> int | float:
    try:
        return kind(raw.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InvalidInput(f"{variable} must be {what}, got {raw!r}", field=name) from None


_DEFAULTS: Final = Settings()
