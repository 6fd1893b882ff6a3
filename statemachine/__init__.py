"""order-statemachine: the life of a dropshipping order as an explicit finite state machine.

>>> import datetime as dt
>>> from zoneinfo import ZoneInfo
>>> from statemachine import Order
>>> order = Order.create("AE-1", "25.00", "USD", dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("UTC")))
>>> order.state
'paid'
"""

from __future__ import annotations


def _refuse_clash() -> None:
    """Fail at once if python-statemachine, which also installs ``statemachine``, is present."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions().get("statemachine", [])
    others = sorted({d for d in owners if d.lower().replace("_", "-") != "order-statemachine"})
    if others:
        raise ImportError(
            f"the import name 'statemachine' is claimed by {', '.join(others)} as well as by "
            "order-statemachine, so this import cannot tell which package you meant. Uninstall "
            f"the other one (pip uninstall {' '.join(others)}) or use separate virtual "
            "environments."
        )


_refuse_clash()

from .declaration._policy import DEFAULT_POLICY, Policy  # noqa: E402
from .declaration._records import (  # noqa: E402
    FireResult,
    HistoryRecord,
    Incident,
    LedgerEntry,
    Notification,
    OrderWarning,
    PendingRefund,
)
from .declaration._rules import RULES, Rule  # noqa: E402
from .declaration._table import CLOCK_EVENTS, EVENTS, FINAL_STATES, STATES, TABLE, TRANSITIONS  # noqa: E402
from .errors import (  # noqa: E402
    EventRejected,
    InvalidInput,
    OrderError,
    RequestError,
    StoreFault,
)
from .runtime._machine import machine_for  # noqa: E402
from .runtime._order import Order  # noqa: E402

__all__ = [
    "CLOCK_EVENTS",
    "DEFAULT_POLICY",
    "EVENTS",
    "FINAL_STATES",
    "RULES",
    "STATES",
    "TABLE",
    "TRANSITIONS",
    "EventRejected",
    "FireResult",
    "HistoryRecord",
    "Incident",
    "InvalidInput",
    "LedgerEntry",
    "Notification",
    "Order",
    "OrderError",
    "OrderWarning",
    "PendingRefund",
    "Policy",
    "RequestError",
    "Rule",
    "StoreFault",
    "machine_for",
]
