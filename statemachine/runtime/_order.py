"""The :class:`Order`: a small attrs object holding only its data, driven by the shared machine.

An order never owns a machine and never has methods bound onto it at run time: it carries the
table it lives by (:attr:`Order.table`, the shipped :data:`~statemachine.declaration.TABLE` unless
given another), and :meth:`Order.fire` hands it to the one runtime of that table and its policy
(:attr:`Order.runtime`, :func:`statemachine.runtime.runtime_for`).
Every field holds an immutable value (tuples of frozen records, ``Decimal``, ``datetime``), so a
refused event or a bad input is undone by putting the previous values back, and callers cannot
change an order's history behind its back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from operator import attrgetter
from typing import Any, Final

import attrs

from ..declaration._calendar import given_window_end, to_local_date
from ..declaration._definition import Definition, definition_of, resolve
from ..declaration._jsonform import OMITTED, json_fields
from ..declaration._money import parse_amount, parse_currency
from ..declaration._policy import DEFAULT_POLICY, Policy
from ..declaration._records import (
    FireResult,
    HistoryRecord,
    Incident,
    LedgerEntry,
    Notification,
    OrderWarning,
    PendingRefund,
    StateName,
)
from ..declaration._spec import Table
from ..declaration._table import TABLE
from ..errors import EventRejected, InvalidInput
from ._machine import MAX_ID_LENGTH, Runtime, require_aware, require_text, runtime_for
from ._serialize import structure_order, unstructure_order

__all__ = ["Order", "require_aware"]


@attrs.define(eq=True)
class Order:
    """One merchant-paid AliExpress order, from payment to its final state.

    Create one with :meth:`Order.create`; change it only with :meth:`fire` (or the typed
    methods of the same names) and :meth:`tick`. Read the rest by attribute.
    """

    order_id: str
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    dispatch_deadline: dt.datetime
    """End of the R1 dispatch window, computed once at payment."""
    policy: Policy = DEFAULT_POLICY
    table: Table = attrs.field(default=TABLE, kw_only=True, repr=False, metadata={OMITTED: True})
    """The table the order lives by: its states, events, rows and prohibitions. Set at creation
    and never changed; compared by identity; not part of :meth:`to_dict` (give it again to
    :meth:`from_dict`)."""
    state: StateName = attrs.field(
        default=attrs.Factory(lambda self: self.table.initial_state, takes_self=True)
    )
    tracking_number: str | None = None
    dispatched_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    claim_deadline: dt.datetime | None = None
    """End of the R13 claim window, computed once at delivery."""
    pending_refund: PendingRefund | None = None
    history: tuple[HistoryRecord, ...] = ()
    notifications: tuple[Notification, ...] = ()
    incidents: tuple[Incident, ...] = ()
    refunds: tuple[LedgerEntry, ...] = ()
    """Refunds settled on the order (supplier to merchant, or merchant-funded), R11."""
    customer_refunds: tuple[LedgerEntry, ...] = ()
    """Money the merchant paid back to the customer, R7 and R11."""
    warnings: tuple[OrderWarning, ...] = ()
    _event_ids: tuple[tuple[HistoryRecord, ...], dict[str, int]] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )
    """R15's index of the history's event ids, for the history tuple it was built from."""
    _runtime: Runtime | None = attrs.field(default=None, init=False, eq=False, repr=False)
    """The order's runtime, once :attr:`runtime` found it."""

    # ----------------------------------------------------------------------------------------
    # Creation

    @classmethod
    def create(
        cls,
        order_id: str,
        amount: Decimal | str,
        currency: str,
        paid_at: dt.datetime,
        *,
        policy: Policy | None = None,
        table: Table | None = None,
        definition: str | Definition | None = None,
    ) -> Order:
        """A new order in its table's initial state (``paid``), its R1 dispatch deadline
        counted from ``paid_at``.

        ``amount`` is a ``Decimal`` or a decimal string in ``currency``'s minor unit. The order
        runs under ``definition`` (a registered version's key, like ``orders@2``, or a
        :class:`~statemachine.declaration.Definition`), or on ``table``; neither: ``orders@1``,
        the shipped table. ``policy`` defaults to the definition's.
        """
        if definition is not None:
            if table is not None:
                raise InvalidInput("give a definition or a table, not both", field="table")
            table = resolve(definition).table
        return cls.begin(order_id, amount, currency, paid_at, policy, None, table)

    @classmethod
    def begin(
        cls,
        order_id: object,
        amount: object,
        currency: object,
        paid_at: object,
        policy: object = None,
        dispatch_deadline: object = None,
        table: Table | None = None,
    ) -> Order:
        """:meth:`create`, checking every argument; with ``dispatch_deadline`` (an order read
        back) the R1 deadline is the one given, checked for its shape, not counted again."""
        oid = require_text(order_id, "order_id", limit=MAX_ID_LENGTH)
        cur = parse_currency(currency)
        paid = parse_amount(amount, cur)
        if paid <= 0:
            raise InvalidInput(f"amount must be positive, got {amount!r}", field="amount")
        paid_at = require_aware(paid_at, "paid_at")
        if policy is None:
            found = None if table is None else definition_of(table)
            policy = DEFAULT_POLICY if found is None else found.policy
        elif not isinstance(policy, Policy):
            raise InvalidInput(f"policy must be a Policy, got {policy!r}", field="policy")
        if dispatch_deadline is not None:
            deadline = given_window_end(
                dispatch_deadline, paid_at, policy.timezone, "dispatch_deadline"
            )
        else:
            try:
                deadline = policy.business_calendar.business_deadline(
                    paid_at, policy.dispatch_business_days
                )
            except InvalidInput as exc:
                raise InvalidInput(
                    f"paid_at {paid_at.isoformat()} opens no R1 dispatch window: {exc.message}",
                    field="paid_at",
                ) from None
        if table is None:
            order = cls(oid, paid, cur, paid_at, deadline, policy, _DEFAULT_INITIAL)
        elif isinstance(table, Table):
            order = cls(oid, paid, cur, paid_at, deadline, policy, table.initial_state, table=table)
        else:
            raise InvalidInput(f"table must be a Table, got {table!r}", field="table")
        if not policy.business_calendar.schedule_is_official(deadline.year):
            order.check_calendar("dispatch_deadline", deadline)
        return order

    # ----------------------------------------------------------------------------------------
    # Reading

    @property
    def refunded_total(self) -> Decimal:
        """Every refund settled on the order, whoever funds it (R11)."""
        return sum((e.amount for e in self.refunds), parse_amount("0", self.currency))

    @property
    def customer_refunded_total(self) -> Decimal:
        """What the merchant paid back to the customer (R11)."""
        return sum((e.amount for e in self.customer_refunds), parse_amount("0", self.currency))

    @property
    def is_final(self) -> bool:
        """Whether the order is in a final state of its table (``cancelled`` or ``refunded``)."""
        return self.state in self.table.final_states

    @property
    def definition(self) -> str | None:
        """The key of the definition the order runs under (``orders@1``), or ``None`` if its
        table is not a registered one."""
        found = definition_of(self.table)
        return None if found is None else found.key

    @property
    def runtime(self) -> Runtime:
        """The runtime of the order's table under its policy, which answers every question
        about the order (:func:`~statemachine.runtime.runtime_for`); kept beside the order."""
        found = self._runtime
        if found is not None and found.policy is self.policy and found.table is self.table:
            return found
        found = self._runtime = runtime_for(self.table, self.policy)
        return found  # whose policy may be another object equal to the order's: found again

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The date ``moment`` falls on in the policy's time zone."""
        return to_local_date(moment, self.policy.timezone)

    def check_calendar(self, field: str, deadline: dt.datetime) -> None:
        """Record a warning when ``deadline`` falls in a year without an official schedule."""
        cal = self.policy.business_calendar
        if cal.schedule_is_official(deadline.year):
            return
        last = cal.last_official_year()
        self.warnings = (
            *self.warnings,
            OrderWarning(
                "calendar_unofficial",
                field,
                deadline.year,
                f"{field} {deadline.isoformat()} falls in {deadline.year}, but the installed "
                f"holidays package carries the official {self.policy.calendar} working-day "
                f"schedule only up to {last}; the date may move once the schedule is published. "
                "Upgrade holidays, or set extra_holidays / extra_working_days in the policy.",
            ),
        )

    # ----------------------------------------------------------------------------------------
    # Changing

    def fire(
        self,
        event_name: str,
        /,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        **data: object,
    ) -> FireResult:
        """Apply ``event_name`` at ``at``; raise, leaving the order as it was, if refused.

        Checks, in order: a duplicate ``event_id`` (R15, returns ``duplicate=True``), the input
        (:class:`InvalidInput`), time (R16), whether the state takes the event (R14 in a final
        state, else the rule that forbids it), then the event's guards in table order
        (:class:`EventRejected` naming the rule).
        """
        return self.runtime.fire(self, event_name, at, event_id, data)

    def tick(self, now: dt.datetime) -> list[FireResult]:
        """Fire the clock events due at ``now`` (R12 auto-close, R4 overdue); their results.

        The package never reads the wall clock: a sweep, a scheduler or a test passes ``now``.
        Nothing fires in a final state (R14). Empty when nothing is due.
        """
        now = require_aware(now, "now")
        results: list[FireResult] = []
        while (due := self.runtime.due_clock_event(self, now)) is not None:
            results.append(self.fire(due, at=now))
        return results

    def allowed_events(self, at: dt.datetime) -> tuple[str, ...]:
        """Events a caller may send at ``at``: the state and the time-based guards admit them.

        Event data is not judged (``dispatch`` is listed in ``paid`` without a tracking number);
        clock events are not listed. Empty when ``at`` is before the last record (R16). The
        events left out are exactly those :meth:`refusals` explains.
        """
        return self.runtime.allowed_events(self, at)

    def refusals(self, at: dt.datetime) -> dict[str, EventRejected]:
        """Every caller event not allowed at ``at``, with the refusal that says why (its rule,
        ``kind`` and facts): the reasons behind :meth:`allowed_events`. Event data is not
        judged."""
        return self.runtime.refusals(self, at)

    def explain(
        self,
        event_name: str,
        /,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        **data: object,
    ) -> EventRejected | InvalidInput | None:
        """The error :meth:`fire` would raise for this request, or ``None`` if it would be
        accepted (a duplicate of an applied event included). Changes nothing: ask before firing.
        """
        return self.runtime.explain(self, event_name, at, event_id, data)

    # ----------------------------------------------------------------------------------------
    # Typed events: each is fire() with the event's name

    def request_cancellation(self, *, at: dt.datetime, event_id: str | None = None) -> FireResult:
        """The customer asks to cancel (R2, R6)."""
        return self.fire("request_cancellation", at=at, event_id=event_id)

    def withdraw_cancellation(self, *, at: dt.datetime, event_id: str | None = None) -> FireResult:
        """The customer takes the cancellation request back."""
        return self.fire("withdraw_cancellation", at=at, event_id=event_id)

    def supplier_declines_cancellation(
        self, *, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """The supplier refuses to cancel; the order is ``paid`` again (R3)."""
        return self.fire("supplier_declines_cancellation", at=at, event_id=event_id)

    def supplier_accepts_cancellation(
        self, *, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """The supplier agrees to cancel; a full refund is pending (R4, R5)."""
        return self.fire("supplier_accepts_cancellation", at=at, event_id=event_id)

    def dispatch(
        self, *, tracking_number: str, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """The supplier shipped the parcel (R1, R3, R7)."""
        return self.fire("dispatch", at=at, event_id=event_id, tracking_number=tracking_number)

    def dispatch_deadline_expired(
        self, *, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """Clock: the R1 deadline passed without a dispatch (R12)."""
        return self.fire("dispatch_deadline_expired", at=at, event_id=event_id)

    def confirm_delivery(self, *, at: dt.datetime, event_id: str | None = None) -> FireResult:
        """Delivery is confirmed; the claim window opens (R13)."""
        return self.fire("confirm_delivery", at=at, event_id=event_id)

    def open_claim(
        self,
        *,
        reason: str,
        amount: Decimal | str,
        at: dt.datetime,
        listing_altered: bool = False,
        event_id: str | None = None,
    ) -> FireResult:
        """The customer claims after delivery (R8, R9, R11, R13)."""
        return self.fire(
            "open_claim",
            at=at,
            event_id=event_id,
            reason=reason,
            amount=amount,
            listing_altered=listing_altered,
        )

    def offer_goodwill_refund(
        self, *, amount: Decimal | str, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """The merchant offers a partial refund (R10, R11)."""
        return self.fire("offer_goodwill_refund", at=at, event_id=event_id, amount=amount)

    def decline_claim(self, *, at: dt.datetime, event_id: str | None = None) -> FireResult:
        """The claim is declined; the order is ``delivered`` again (R5)."""
        return self.fire("decline_claim", at=at, event_id=event_id)

    def settle_refund(
        self,
        *,
        at: dt.datetime,
        amount: Decimal | str | None = None,
        event_id: str | None = None,
    ) -> FireResult:
        """The pending refund is paid, by default in full (R5, R6, R11)."""
        return self.fire("settle_refund", at=at, event_id=event_id, amount=amount)

    def repayment_overdue(self, *, at: dt.datetime, event_id: str | None = None) -> FireResult:
        """Clock: the supplier's repayment is past its deadline (R4)."""
        return self.fire("repayment_overdue", at=at, event_id=event_id)

    def reimburse_customer(
        self, *, amount: Decimal | str, at: dt.datetime, event_id: str | None = None
    ) -> FireResult:
        """The merchant pays money back to the customer (R7, R11)."""
        return self.fire("reimburse_customer", at=at, event_id=event_id, amount=amount)

    # ----------------------------------------------------------------------------------------
    # Round trip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` turns back into an equal order (given the
        same table: the dict does not hold it)."""
        return unstructure_order(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, table: Table | None = None) -> Order:
        """The order ``data`` describes, its history replayed by ``table`` (``None``: the
        shipped table); :class:`InvalidInput` naming the field if malformed or if the table
        cannot produce it."""
        return structure_order(data, cls, table)

    # ----------------------------------------------------------------------------------------
    # For the runtime

    def find_event_id(self, event_id: str) -> HistoryRecord | None:
        """The history record that applied ``event_id`` (R15), or ``None``; no scan of the
        history: an index of its event ids is kept beside it."""
        history = self.history
        cached = self._event_ids
        if cached is None or cached[0] is not history:
            index = {r.event_id: i for i, r in enumerate(history) if r.event_id is not None}
            self._event_ids = (history, index)
        else:
            index = cached[1]
        i = index.get(event_id)
        if i is None:
            return None
        if i < len(history) and history[i].event_id == event_id:
            return history[i]
        # A copy of this order shares the index and added its own ids to it: look it up.
        return next((r for r in history if r.event_id == event_id), None)

    def record(self, record: HistoryRecord) -> None:
        """Append ``record`` to the history (the runtime's last step of an event)."""
        history = (*self.history, record)
        cached = self._event_ids
        if record.event_id is not None and cached is not None and cached[0] is self.history:
            cached[1][record.event_id] = len(self.history)
            self._event_ids = (history, cached[1])
        self.history = history

    def snapshot(self) -> tuple[Any, ...]:
        """Every field's value, in one call (for :meth:`restore`)."""
        saved: tuple[Any, ...] = _GET_FIELDS(self)
        return saved

    def restore(self, saved: tuple[Any, ...]) -> None:
        """Put back the field values of a :meth:`snapshot`."""
        for name, value in zip(_FIELDS, saved, strict=True):
            setattr(self, name, value)

    # ----------------------------------------------------------------------------------------
    # Copies and pickles

    def __getstate__(self) -> dict[str, Any]:
        """What a copy or a pickle keeps: every field but the runtime found for it, and the
        table unless it is the default one (a table holds functions, so an order pickles when
        its table is the default one or pickles itself)."""
        state = {name: getattr(self, name) for name in _STATE}
        if state["table"] is _DEFAULT_TABLE:
            del state["table"]
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """The order :meth:`__getstate__` kept."""
        for name in _STATE:
            if name in state:
                setattr(self, name, state[name])
        if "table" not in state:
            self.table = _DEFAULT_TABLE
        self._runtime = None


_FIELDS: Final[tuple[str, ...]] = tuple(a.name for a in json_fields(Order))
"""The order's data, which an event may change: every field but its table."""
_GET_FIELDS: Final = attrgetter(*_FIELDS)
_STATE: Final[tuple[str, ...]] = tuple(a.name for a in attrs.fields(Order) if a.name != "_runtime")


def _default_table() -> Table:
    default = attrs.fields(Order).table.default
    if not isinstance(default, Table):  # pragma: no cover - the field's default is a table
        raise TypeError(f"Order.table defaults to {default!r}")
    return default


_DEFAULT_TABLE: Final = _default_table()
"""The table of an order created without one: the default of :attr:`Order.table`."""
_DEFAULT_INITIAL: Final = _DEFAULT_TABLE.initial_state
"""Its initial state, read once: :meth:`Order.begin` passes it rather than have each new order
ask its table."""
