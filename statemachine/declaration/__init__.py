"""The declaration: what decides an order's life, declared once.

The machine's one table (:data:`TABLE`: states, events, rows, prohibitions), the vocabulary it
is written in (:class:`Table`, :class:`StateSpec`, :class:`EventSpec`, :class:`TransitionSpec`,
:class:`Guard`, :class:`Effect`, :class:`Prohibition`...), the rules it enforces
(:data:`RULES`), the numbers they count with (:class:`Policy`, the supplier's business
calendar) and the records an order keeps (:class:`HistoryRecord`, :class:`Notification`...).
Nothing here runs an order: :mod:`statemachine.runtime` does, from this.
"""

from __future__ import annotations

from ..errors import TableError
from ._calendar import BusinessCalendar
from ._checks import ENGINE_RULES, check_table
from ._definition import (
    DEFAULT_DEFINITION,
    DEFINITIONS,
    Definition,
    load_definitions,
    register,
    resolve,
)
from ._policy import DEFAULT_POLICY, MAX_BUSINESS_DAYS, MAX_CLAIM_WINDOW_DAYS, Policy
from ._records import (
    CANCELLATION_REASONS,
    CLAIM_REASONS,
    FireResult,
    FrozenData,
    HistoryRecord,
    Incident,
    LedgerEntry,
    Notification,
    OrderWarning,
    PendingRefund,
)
from ._rules import RULES, Rule
from ._spec import (
    PARTIES,
    Context,
    Deadline,
    Effect,
    EventSpec,
    Guard,
    Objection,
    Param,
    Party,
    Prohibition,
    StateSpec,
    Table,
    TransitionSpec,
    When,
)
from ._table import (
    CLOCK_EVENTS,
    EVENTS,
    FINAL_STATES,
    INITIAL_STATE,
    PROHIBITIONS,
    STATES,
    TABLE,
    TRANSITIONS,
)

__all__ = [
    "CANCELLATION_REASONS",
    "CLAIM_REASONS",
    "CLOCK_EVENTS",
    "DEFAULT_DEFINITION",
    "DEFAULT_POLICY",
    "DEFINITIONS",
    "ENGINE_RULES",
    "EVENTS",
    "FINAL_STATES",
    "INITIAL_STATE",
    "MAX_BUSINESS_DAYS",
    "MAX_CLAIM_WINDOW_DAYS",
    "PARTIES",
    "PROHIBITIONS",
    "RULES",
    "STATES",
    "TABLE",
    "TRANSITIONS",
    "BusinessCalendar",
    "Context",
    "Deadline",
    "Definition",
    "Effect",
    "EventSpec",
    "FireResult",
    "FrozenData",
    "Guard",
    "HistoryRecord",
    "Incident",
    "LedgerEntry",
    "Notification",
    "Objection",
    "OrderWarning",
    "Param",
    "Party",
    "PendingRefund",
    "Policy",
    "Prohibition",
    "Rule",
    "StateSpec",
    "Table",
    "TableError",
    "TransitionSpec",
    "When",
    "check_table",
    "load_definitions",
    "register",
    "resolve",
]
