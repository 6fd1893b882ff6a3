"""What the first screen of an order says, in words: where the money is, what went wrong,
what happens next and by when, and who must act. Built once, here, for every front end (the
inspector renders it; a command line or a message to a customer could render the same).

:func:`summarize` reads only the order and its own table (``order.table``, the version it
runs under), never a list of events written here:

* the deadlines are ``table.deadlines()``; one *binds* while a row that compares against it
  (its clock event's, or a row with a time guard on it) can still be taken from the order's
  state. A deadline that binds and has passed is overdue (an alarm) if the clock sends an
  event at it, closed (a fact) if only a guard reads it; one that no longer binds is done,
  met or missed, and says which event ended it and when;
* who must act comes from the parties the table gives its events (``EventSpec.sender``: the
  funder of a pending refund is whoever R9 blamed), and what the clock does at a deadline from
  the clock event it makes due (``EventSpec.due``);
* the money comes from the order's ledgers and its pending refund.

Times are in the supplier's zone (the order's policy), each a :class:`Moment` that knows its
zone, which reads as its UTC offset at that moment and the zone's country ("UTC+08:00 China",
:func:`zone_label`), never an abbreviation such as CST, which most readers take for US
Central time. A sentence is :class:`Words`: text and moments, so a front end can show each
moment its own way (the inspector adds UTC and the viewer's zone on hover) and ``str()``
gives plain text.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import zoneinfo
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

import attrs

from ..declaration._records import CANCELLATION_REASONS, HistoryRecord, Incident
from ..declaration._spec import Deadline, Table, TransitionSpec
from ..runtime._machine import require_aware
from ..runtime._order import Order

__all__ = [
    "Alert",
    "DeadlineStatus",
    "Moment",
    "MoneyLine",
    "Move",
    "Next",
    "Refusal",
    "Summary",
    "Words",
    "summarize",
    "zone_label",
]


# ------------------------------------------------------------------------------------------------
# Time, said without ambiguity


@functools.cache
def _countries() -> dict[str, str]:
    """Each zone of the tz database's ``zone.tab`` with its country's name (``iso3166.tab``),
    read from the first place that has both: the system's zone folders (``zoneinfo.TZPATH``),
    then the ``tzdata`` package. Empty where neither is installed."""
    for folder in _tab_folders():
        try:
            names = _tab(folder / "iso3166.tab")
            zones = _tab(folder / "zone.tab", column=2)
        except OSError:
            continue
        return {zone: names.get(code, code) for zone, code in zones.items()}
    return {}


def _tab_folders() -> Iterator[Path]:
    for place in zoneinfo.TZPATH:
        yield Path(place)
    try:
        folder = importlib.resources.files("tzdata") / "zoneinfo"
    except ModuleNotFoundError:
        return
    yield Path(str(folder))


def _tab(path: Path, column: int = 1) -> dict[str, str]:
    """A tz database table: the ``column``-th field of each line by its first (``iso3166.tab``:
    code to name), or, for ``column`` 2, the first field by the third (``zone.tab``: zone to
    code)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if column == 1 and len(fields) >= 2:
            found[fields[0]] = fields[1]
        elif column == 2 and len(fields) >= 3:
            found[fields[2]] = fields[0]
    return found


_KNOWN_PLACES: Final = {"Asia/Shanghai": "China"}
"""The place of the package's default zone where the tz database's tables are not installed."""
_UNIVERSAL: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Zulu"})


def _offset(moment: dt.datetime) -> str:
    offset = moment.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_label(zone: str, at: dt.datetime) -> str:
    """How a time in ``zone`` says its zone at the moment ``at``: its UTC offset then, and the
    zone's country (``Asia/Shanghai`` is ``"UTC+08:00 China"``; ``Europe/Berlin`` in July
    ``"UTC+02:00 Germany"``), or the zone's city where the country is unknown; ``"UTC"`` for
    UTC itself."""
    if zone in _UNIVERSAL:
        return "UTC"
    local = require_aware(at, "at").astimezone(ZoneInfo(zone))
    place = _countries().get(zone) or _KNOWN_PLACES.get(zone) or _city(zone)
    return f"{_offset(local)} {place}"


