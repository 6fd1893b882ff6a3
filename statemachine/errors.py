"""Every error the package raises on purpose, under one root, sorted by who can act on it::

    OrderError                      root: catch it to catch everything below
    ├── RequestError                the caller can fix it (HTTP 4xx)
    │   ├── InvalidInput (ValueError)
    │   │   │                       the request cannot be understood; ``field`` names what
    │   │   └── EventTooFarAhead    dated further ahead of the receiver's clock than it takes
    │   ├── EventRejected           the request is understood and a rule refuses it
    │   ├── UnknownOrder            a store holds no order with this id
    │   ├── OrderExists             a store already holds an order with this id
    │   ├── VersionConflict         the order moved on from the version the caller expected
    │   └── NotPermitted            the caller's role may not do this (a supplier's key, a
    │                               merchant's event)
    ├── StoreFault                  the operator must act (HTTP 5xx)
    │   ├── StoreUnavailable        a store cannot be opened or used where it was pointed
    │   ├── ConcurrentUpdate        other writers won every compare-and-swap; nothing written
    │   ├── CorruptOrder            a stored row is not an order the machine could produce
    │   └── SchemaVersionError      a database carries a schema newer than this release
    ├── TableError (ValueError)     the machine's table is broken
    └── GraphvizMissing (RuntimeError)
                                    rendering SVG or PNG needs Graphviz's ``dot``

The branches say who is told what. A :class:`RequestError` goes back to whoever sent the
request, in its own words and with the data that decided; nothing was written. A
:class:`StoreFault` tells the caller only that the store failed (and which order, where there
is one); its full message, which may quote a path or what a row holds, is for the operator's
log. The two outside both branches are nobody's request and no store's fault:

* :class:`TableError` is raised by :func:`statemachine.declaration.check_table` when a machine is
  built from a table that contradicts itself: a developer's mistake, read by whoever edited the
  table (``statemachine.declaration`` re-exports it, beside the check that raises it).
* :class:`GraphvizMissing` is raised by :func:`statemachine.diagrams.render` when the ``dot``
  program is not installed: read by whoever installs the machine (``statemachine.diagrams``
  re-exports it; ``orderfsm`` exits 5, the service answers 503).

Every error carries data, not only a message (``EventRejected.rule``, ``InvalidInput.field``,
``CorruptOrder.order_id``), so a caller can branch on it. They are attrs classes: they compare by
identity, print their message, and pickle (to another process, a task queue) without help.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

__all__ = [
    "ConcurrentUpdate",
    "CorruptOrder",
    "EventRejected",
    "EventTooFarAhead",
    "GraphvizMissing",
    "InvalidInput",
    "NotPermitted",
    "OrderError",
    "OrderExists",
    "RefusalKind",
    "RequestError",
    "SchemaVersionError",
    "StoreFault",
    "StoreUnavailable",
    "TableError",
    "UnknownOrder",
    "VersionConflict",
]


RefusalKind = Literal["state", "data", "time"]
"""What refuses an event: the order's *state* (it does not take the event now: HTTP 409), the
event's *data* (an amount, a reason: 422), or its *time* (R16, a deadline not reached or
passed: 409)."""


def _facts(value: Mapping[str, str] | None) -> dict[str, str]:
    return dict(value or {})


def _problems(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


class OrderError(Exception):
    """Root of every error this package raises on purpose."""

    message: str

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """The error as plain JSON types, the same keys for every error (``None`` where one
        does not apply), ready for a problem document or a log line.

        >>> InvalidInput("amount must be positive", field="amount").to_dict()["field"]
        'amount'
        """
        facts = getattr(self, "facts", None)
        return {
            "type": type(self).__name__,
            "message": self.message,
            "rule": getattr(self, "rule", None),
            "kind": getattr(self, "kind", None),
            "event": getattr(self, "event", None),
            "state": getattr(self, "state", None),
            "order_id": getattr(self, "order_id", None),
            "field": getattr(self, "field", None),
            "facts": dict(facts) if facts else {},
        }


class RequestError(OrderError):
    """The caller can fix it: the request is malformed, refused by a rule, or names an order
    that is not (or already) stored or has moved on. Nothing was written; a front end answers
    it in its own words (HTTP 4xx)."""


class StoreFault(OrderError):
    """The operator must act: the store cannot be reached, is too busy, holds a damaged row or
    was written by a newer release. The request may well be sound; a front end tells its caller
    only that the store failed, and gives the full message to the operator's log."""


@attrs.define(auto_exc=True, str=False)
class InvalidInput(RequestError, ValueError):
    """The request cannot be understood: malformed data, unknown names, naive datetimes.

    ``field`` names what was wrong (``"amount"``, ``"history[2].at"``, ``"tracking_number"``).
    """

    message: str
    field: str | None = None


@attrs.define(auto_exc=True, str=False)
class EventTooFarAhead(InvalidInput):
    """An event dated further ahead of the clock of whoever receives it than they allow (the
    service's ``ORDERFSM_MAX_SKEW``, ``orderfsm apply --max-skew``): most likely a mistyped
    date, which R16 would otherwise turn into an order that takes no real event any more.
    ``kind`` is ``"time"``; ``facts`` hold ``at``, ``now`` and ``max_skew_seconds``. The
    package never reads the clock itself: the receiver passes its ``now``."""

    facts: dict[str, str] = attrs.field(factory=dict, converter=_facts)
    kind: RefusalKind = "time"


