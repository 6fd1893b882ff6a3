"""JSON forms of the package's values: one cattrs converter, shared by every ``to_dict``.

Plain JSON types only: amounts as decimal strings (``"25.00"``), moments as ISO 8601 with the
offset they were given (``"2026-03-02T09:00:00+08:00"``), dates as ISO dates, tuples as lists.
Reading is strict: a value of the wrong type is refused, never coerced (``"1"`` is not ``1``,
``1`` is not ``true``), and a naive time is refused (R16). A field marked :data:`OMITTED` is not
data and has no JSON form (an order's table): :func:`json_fields` are the fields there are.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough

from ..declaration._calendar import as_instant

__all__ = ["CONVERTER", "OMITTED", "json_fields", "to_json"]

OMITTED: Final = "statemachine.declaration._jsonform.omitted"
"""The metadata key (``attrs.field(metadata={OMITTED: True})``) of a field the JSON form leaves
out: not data of the value but what it runs by (an order's table), given again when it is read
back."""


def json_fields(cls: Any) -> tuple[attrs.Attribute[Any], ...]:
    """The fields of the attrs class ``cls`` its JSON form holds, in order: those set at
    creation and not :data:`OMITTED`."""
    return tuple(a for a in attrs.fields(cls) if a.init and not a.metadata.get(OMITTED))


def _omits(cls: Any) -> bool:
    return (
        isinstance(cls, type)
        and attrs.has(cls)
        and any(a.metadata.get(OMITTED) for a in attrs.fields(cls))
    )


def _omitted(cls: Any) -> dict[str, Any]:
    return {a.name: override(omit=True) for a in attrs.fields(cls) if a.metadata.get(OMITTED)}


_DECIMAL = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,10})?")


def _structure_decimal(value: object, _: type) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ValueError(f"expected a decimal string of ASCII digits, got {value!r}")
    return Decimal(value)


def _structure_datetime(value: object, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 datetime, got {value!r}") from None
    else:
        raise ValueError(f"expected an ISO 8601 datetime, got {value!r}")
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: a timezone offset is required (R16)")
    return as_instant(moment)


def _structure_date(value: object, _: type) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"expected a date, got the datetime {value!r}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected an ISO date, got {value!r}")


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, unstruct_collection_overrides={tuple: list})
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    configure_union_passthrough(str | bool, conv)
    conv.register_unstructure_hook_factory(
        _omits, lambda cls: make_dict_unstructure_fn(cls, conv, **_omitted(cls))
    )
    conv.register_structure_hook_factory(
        _omits, lambda cls: make_dict_structure_fn(cls, conv, **_omitted(cls))
    )
    return conv


CONVERTER: Final = _make_converter()
"""The converter: ``CONVERTER.unstructure(record)`` is its JSON form."""


def to_json(value: object) -> Any:
    """``value`` (a record, a tuple of them...) in its JSON form."""
    return CONVERTER.unstructure(value)