def _city(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@attrs.frozen
class Moment:
    """A time as the summary shows it: ``at`` in the zone named ``zone`` (an IANA name)."""

    at: dt.datetime
    zone: str

    @property
    def text(self) -> str:
        """The local date and time to the minute: ``2026-05-07 10:00``."""
        return f"{self.at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        """The zone as it was at this moment: ``UTC+08:00 China``."""
        return zone_label(self.zone, self.at)

    @property
    def iso(self) -> str:
        """ISO 8601 with the offset (for a ``<time datetime=...>``)."""
        return self.at.isoformat(timespec="seconds")

    def elsewhere(self, zone: str) -> Moment:
        """The same instant in ``zone``."""
        return Moment(self.at.astimezone(ZoneInfo(zone)), zone)

    def __str__(self) -> str:
        return self.text


def _moment(at: dt.datetime, zone: str) -> Moment:
    return Moment(at.astimezone(ZoneInfo(zone)), zone)


@attrs.frozen
class Words:
    """A sentence of the summary: text and :class:`Moment` parts. ``str()`` is plain text
    (each moment as its local time); a front end may show the moments its own way."""

    parts: tuple[str | Moment, ...]

    def __str__(self) -> str:
        return "".join(str(p) for p in self.parts)


def _words(*parts: str | Moment | None) -> Words:
    return Words(tuple(p for p in parts if p is not None and p != ""))


def span(delta: dt.timedelta) -> str:
    """A length of time in words: ``194 days``, ``1 day 4 h``, ``3 h 20 min``, ``5 min``."""
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days >= 2:
        return f"{days} days"
    if days == 1:
        return f"1 day {hours} h" if hours else "1 day"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


# ------------------------------------------------------------------------------------------------
# The summary's parts


MoneyKind = Literal["payment", "refund", "reimbursement", "owed", "claimed", "to_pay_back"]


@attrs.frozen
class MoneyLine:
    """One fact about the money: the ``payment`` to the supplier; a ``refund`` settled (by
    its funder); a ``reimbursement`` paid back to the customer; a cancellation refund still
    ``owed`` by the supplier; another refund asked for and pending (``claimed``: a claim,
    goodwill); or what is still ``to_pay_back`` to the customer."""

    kind: MoneyKind
    label: str
    """What it is, for a heading: ``Paid back to the customer``."""
    amount: Decimal
    words: Words
    """The rest of the sentence: the amount, when, by whom, and by when."""
    party: str | None = None
    """Who paid it, funds it or owes it."""
    at: Moment | None = None
    overdue: str | None = None
    """How long past its deadline money still owed is (``194 days``), if it is."""


@attrs.frozen
class Alert:
    """Something a person must look at: an incident (``kind`` its kind), or a deadline of the
    clock that passed while it still binds (``kind`` ``overdue``)."""

    kind: str
    rule: str | None
    words: Words
    at: Moment
    detail: str = ""
    """The incident's own detail, or the deadline's description."""


DeadlineState = Literal["open", "overdue", "closed", "met", "missed"]


@attrs.frozen
class DeadlineStatus:
    """One of the table's deadlines on this order.

    ``open``: ahead, and it binds. ``overdue``: passed while it binds, and the clock sends
    ``clock_event`` at it (an alarm). ``closed``: passed while it binds, read only by a guard
    (a window that closed: the events it guards are refused). ``met`` or ``missed``: it no
    longer binds; ``ended_by`` is the event that ended it, before or after the deadline.
    """

    name: str
    rule: str
    doc: str
    at: Moment
    state: DeadlineState
    words: Words
    clock_event: str | None = None
    ended_by: str | None = None

    @property
    def binds(self) -> bool:
        """Whether the order can still be held to it."""
        return self.state in ("open", "overdue", "closed")

    @property
    def title(self) -> str:
        """Its name in words: ``dispatch deadline``."""
        return self.name.replace("_", " ")


@attrs.frozen
class Move:
    """An event a caller may send now: who sends it (``sender``, the funder resolved) and the
    states it can lead to."""

    event: str
    sender: str | None
    doc: str
    to: tuple[str, ...]


@attrs.frozen
class Next:
    """What happens next: the deadline that comes first (an overdue one before any other), in
    ``words`` with who must act before it (``by``) and what the clock does at it; without a
    binding deadline, who the order waits on."""

    words: Words
    deadline: DeadlineStatus | None
    by: tuple[Move, ...]


@attrs.frozen
class Refusal:
    """An event refused now by a rule of its own (``R2``, ``R7``...), with the rule's
    message."""

    event: str
    rule: str
    kind: str
    message: str


@attrs.frozen
class Summary:
    """An order's first screen, in words (see the module's docstring).

    ``alerts`` first (incidents, late dispatches, overdue deadlines), then ``money`` (paid,
    refunded, paid back, owed and by whom, overdue by how long), ``next`` (the next deadline
    and who must act), ``moves`` (every event a caller may send now, with its sender),
    ``deadlines`` (each with its state: done ones say so, they are no alarms), ``journey``
    (the path taken, in words), and the refusals: ``refusals`` those a rule of their own
    explains, ``others`` every other event, refused for the one reason ``others_why``.
    """

    order_id: str
    state: str
    state_doc: str
    final: bool
    definition: str | None
    amount: Decimal
    currency: str
    zone: str
    """The supplier's zone (an IANA name), which every moment here is in."""
    zone_label: str
    """The zone now, in words: ``UTC+08:00 China``."""
    now: Moment
    alerts: tuple[Alert, ...]
    money: tuple[MoneyLine, ...]
    next: Next
    moves: tuple[Move, ...]
    deadlines: tuple[DeadlineStatus, ...]
    journey: Words
    refusals: tuple[Refusal, ...]
    others: tuple[str, ...]
    others_why: str

    def money_of(self, kind: MoneyKind) -> tuple[MoneyLine, ...]:
        """The money lines of one kind."""
        return tuple(line for line in self.money if line.kind == kind)


