"""The merchant's policy: the numbers and switches the rules are counted with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any, Final

import attrs

from ..errors import InvalidInput
from ._calendar import BusinessCalendar

__all__ = ["DEFAULT_POLICY", "MAX_BUSINESS_DAYS", "MAX_CLAIM_WINDOW_DAYS", "Policy"]


MAX_BUSINESS_DAYS: Final = 365
"""The longest dispatch or repayment window a policy may set, in business days."""
MAX_CLAIM_WINDOW_DAYS: Final = 3650
"""The longest claim window a policy may set, in calendar days (ten years)."""


def _dates(value: object, field: str) -> tuple[dt.date, ...]:
    """``field``'s list of dates (or ISO strings) as a sorted tuple without repeats."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(
            f"policy {field} must be a list of dates (ISO strings or dates), got {value!r}",
            field=field,
        )
    out: set[dt.date] = set()
    for item in value:
        if isinstance(item, dt.datetime):
            raise InvalidInput(
                f"policy {field} lists dates, got the datetime {item!r}", field=field
            )
        if isinstance(item, dt.date):
            out.add(item)
        elif isinstance(item, str):
            try:
                out.add(dt.date.fromisoformat(item))
            except ValueError:
                raise InvalidInput(
                    f"policy {field} lists ISO dates, got {item!r}", field=field
                ) from None
        else:
            raise InvalidInput(f"policy {field} lists dates, got {item!r}", field=field)
    return tuple(sorted(out))


def _extra_holidays(value: object) -> tuple[dt.date, ...]:
    return _dates(value, "extra_holidays")


def _extra_working_days(value: object) -> tuple[dt.date, ...]:
    return _dates(value, "extra_working_days")


def _days(most: int) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise InvalidInput(
                f"policy {attribute.name} must be a whole number from 1 to {most}, got {value!r}",
                field=attribute.name,
            )

    return check


def _pair(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _repayment_days(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 1 <= value[0] <= value[1] <= MAX_BUSINESS_DAYS
    ):
        raise InvalidInput(
            "policy repayment_business_days must be (earliest, latest) whole numbers with "
            f"1 <= earliest <= latest <= {MAX_BUSINESS_DAYS}, got {value!r}",
            field=attribute.name,
        )


def _flag(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInput(
            f"policy {attribute.name} must be True or False, got {value!r}", field=attribute.name
        )


def _text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"policy {attribute.name} must be a non-blank string, got {value!r}",
            field=attribute.name,
        )


@attrs.frozen(cache_hash=True)
class Policy:
    """How the rules are counted for a merchant; every value has the specification's default.

    >>> Policy().dispatch_business_days
    7
    >>> Policy(extra_holidays=["2026-03-03"]).extra_holidays
    (datetime.date(2026, 3, 3),)
    """

    dispatch_business_days: int = attrs.field(default=7, validator=_days(MAX_BUSINESS_DAYS))
    """R1: business days the supplier has to dispatch."""
    repayment_business_days: tuple[int, int] = attrs.field(
        default=(3, 15), converter=_pair, validator=_repayment_days
    )
    """R4: earliest and latest business day of the supplier's repayment."""
    claim_window_days: int = attrs.field(default=15, validator=_days(MAX_CLAIM_WINDOW_DAYS))
    """R13: calendar days after delivery to open a claim."""
    auto_close_unshipped: bool = attrs.field(default=True, validator=_flag)
    """R12: close an order not dispatched by the R1 deadline."""
    calendar: str = attrs.field(default="CN", validator=_text)
    """Country code of the supplier's ``holidays`` calendar."""
    timezone: str = attrs.field(default="Asia/Shanghai", validator=_text)
    """The supplier's IANA time zone; deadlines end at local midnight."""
    extra_holidays: tuple[dt.date, ...] = attrs.field(default=(), converter=_extra_holidays)
    """Days the supplier does not work although the country calendar says it does."""
    extra_working_days: tuple[dt.date, ...] = attrs.field(default=(), converter=_extra_working_days)
    """Days the supplier works although the country calendar says it does not."""

    def __attrs_post_init__(self) -> None:
        both = set(self.extra_holidays) & set(self.extra_working_days)
        if both:
            days = ", ".join(d.isoformat() for d in sorted(both))
            raise InvalidInput(
                f"policy lists {days} both as an extra holiday and an extra working day",
                field="extra_working_days",
            )
        self.business_calendar.validate()

    @cached_property
    def business_calendar(self) -> BusinessCalendar:
        """The supplier's working days under this policy."""
        return BusinessCalendar(
            self.calendar,
            self.timezone,
            frozenset(self.extra_holidays),
            frozenset(self.extra_working_days),
        )


DEFAULT_POLICY = Policy()
"""The specification's defaults, shared by every order created without a policy."""