@attrs.define(auto_exc=True, str=False)
class EventRejected(RequestError):
    """A rule refuses the event; the order is left exactly as it was.

    ``rule`` is the rule id that forbids it (``"R2"``), or ``None`` where no rule speaks and the
    state simply does not take the event. ``event`` and ``state`` name what was refused where,
    ``order_id`` which order. ``facts`` holds the values that decided (dates, amounts, tracking
    number) as strings. ``kind`` says what refuses (:data:`RefusalKind`): ``"state"`` (the
    order's state does not take the event: a wrong state, R2, R5, R7, R14), ``"data"`` (the
    event's data breaks a rule: R8, R10, R11, R5's amount) or ``"time"`` (R16, or a deadline not
    reached or passed: R4, R12, R13).
    """

    message: str
    rule: str | None
    event: str
    state: str
    order_id: str
    facts: dict[str, str] = attrs.field(factory=dict, converter=_facts)
    kind: RefusalKind = "state"


@attrs.define(auto_exc=True, str=False)
class UnknownOrder(RequestError):
    """No order with this id is stored (``field`` is ``"order_id"``)."""

    order_id: str
    message: str = attrs.field(init=False)
    field: str | None = attrs.field(init=False, default="order_id")

    @message.default
    def _message(self) -> str:
        return f"no order {self.order_id!r} is stored"


@attrs.define(auto_exc=True, str=False)
class OrderExists(RequestError):
    """A store was given a new order whose id it already holds."""

    order_id: str
    message: str = attrs.field(init=False)
    field: str | None = attrs.field(init=False, default="order_id")

    @message.default
    def _message(self) -> str:
        return (
            f"order {self.order_id!r} is already stored; add() stores new orders only, "
            "change a stored one with apply()"
        )


@attrs.define(auto_exc=True, str=False)
class NotPermitted(RequestError):
    """The caller's role does not let them do this (HTTP 403): a ``supplier`` credential
    firing a merchant's event, a ``read`` one creating an order. ``role`` is the caller's,
    ``event`` what they asked to fire (if an event), ``party`` who sends that event
    (``RULES.md``, "Who sends each event"). Nothing was written."""

    message: str
    role: str
    event: str | None = None
    party: str | None = None
    order_id: str | None = None


@attrs.define(auto_exc=True, str=False)
class VersionConflict(RequestError):
    """``apply(..., expected_version=N)`` found the order at another version (HTTP ``If-Match``
    failed: 412); nothing was written. Read the order again and decide anew."""

    order_id: str
    expected: int
    found: int
    event: str | None = None
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        return (
            f"order {self.order_id!r} is at version {self.found}, not the expected "
            f"{self.expected}; nothing was written (read it again before deciding)"
        )


@attrs.define(auto_exc=True, str=False)
class StoreUnavailable(StoreFault):
    """A store cannot be opened or used at ``where`` (a path or a redacted connection
    string): not a database, no such directory, read-only, another application's tables,
    a server that does not answer. ``problem`` says which."""

    where: str
    problem: str
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        return f"cannot use the store at {self.where}: {self.problem}"


@attrs.define(auto_exc=True, str=False)
class ConcurrentUpdate(StoreFault):
    """Other writers changed the order every time a store tried; nothing was written.

    ``attempts`` compare-and-swaps on the version column were lost in a row (or, on SQLite, the
    write lock was not free within the busy timeout; then ``order_id`` and ``event`` are
    ``None``). Sending the event again is safe: with an ``event_id``, a delivery that did get
    through is recognised as a duplicate.
    """

    message: str
    order_id: str | None
    event: str | None
    attempts: int


@attrs.define(auto_exc=True, str=False)
class CorruptOrder(StoreFault):
    """A stored row is not an order the machine could have produced; it is never half-loaded.

    ``order_id`` names the row, ``problem`` says what is wrong, ``field`` the first thing found
    wrong. The request that met it may be sound: the row needs repair, not the request. The
    message can quote what the row holds, so a front end shows its caller the order id only.
    """

    order_id: str
    problem: str
    field: str | None = None
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        return f"stored order {self.order_id!r} is corrupt: {self.problem}"


@attrs.define(auto_exc=True, str=False)
class SchemaVersionError(StoreFault):
    """The database carries a schema this release cannot read (written by a newer release)."""

    where: str
    found: int
    supported: int
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        return (
            f"{self.where} has store schema version {self.found}, but this release of "
            f"order-statemachine reads up to version {self.supported}; upgrade "
            "order-statemachine (a database is never migrated downwards)"
        )


@attrs.define(auto_exc=True, str=False)
class TableError(OrderError, ValueError):
    """The machine's table is broken; ``problems`` lists every problem, one sentence each.

    Raised by :func:`~statemachine.declaration.check_table` when a machine is built: a developer's
    mistake in the table, for whoever edited it to fix, neither a request nor a store fault.
    """

    problems: tuple[str, ...] = attrs.field(converter=_problems)
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        n = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"the machine's table is broken ({n} problem{'s' if n != 1 else ''}):\n{lines}"


_GRAPHVIZ_HINT = (
    "Install Graphviz: `apt install graphviz` (Debian, Ubuntu), `brew install graphviz` "
    "(macOS), or see https://graphviz.org/download/. DOT and Mermaid text need no program: "
    "use lifecycle_dot(), lifecycle_mermaid() or journey_dot()."
)


@attrs.define(auto_exc=True, str=False)
class GraphvizMissing(OrderError, RuntimeError):
    """Rendering needs Graphviz's ``dot`` program and it is not on ``PATH``.

    Raised by :func:`~statemachine.diagrams.render` (SVG, PNG): for whoever installs the
    machine to fix. ``program`` names the missing program, ``fmt`` the format asked for.
    """

    program: str = "dot"
    fmt: str = "svg"
    message: str = attrs.field(init=False)

    @message.default
    def _message(self) -> str:
        return (
            f"rendering {self.fmt.upper()} needs Graphviz's `{self.program}` program, which is "
            f"not on PATH. {_GRAPHVIZ_HINT}"
        )