# ------------------------------------------------------------------------------------------------
# Building it


def customer_owed(order: Order) -> Decimal:
    """What the customer has been agreed back and not yet paid: every refund settled on the
    order, and a cancellation refund still pending (owed in full, R5), less what the merchant
    paid back (R11). Never below zero. R11 lets a reimbursement go up to the amount paid; more
    than this is money the customer was never agreed."""
    agreed = order.refunded_total
    pending = order.pending_refund
    if pending is not None and pending.reason in CANCELLATION_REASONS:
        agreed += pending.amount
    owed = agreed - order.customer_refunded_total
    return owed if owed > 0 else agreed - agreed


def summarize(order: Order, now: dt.datetime) -> Summary:
    """The first screen of ``order`` at ``now`` (aware), from the order and its own table."""
    now = require_aware(now, "now")
    table = order.table
    zone = order.policy.timezone
    deadlines = tuple(_deadline_status(order, d, now) for d in _held(order))
    moves = _moves(order, now)
    refused = order.refusals(now)
    blanket = table.final_prohibition.rule if order.is_final else None
    specific = tuple(
        Refusal(event, r.rule, r.kind, r.message)
        for event, r in refused.items()
        if r.rule is not None and r.rule != blanket
    )
    others = tuple(event for event, r in refused.items() if r.rule is None or r.rule == blanket)
    why = (
        f"{blanket}: the order is {order.state}, a final state"
        if blanket is not None
        else f"{order.state} does not take them"
    )
    return Summary(
        order_id=order.order_id,
        state=order.state,
        state_doc=table.state(order.state).doc,
        final=order.is_final,
        definition=order.definition,
        amount=order.amount,
        currency=order.currency,
        zone=zone,
        zone_label=zone_label(zone, now),
        now=_moment(now, zone),
        alerts=(*_incidents(order), *_overdue(order, deadlines, now)),
        money=tuple(_money(order, now)),
        next=_next(order, deadlines, moves, now),
        moves=moves,
        deadlines=deadlines,
        journey=_journey(order),
        refusals=specific,
        others=others,
        others_why=why,
    )


def _money_text(order: Order, amount: Decimal) -> str:
    return f"{amount} {order.currency}"


def _money(order: Order, now: dt.datetime) -> Iterator[MoneyLine]:
    zone = order.policy.timezone
    paid = _moment(order.paid_at, zone)
    yield MoneyLine(
        "payment",
        "Paid to the supplier",
        order.amount,
        _words(f"{_money_text(order, order.amount)} on ", paid, ", by the merchant"),
        "merchant",
        paid,
    )
    for entry in order.refunds:
        when = _moment(entry.at, zone)
        to = ", to the merchant" if entry.blame == "supplier" else ""
        yield MoneyLine(
            "refund",
            f"Refunded by the {entry.blame}",
            entry.amount,
            _words(f"{_money_text(order, entry.amount)} on ", when, f" ({entry.reason}){to}"),
            entry.blame,
            when,
        )
    for entry in order.customer_refunds:
        when = _moment(entry.at, zone)
        yield MoneyLine(
            "reimbursement",
            "Paid back to the customer",
            entry.amount,
            _words(f"{_money_text(order, entry.amount)} on ", when, ", by the merchant"),
            "merchant",
            when,
        )
    pending = order.pending_refund
    agreed = order.refunded_total
    if pending is not None:
        yield _pending_line(order, now)
        if pending.reason in CANCELLATION_REASONS:
            agreed += pending.amount  # agreed, and R7 lets the customer be paid back now
    to_pay = agreed - order.customer_refunded_total
    if to_pay > 0:
        yield MoneyLine(
            "to_pay_back",
            "Not yet paid back to the customer",
            to_pay,
            _words(
                f"{_money_text(order, to_pay)}, by the merchant (agreed "
                f"{_money_text(order, agreed)}, paid back "
                f"{_money_text(order, order.customer_refunded_total)})"
            ),
            "merchant",
        )


