"""Supplier business days, counted on the ``holidays`` calendar in the supplier's time zone.

The day of the event is day 0. A deadline of N business days ends at 23:59:59.999999 local time
on the Nth working day after the event's local date. Working days follow the country calendar of
``holidays`` (China by default, with its official make-up working days), then the policy's
overrides: extra holidays are never working days, extra working days always are.

Countries that publish their working-day schedule year by year (China moves days off and
make-up Saturdays around each holiday) are only known as far as the installed ``holidays``
release carries them. :meth:`BusinessCalendar.schedule_is_official` says whether a year is
carried; the order records a warning for a deadline that falls in a year that is not, instead of
silently trusting a guess.

Moments are compared as instants. Python compares two datetimes that share a ``tzinfo`` by
their wall clocks, ignoring ``fold``: in the repeated hour of a daylight-saving change, 01:30
(the first one) would count as later than 01:10 (the second). :func:`as_instant` gives every
moment that enters the package a fixed UTC offset (the one its own zone gives it), so every
comparison, deadline and round trip works on instants, in every zone.

The calendar ends at the ends of ``datetime`` (years 1 and 9999): a deadline that cannot be
counted there is :class:`~statemachine.errors.InvalidInput`, never an ``OverflowError``.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property, lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import holidays

from ..errors import InvalidInput

__all__ = [
    "MAX_SCAN_DAYS",
    "BusinessCalendar",
    "as_instant",
    "at_offset",
    "end_of_day",
    "given_window_end",
    "to_local_date",
    "zone",
]

_END_OF_DAY: Final = dt.time(23, 59, 59, 999999)
MAX_SCAN_DAYS: Final = 3660
"""How far (calendar days) a deadline is looked for; policies are bounded to stay within it."""


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The :class:`ZoneInfo` called ``name``, or :class:`InvalidInput` naming the time zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"unknown time zone {name!r}", field="timezone") from None


_FIXED: dict[dt.timedelta, dt.timezone] = {dt.timedelta(0): dt.UTC}
"""One fixed-offset zone per UTC offset seen, shared by every moment with that offset."""


def as_instant(moment: dt.datetime) -> dt.datetime:
    """``moment`` (aware) with a fixed UTC offset: the same instant and wall clock, so that it
    compares, subtracts and round-trips as an instant.

    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> first = dt.datetime(2026, 11, 1, 1, 30, tzinfo=ny)  # 01:30 EDT, the first 01:30
    >>> second = dt.datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=ny)  # 01:10 EST, an hour later
    >>> first < second, as_instant(first) < as_instant(second)
    (False, True)
    >>> as_instant(second).isoformat()
    '2026-11-01T01:10:00-05:00'
    """
    if type(moment.tzinfo) is dt.timezone:
        return moment
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"as_instant needs an aware datetime, got {moment!r}")
    return at_offset(moment, offset)


def at_offset(moment: dt.datetime, offset: dt.timedelta) -> dt.datetime:
    """``moment``'s wall clock at the fixed UTC ``offset`` (its own: ``moment.utcoffset()``)."""
    fixed = _FIXED.get(offset)
    if fixed is None:
        fixed = _FIXED.setdefault(offset, dt.timezone(offset))
    # The constructor, not replace(): several times faster, and fold means nothing at a fixed
    # offset.
    return dt.datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        fixed,
    )


def _out_of_range(what: str, moment: object) -> InvalidInput:
    return InvalidInput(
        f"{what} from {moment} cannot be counted: it falls outside the years 1 to 9999 that a "
        "datetime holds",
        field=None,
    )


def to_local_date(moment: dt.datetime, tz: str) -> dt.date:
    """The date ``moment`` falls on in time zone ``tz``."""
    try:
        return moment.astimezone(zone(tz)).date()
    except OverflowError:
        raise _out_of_range(f"the local date in {tz}", moment.isoformat()) from None


def end_of_day(day: dt.date, tz: str) -> dt.datetime:
    """The last instant (23:59:59.999999) of ``day`` in time zone ``tz``, as an instant."""
    try:
        return as_instant(dt.datetime.combine(day, _END_OF_DAY, tzinfo=zone(tz)))
    except OverflowError:
        raise _out_of_range(f"the end of {day} in {tz}", day.isoformat()) from None


def given_window_end(value: object, opened: dt.datetime, tz: str, field: str) -> dt.datetime:
    """A deadline taken as given (read back, never counted again): an aware datetime that ends a
    local day in ``tz`` after the local date of ``opened`` and within :data:`MAX_SCAN_DAYS` of
    it, as an instant; :class:`InvalidInput` naming ``field`` otherwise.

    Deadlines are computed once, when their window opens; an order read back keeps them, so a
    newer ``holidays`` release never moves one. What can be checked without counting again is
    their shape.
    """
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{field} must be an aware datetime, got {value!r}", field=field)
    moment = as_instant(value)
    try:
        local = moment.astimezone(zone(tz))
        start = to_local_date(opened, tz)
    except (OverflowError, InvalidInput):
        raise InvalidInput(f"{field} {moment.isoformat()} is out of range", field=field) from None
    if local.time() != _END_OF_DAY:
        raise InvalidInput(
            f"{field} {moment.isoformat()} does not end a day in {tz} (23:59:59.999999)",
            field=field,
        )
    if not 0 < (local.date() - start).days <= MAX_SCAN_DAYS:
        raise InvalidInput(
            f"{field} {moment.isoformat()} is not within {MAX_SCAN_DAYS} days after the window "
            f"opened on {start}",
            field=field,
        )
    return moment


