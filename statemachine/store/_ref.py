"""Which store a name means: the one reading of ``ORDERFSM_DB`` for the command line and the
service.

``ORDERFSM_DB`` is a SQLite path or a ``postgresql://`` URL (``postgres://`` too), whoever
reads it: every ``orderfsm`` command, ``orderfsm serve``, ``python -m statemachine.web`` and
:func:`~statemachine.web.app_from_env`. ``ORDERFSM_DSN`` (a PostgreSQL connection string in any
form libpq takes) is read by the service only. No store is opened here: this module only says
which store a name means, so that the core, the command line and the service share it without
importing one another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import attrs

__all__ = ["DB_ENV", "DSN_ENV", "StoreRef", "in_memory", "store_in_env"]

DB_ENV: Final = "ORDERFSM_DB"
"""The store, for every reader: a SQLite path, or a ``postgresql://`` URL."""
DSN_ENV: Final = "ORDERFSM_DSN"
"""A PostgreSQL connection string, for the service (``app_from_env``)."""
_URL_SCHEMES: Final = ("postgresql://", "postgres://")


def in_memory(target: str) -> bool:
    """Whether a SQLite name keeps nothing in a file of its own: a database in memory
    (``:memory:``, an empty name) or a ``file:`` URI (``file::memory:``, ``?mode=memory``;
    SQLite reads such a name as a URI, and a store takes paths). The command line and the
    service refuse such a name alike."""
    name = target.strip()
    return not name or name == ":memory:" or name.lower().startswith("file:")


@attrs.frozen
class StoreRef:
    """A store named but not opened: a SQLite file, or a PostgreSQL connection string."""

    kind: Literal["sqlite", "postgres"]
    target: str

    @classmethod
    def named(cls, name: str) -> StoreRef:
        """What ``ORDERFSM_DB`` means by ``name``: a ``postgresql://`` (or ``postgres://``) URL
        is the PostgreSQL server, anything else the path of a SQLite file.

        >>> StoreRef.named("orders.db")
        StoreRef(kind='sqlite', target='orders.db')
        >>> StoreRef.named("postgresql://shop@db/orders").kind
        'postgres'
        """
        if name.startswith(_URL_SCHEMES):
            return cls("postgres", name)
        return cls("sqlite", name)


def store_in_env(environ: Mapping[str, str]) -> StoreRef | None:
    """The store ``ORDERFSM_DB`` names in ``environ`` (blank or unset: ``None``)."""
    name = environ.get(DB_ENV, "").strip()
    return StoreRef.named(name) if name else None