def _pending_line(order: Order, now: dt.datetime) -> MoneyLine:
    pending = order.pending_refund
    if pending is None:  # pragma: no cover - asked only with a pending refund
        raise AssertionError("no pending refund")
    zone = order.policy.timezone
    amount = _money_text(order, pending.amount)
    deadline = pending.repayment_deadline
    if pending.reason in CANCELLATION_REASONS:
        parts: list[str | Moment | None] = [
            f"{amount} ({pending.reason} refund, R9), to the merchant"
        ]
        if pending.repayment_earliest is not None:
            parts.append(f"; expected from {pending.repayment_earliest.isoformat()}")
        overdue = None
        if deadline is not None:
            parts += [", due by ", _moment(deadline, zone)]
            if deadline < now:
                overdue = span(now - deadline)
                parts.append(f"; overdue by {overdue}")
                if pending.overdue_escalated:
                    parts.append(", escalated")
                parts.append(" (R4)")
        return MoneyLine(
            "owed",
            f"Still owed by the {pending.blame}",
            pending.amount,
            _words(*parts),
            pending.blame,
            _moment(pending.opened_at, zone),
            overdue,
        )
    return MoneyLine(
        "claimed",
        f"Refund pending, funded by the {pending.blame}",
        pending.amount,
        _words(
            f"{amount} ({pending.reason}, R9), asked on ",
            _moment(pending.opened_at, zone),
            "; no rule sets a date for it (R4's repayment window is for cancellations)",
        ),
        pending.blame,
        _moment(pending.opened_at, zone),
    )


# -- incidents and overdue deadlines ---------------------------------------------------------

_INCIDENT_WORDS: Final = {
    "late_dispatch": "Dispatched {late} late",
    "dispatched_after_cancellation": "Dispatched after the cancellation was accepted",
}
"""The heading of each incident kind the shipped tables record (another reads as its kind)."""


def _incidents(order: Order) -> Iterator[Alert]:
    zone = order.policy.timezone
    for incident in order.incidents:
        late = _late_by(order, incident)
        heading = _INCIDENT_WORDS.get(incident.kind, incident.kind.replace("_", " ").capitalize())
        heading = heading.format(late=late or "")
        parts: list[str | Moment | None] = [
            f"{heading} ({incident.rule}), on ",
            _moment(incident.at, zone),
        ]
        missed = _missed_deadline(order, incident)
        if late is not None and missed is not None:
            parts += ["; the deadline was ", _moment(missed, zone)]
        yield Alert(
            incident.kind, incident.rule, _words(*parts), _moment(incident.at, zone),
            incident.detail,
        )  # fmt: skip


def _missed_deadline(order: Order, incident: Incident) -> dt.datetime | None:
    """The deadline of the incident's rule that the incident came after, if any."""
    for deadline in order.table.deadlines():
        moment = deadline.of(order)
        if deadline.rule == incident.rule and moment is not None and moment < incident.at:
            return moment
    return None


def _late_by(order: Order, incident: Incident) -> str | None:
    """How many days (the supplier's calendar dates) after its rule's deadline an incident
    came: ``12 days``."""
    missed = _missed_deadline(order, incident)
    if missed is None:
        return None
    return _days(max(1, (order.local_date(incident.at) - order.local_date(missed)).days))


