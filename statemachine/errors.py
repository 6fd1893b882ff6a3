"""The package's exceptions: one root, :class:`OrderError`, and two children.

* :class:`InvalidInput`: the request cannot be understood (also a :class:`ValueError`).
* :class:`EventRejected`: the request is understood and a rule refuses it.

Both carry data, not only a message, so a caller can branch on them.
"""

from __future__ import annotations

__all__ = ["EventRejected", "InvalidInput", "OrderError"]


class OrderError(Exception):
    """Root of every error this package raises on purpose."""


class InvalidInput(OrderError, ValueError):
    """The request cannot be understood: malformed data, unknown names, naive datetimes.

    ``field`` names what was wrong (``"amount"``, ``"history[2].at"``, ``"tracking_number"``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_invalid_input, (self.message, self.field))


class EventRejected(OrderError):
    """A rule refuses the event; the order is left exactly as it was.

    ``rule`` is the rule id that forbids it (``"R2"``), or ``None`` where no rule speaks and the
    state simply does not take the event. ``event`` and ``state`` name what was refused where.
    ``facts`` holds the values that decided (dates, amounts, tracking number) as strings.
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str | None,
        event: str,
        state: str,
        order_id: str,
        facts: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.event = event
        self.state = state
        self.order_id = order_id
        self.facts: dict[str, str] = dict(facts or {})

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_event_rejected,
            (self.message, self.rule, self.event, self.state, self.order_id, self.facts),
        )


def _rebuild_invalid_input(message: str, field: str | None) -> InvalidInput:
    return InvalidInput(message, field=field)


def _rebuild_event_rejected(
    message: str,
    rule: str | None,
    event: str,
    state: str,
    order_id: str,
    facts: dict[str, str],
) -> EventRejected:
    return EventRejected(
        message, rule=rule, event=event, state=state, order_id=order_id, facts=facts
    )