@lru_cache(maxsize=64)
def _country_holidays(country: str) -> holidays.HolidayBase:
    """One ``holidays`` calendar per country, shared: building one costs about a millisecond,
    and every policy read back from storage would otherwise build its own."""
    return holidays.country_holidays(country)


@attrs.frozen(cache_hash=True)
class BusinessCalendar:
    """Working days of one supplier: a ``holidays`` country calendar plus overrides.

    >>> cal = BusinessCalendar("CN", "Asia/Shanghai")
    >>> cal.is_working_day(dt.date(2026, 2, 14))  # a make-up Saturday
    True
    >>> cal.is_working_day(dt.date(2026, 2, 17))  # Spring Festival
    False
    """

    country: str
    timezone: str
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        try:
            return _country_holidays(self.country)
        except NotImplementedError:
            raise InvalidInput(
                f"unknown holiday calendar {self.country!r}; use a country code that the "
                "holidays package supports, such as 'CN'",
                field="calendar",
            ) from None

    def validate(self) -> None:
        """Raise :class:`InvalidInput` now if the country or time zone is unknown."""
        zone(self.timezone)
        _ = self._holidays

    def is_working_day(self, day: dt.date) -> bool:
        """Whether the supplier works on ``day``: overrides first, then the country calendar."""
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        return bool(self._holidays.is_working_day(day))

    def nth_working_day_after(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``day`` itself is day 0)."""
        return _nth_working_day_after(self, day, n)

    def business_deadline(self, start: dt.datetime, days: int) -> dt.datetime:
        """End of the ``days``-th working day after ``start``'s local date, in local time.

        >>> cal = BusinessCalendar("CN", "Asia/Shanghai")
        >>> paid = dt.datetime(2026, 2, 13, 10, 0, tzinfo=zone("Asia/Shanghai"))
        >>> cal.business_deadline(paid, 7).isoformat()
        '2026-03-02T23:59:59.999999+08:00'
        """
        try:
            local = start.astimezone(self._zone).date()
        except OverflowError:
            raise _out_of_range(f"the local date in {self.timezone}", start.isoformat()) from None
        return _business_deadline(self, local, days)

    @cached_property
    def _zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def calendar_deadline(self, start: dt.datetime, days: int) -> dt.datetime:
        """End of the ``days``-th calendar day after ``start``'s local date, in local time."""
        local = to_local_date(start, self.timezone)
        try:
            day = local + dt.timedelta(days=days)
        except OverflowError:
            raise _out_of_range(f"a deadline {days} days on", local.isoformat()) from None
        return end_of_day(day, self.timezone)

    def last_official_year(self) -> int | None:
        """The last year whose official working-day schedule the installed ``holidays`` carries.

        ``None`` for calendars computed by rule alone (no year-by-year schedule to wait for).
        """
        _ = self._holidays  # an unknown country is InvalidInput, not a KeyError
        return _last_official_year(self.country)

    def schedule_is_official(self, year: int) -> bool:
        """Whether ``year``'s working days come from an official schedule, not a guess."""
        last = self._official_until
        return last is None or year <= last

    @cached_property
    def _official_until(self) -> int | None:
        return self.last_official_year()


@lru_cache(maxsize=64)
def _last_official_year(country: str) -> int | None:
    cal = _country_holidays(country)
    if not getattr(cal, "has_substituted_holidays", False):
        return None
    years = getattr(cal, "special_public_holidays", None) or {}
    return max(years) if years else None


@lru_cache(maxsize=4096)
def _business_deadline(cal: BusinessCalendar, day: dt.date, days: int) -> dt.datetime:
    """The deadline of ``days`` working days from ``day``: each (calendar, day, days) is
    counted once, so creating many orders paid on the same day costs no calendar work."""
    return end_of_day(_nth_working_day_after(cal, day, days), cal.timezone)


@lru_cache(maxsize=4096)
def _nth_working_day_after(cal: BusinessCalendar, day: dt.date, n: int) -> dt.date:
    if n < 0:
        raise ValueError(f"business days must be >= 0, got {n}")
    current, counted = day, 0
    for _ in range(MAX_SCAN_DAYS):
        if counted == n:
            return current
        if current == dt.date.max:
            raise _out_of_range(f"a deadline {n} business days on", day.isoformat())
        current += dt.timedelta(days=1)
        if cal.is_working_day(current):
            counted += 1
    raise InvalidInput(
        f"the supplier's calendar ({cal.country}, with the policy's extra holidays) has no {n} "
        f"working days within {MAX_SCAN_DAYS} days after {day}",
        field="extra_holidays",
    )