def _overdue(
    order: Order, deadlines: Iterable[DeadlineStatus], now: dt.datetime
) -> Iterator[Alert]:
    """An alert for each deadline of the clock that passed while it binds, and for a repayment
    the clock escalated already (its deadline holds no more: R4 escalates once)."""
    zone = order.policy.timezone
    for d in deadlines:
        if d.state == "overdue":
            yield Alert(
                "overdue",
                d.rule,
                _words(
                    f"{d.title.capitalize()} passed {span(now - d.at.at)} ago ({d.rule}), at ",
                    d.at,
                    f"; the clock sends {d.clock_event} at its next sweep",
                ),
                d.at,
                d.doc,
            )
    pending = order.pending_refund
    deadline = None if pending is None else pending.repayment_deadline
    if pending is not None and pending.overdue_escalated and deadline is not None:
        yield Alert(
            "overdue",
            "R4",
            _words(
                f"The {pending.blame} has not repaid {_money_text(order, pending.amount)}: "
                f"overdue by {span(now - deadline)} (R4), due by ",
                _moment(deadline, zone),
                "; escalated",
            ),
            _moment(deadline, zone),
        )


# -- deadlines -------------------------------------------------------------------------------


def _held(order: Order) -> Iterator[Deadline]:
    """The table's deadlines the order holds a moment for."""
    for deadline in order.table.deadlines():
        if deadline.of(order) is not None:
            yield deadline


def _reads(row: TransitionSpec, deadline: Deadline, table: Table) -> bool:
    """Whether ``row`` compares against ``deadline``: its event is the clock event the
    deadline makes due, or one of its guards reads it."""
    spec = table.events.get(row.event)
    if spec is not None and spec.due is not None and spec.due.name == deadline.name:
        return True
    return any(g.deadline is not None and g.deadline.name == deadline.name for g in row.guards)


def _rows_reading(table: Table, deadline: Deadline) -> tuple[TransitionSpec, ...]:
    return tuple(row for row in table.rows if _reads(row, deadline, table))


def _binds(order: Order, deadline: Deadline) -> bool:
    """Whether a row that reads ``deadline`` can still be taken from the order's state (its
    selector holding; a policy switch does not matter: the deadline still binds the parties
    when the clock does not act on it)."""
    return any(
        order.state in row.sources and (row.when is None or row.when(order))
        for row in _rows_reading(order.table, deadline)
    )


def _clock_event(order: Order, deadline: Deadline) -> str | None:
    """The clock event that ``deadline`` makes due and that the order's state and policy take
    now, if any."""
    for name, spec in order.table.events.items():
        if spec.due is None or spec.due.name != deadline.name:
            continue
        if order.table.candidates(order, name):
            return name
    return None


def _binding_states(table: Table, deadline: Deadline) -> frozenset[str]:
    return frozenset(s for row in _rows_reading(table, deadline) for s in row.sources)


def _ended_by(order: Order, deadline: Deadline) -> HistoryRecord | None:
    """The last event that took the order out of the states where ``deadline`` binds."""
    states = _binding_states(order.table, deadline)
    for record in reversed(order.history):
        if record.source in states and record.dest not in states:
            return record
    return None


def _deadline_status(order: Order, deadline: Deadline, now: dt.datetime) -> DeadlineStatus:
    zone = order.policy.timezone
    moment = deadline.of(order)
    if moment is None:  # pragma: no cover - _held gives only deadlines the order holds
        raise AssertionError(deadline.name)
    at = _moment(moment, zone)
    clock = _clock_event(order, deadline)
    if _binds(order, deadline):
        if now <= moment:
            return DeadlineStatus(
                deadline.name, deadline.rule, deadline.doc, at, "open",
                _words(f"in {span(moment - now)}"), clock,
            )  # fmt: skip
        if clock is not None:
            return DeadlineStatus(
                deadline.name, deadline.rule, deadline.doc, at, "overdue",
                _words(f"overdue by {span(now - moment)}: the clock sends {clock}"), clock,
            )  # fmt: skip
        return DeadlineStatus(
            deadline.name, deadline.rule, deadline.doc, at, "closed",
            _words(f"closed {span(now - moment)} ago"),
        )  # fmt: skip
    record = _ended_by(order, deadline)
    if record is None:
        return DeadlineStatus(
            deadline.name, deadline.rule, deadline.doc, at, "met",
            _words(f"no longer applies: the order is {order.state}"),
        )  # fmt: skip
    when = _moment(record.at, zone)
    if record.at <= moment:
        return DeadlineStatus(
            deadline.name, deadline.rule, deadline.doc, at, "met",
            _words(f"ended in time by {record.event} on ", when), ended_by=record.event,
        )  # fmt: skip
    late = _days(max(1, (order.local_date(record.at) - order.local_date(moment)).days))
    spec = order.table.events.get(record.event)
    said = (
        f"missed: the clock sent {record.event} on "
        if spec is not None and spec.clock
        else f"missed: {record.event} came {late} late, on "
    )
    return DeadlineStatus(
        deadline.name, deadline.rule, deadline.doc, at, "missed", _words(said, when),
        ended_by=record.event,
    )  # fmt: skip


# -- who acts --------------------------------------------------------------------------------


def _moves(order: Order, now: dt.datetime) -> tuple[Move, ...]:
    out = []
    for event in order.allowed_events(now):
        spec = order.table.events[event]
        rows = order.table.candidates(order, event)
        to = tuple(dict.fromkeys(row.dest_from(order.state) for row in rows))
        out.append(Move(event, spec.sender(order), spec.doc, to))
    return tuple(out)


def _parties(moves: Iterable[Move], joint: str = "; ") -> str:
    """Who sends ``moves``, each with their events: ``the supplier (dispatch or
    supplier_accepts_cancellation); the customer (withdraw_cancellation)``."""
    by: dict[str, list[str]] = {}
    for move in moves:
        by.setdefault(move.sender or "nobody", []).append(move.event)
    return joint.join(f"the {party} ({' or '.join(events)})" for party, events in by.items())


def _next(
    order: Order, deadlines: tuple[DeadlineStatus, ...], moves: tuple[Move, ...], now: dt.datetime
) -> Next:
    """The first deadline that binds (an overdue one of the clock first, else the soonest
    ahead), who must act before it (the senders of the events allowed now that take the order
    where it no longer binds) and what the clock does at it; without one, who the order waits
    on (the senders of the events that change its state), or what it still takes."""
    overdue = [d for d in deadlines if d.state == "overdue"]
    ahead = sorted((d for d in deadlines if d.state == "open"), key=lambda d: d.at.at)
    first = overdue[0] if overdue else ahead[0] if ahead else None
    if first is None:
        if not moves:
            said = (
                f"Nothing more is expected: the order is {order.state}, a final state."
                if order.is_final
                else "Nothing can be sent now: the order waits for the clock."
            )
            return Next(_words(said), None, ())
        onward = tuple(m for m in moves if any(s != order.state for s in m.to))
        if order.is_final or not onward:
            lead = (
                f"The order is {order.state}, a final state"
                if order.is_final
                else "No deadline is ahead"
            )
            return Next(_words(f"{lead}; it still takes: {_parties(moves)}."), None, moves)
        return Next(_words(f"No deadline is ahead. Waits on {_parties(onward)}."), None, onward)
    binding = _binding_states(order.table, _deadline(order.table, first.name))
    ending = tuple(m for m in moves if any(s not in binding for s in m.to)) or moves
    what = f"the {first.rule} {first.title}"
    if first.clock_event is None:  # a window: the parties may act until it closes
        who = _parties(ending, " or ") if ending else "nobody"
        words = _words(
            "Until ", first.at, f" (in {span(first.at.at - now)}, {what}): {who} may act.",
        )  # fmt: skip
        return Next(words, first, ending)
    who = _parties(ending) if ending else "nobody"
    clock = first.clock_event
    if first.state == "overdue":
        words = _words(
            f"Overdue by {span(now - first.at.at)}: {what} was ", first.at,
            f". Up to {who}; the clock sends {clock} at its next sweep.",
        )  # fmt: skip
    else:
        words = _words(
            f"{who[0].upper()}{who[1:]} must act by ", first.at,
            f" (in {span(first.at.at - now)}, {what}); else the clock sends {clock}"
            f"{_clock_dest(order, clock)}.",
        )  # fmt: skip
    return Next(words, first, ending)


def _deadline(table: Table, name: str) -> Deadline:
    return next(d for d in table.deadlines() if d.name == name)


def _clock_dest(order: Order, event: str) -> str:
    """Where the clock event takes the order: `` (to refund_pending)``, or nothing."""
    rows = order.table.candidates(order, event)
    dest = rows[0].dest_from(order.state) if rows else order.state
    return f" (to {dest})" if dest != order.state else ""


# -- the journey -----------------------------------------------------------------------------


def _journey(order: Order) -> Words:
    """The states the order went through, and how many events it took."""
    states = [order.table.initial_state]
    stayed = []
    for record in order.history:
        if record.dest != record.source:
            states.append(record.dest)
        else:
            stayed.append(record.event)
    count = len(order.history)
    text = " → ".join(states)
    if count == 0:
        return _words(f"{text}: no event yet")
    tail = f"{count} event{'s' if count != 1 else ''}"
    if stayed:
        tail += f"; {', '.join(stayed)} left the state as it was"
    return _words(f"{text}: {tail}")
