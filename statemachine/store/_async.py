"""The stores as coroutines, for asyncio services (FastAPI, Starlette, Litestar) and, through
AnyIO, trio. Install with ``pip install 'order-statemachine[async]'``.

There is no async copy of the store algorithm: each operation runs the synchronous store's
own method in a worker thread (:func:`anyio.to_thread.run_sync`), so ``apply`` is the very
transaction :class:`~statemachine.store.SQLiteStore` and
:class:`~statemachine.store.PostgresStore` run. Concurrency is bounded: a
:class:`~anyio.CapacityLimiter` admits as many operations at once as there are connections
(a pool of ``pool_size`` on PostgreSQL, ``psycopg_pool``; one dedicated writer connection on
SQLite, which takes one writer at a time anyway, and commits the short writes waiting at once
together: :class:`AsyncSQLiteStore`).

Cancellation-safe: once an operation has started in its thread, a cancelled ``await`` waits
for it to finish (the thread is never abandoned), so the event was either applied and
committed, or nothing was written; the cancellation is then delivered. An operation cancelled
while still waiting for a free connection never starts.

>>> import anyio, datetime as dt, tempfile, os
>>> from statemachine import Order
>>> async def main(path):
...     async with AsyncSQLiteStore(path) as store:
...         paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
...         await store.add(Order.create("AE-1", "25.00", "USD", paid))
...         applied = await store.apply("AE-1", "dispatch", at=paid, tracking_number="LP1")
...         return applied.order.state
>>> with tempfile.TemporaryDirectory() as folder:
...     anyio.run(main, os.path.join(folder, "orders.db"))
'dispatched'
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread

from ..errors import ConcurrentUpdate, StoreUnavailable
from ..runtime._order import Order
from ._records import (
    Applied,
    Attention,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    DeliveryTry,
    Loaded,
    LogEntry,
    NotificationRow,
    OrderRow,
    OutboxItem,
    Reason,
    SortKey,
    Standing,
    Swept,
)
from ._sessions import Session
from ._store import DEFAULT_ATTEMPTS, SQLStore

__all__ = ["AsyncPostgresStore", "AsyncSQLiteStore", "AsyncStore"]

_T = TypeVar("_T")

READ_WAIT: Final = 10.0
"""Seconds an :class:`AsyncPostgresStore` read may go unanswered before it is
:class:`StoreUnavailable` (a server that froze keeps its connections open and silent)."""


class AsyncStore:
    """The operations of a synchronous store as coroutines, each in a worker thread, at most
    ``limit`` at once. Use :class:`AsyncSQLiteStore` or :class:`AsyncPostgresStore`."""

    def __init__(self, store: SQLStore, limit: int, read_wait: float | None = None) -> None:
        self._store = store
        self._limiter = anyio.CapacityLimiter(limit)
        self._closed = False
        self._read_wait = read_wait
        """The longest a read may go unanswered before it is :class:`StoreUnavailable`
        (``None``: no bound)."""

    @property
    def sync(self) -> SQLStore:
        """The synchronous store underneath (for scripts and tests)."""
        return self._store

    async def _run(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``call(*args, **kwargs)`` in a worker thread. A started operation finishes before
        a cancellation lands (``abandon_on_cancel=False``)."""
        return await self._thread(functools.partial(call, *args, **kwargs), None)

    async def _read(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A read (or the readiness check's rolled-back write): as :meth:`_run`, but a
        database that does not answer within ``read_wait`` seconds (a server frozen, a
        network gone silent) is :class:`StoreUnavailable` then, not a request left hanging.
        The worker thread is left to finish on its own: a read changes nothing."""
        return await self._thread(functools.partial(call, *args, **kwargs), self._read_wait)

    async def _thread(self, bound: Callable[[], _T], wait: float | None) -> _T:
        self._refuse_if_closed()

        def guarded() -> _T:  # it may have waited for a slot while the store closed
            self._refuse_if_closed()
            return bound()

        if wait is None:
            return await anyio.to_thread.run_sync(guarded, limiter=self._limiter)
        with anyio.move_on_after(wait):
            return await anyio.to_thread.run_sync(
                guarded, limiter=self._limiter, abandon_on_cancel=True
            )
        raise StoreUnavailable(
            self._store._db.where, f"the database did not answer a read within {wait:g} s"
        )

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise StoreUnavailable(self._store._db.where, "the store is closed")

    async def _write(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A short write of one order (:meth:`add`, :meth:`apply`, :meth:`run_write`): run as
        every operation is here; :class:`AsyncSQLiteStore` commits those waiting together."""
        return await self._run(call, *args, **kwargs)

    async def add(
        self, order: Order, *, source: str | None = "add", actor: str | None = None
    ) -> int:
        """:meth:`SQLStore.add`, awaited."""
        return await self._write(self._store.add, order, source=source, actor=actor)

    async def add_many(
        self, orders: Iterable[Order], *, source: str | None = "add", actor: str | None = None
    ) -> int:
        """:meth:`SQLStore.add_many`, awaited (``orders`` is read in the worker thread)."""
        return await self._run(self._store.add_many, list(orders), source=source, actor=actor)

    async def get(self, order_id: str) -> Order:
        """:meth:`SQLStore.get`, awaited."""
        return await self._read(self._store.get, order_id)

    async def load(self, order_id: str) -> Loaded:
        """:meth:`SQLStore.load`, awaited."""
        return await self._read(self._store.load, order_id)

    async def apply(
        self,
        order_id: str,
        event: str,
        /,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        source: str | None = None,
        expected_version: int | None = None,
        actor: str | None = None,
        note: str | None = None,
        **data: object,
    ) -> Applied:
        """:meth:`SQLStore.apply`, awaited: applied and committed, or nothing written."""
        return await self._write(
            self._store.apply,
            order_id,
            event,
            at=at,
            event_id=event_id,
            source=source,
            expected_version=expected_version,
            actor=actor,
            note=note,
            **data,
        )

    async def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """:meth:`SQLStore.history`, awaited."""
        return await self._read(self._store.history, order_id)

    async def sweep(self, now: dt.datetime, limit: int = 100) -> Swept:
        """:meth:`SQLStore.sweep`, awaited."""
        return await self._run(self._store.sweep, now, limit)

    async def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """:meth:`SQLStore.outbox`, awaited."""
        return await self._read(self._store.outbox, limit)

    async def ack(self, notification_ids: Iterable[int]) -> int:
        """:meth:`SQLStore.ack`, awaited."""
        return await self._run(self._store.ack, list(notification_ids))

    async def orders(
        self,
        *,
        state: str | None = None,
        due_before: dt.datetime | None = None,
        sort: SortKey | None = None,
        descending: bool = False,
        after: tuple[object, str] | None = None,
        limit: int = 100,
    ) -> list[OrderRow]:
        """:meth:`SQLStore.orders`, awaited."""
        return await self._read(
            self._store.orders,
            state=state,
            due_before=due_before,
            sort=sort,
            descending=descending,
            after=after,
            limit=limit,
        )

    async def search(
        self, text: str, *, limit: int = 100, after: str | None = None
    ) -> list[OrderRow]:
        """:meth:`SQLStore.search`, awaited."""
        return await self._read(self._store.search, text, limit=limit, after=after)

    async def attention(
        self,
        now: dt.datetime,
        *,
        reasons: Iterable[Reason] | None = None,
        sweep_grace: dt.timedelta | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Attention]:
        """:meth:`SQLStore.attention`, awaited."""
        return await self._read(
            self._store.attention,
            now,
            reasons=None if reasons is None else list(reasons),
            sweep_grace=sweep_grace,
            limit=limit,
            after=after,
        )

    async def state_counts(self) -> dict[str, int]:
        """:meth:`SQLStore.state_counts`, awaited."""
        return await self._read(self._store.state_counts)

    async def notifications(self, order_id: str) -> list[NotificationRow]:
        """:meth:`SQLStore.notifications`, awaited."""
        return await self._read(self._store.notifications, order_id)

    async def deliveries(self, notification_ids: Iterable[int]) -> dict[int, Delivery]:
        """:meth:`SQLStore.deliveries`, awaited."""
        return await self._read(self._store.deliveries, list(notification_ids))

    async def dead_letters(self, limit: int = 100) -> list[Delivery]:
        """:meth:`SQLStore.dead_letters`, awaited."""
        return await self._read(self._store.dead_letters, limit)

    async def dead_letter_count(self) -> int:
        """:meth:`SQLStore.dead_letter_count`, awaited."""
        return await self._read(self._store.dead_letter_count)

    async def record_delivery(
        self,
        notification_id: int,
        *,
        status: DeliveryStatus,
        error: str | None,
        next_attempt_at: dt.datetime | None,
        now: dt.datetime,
        answer: str | None = None,
        owner: str | None = None,
    ) -> int:
        """:meth:`SQLStore.record_delivery`, awaited."""
        return await self._run(
            self._store.record_delivery,
            notification_id,
            status=status,
            error=error,
            next_attempt_at=next_attempt_at,
            now=now,
            answer=answer,
            owner=owner,
        )

    async def claim(
        self, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int = 10
    ) -> list[OutboxItem]:
        """:meth:`SQLStore.claim`, awaited."""
        return await self._run(self._store.claim, owner, now, lease, limit)

    async def release(self, owner: str) -> int:
        """:meth:`SQLStore.release`, awaited."""
        return await self._run(self._store.release, owner)

    async def tries(self, notification_id: int) -> list[DeliveryTry]:
        """:meth:`SQLStore.tries`, awaited."""
        return await self._read(self._store.tries, notification_id)

    async def delivery_states(
        self, standing: Standing | None = None, *, after: int | None = None, limit: int = 100
    ) -> list[DeliveryState]:
        """:meth:`SQLStore.delivery_states`, awaited."""
        return await self._read(self._store.delivery_states, standing, after=after, limit=limit)

    async def delivery_state(self, notification_id: int) -> DeliveryState | None:
        """:meth:`SQLStore.delivery_state`, awaited."""
        return await self._read(self._store.delivery_state, notification_id)

    async def open_session(
        self,
        session_id: str,
        *,
        credential: str,
        secret_print: str,
        csrf: str,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        """:meth:`SQLStore.open_session`, awaited."""
        await self._run(
            self._store.open_session,
            session_id,
            credential=credential,
            secret_print=secret_print,
            csrf=csrf,
            now=now,
            expires_at=expires_at,
        )

    async def session(self, session_id: str, now: dt.datetime) -> Session | None:
        """:meth:`SQLStore.session`, awaited."""
        return await self._read(self._store.session, session_id, now)

    async def end_session(self, session_id: str) -> bool:
        """:meth:`SQLStore.end_session`, awaited."""
        return await self._run(self._store.end_session, session_id)

    async def end_sessions_unlike(self, current: Mapping[str, str]) -> int:
        """:meth:`SQLStore.end_sessions_unlike`, awaited."""
        return await self._run(self._store.end_sessions_unlike, dict(current))

    async def outbox_depth(self) -> int:
        """:meth:`SQLStore.outbox_depth`, awaited."""
        return await self._read(self._store.outbox_depth)

    async def oldest_pending_at(self) -> dt.datetime | None:
        """:meth:`SQLStore.oldest_pending_at`, awaited."""
        return await self._read(self._store.oldest_pending_at)

    async def give_up(self, notification_id: int, now: dt.datetime) -> None:
        """:meth:`SQLStore.give_up`, awaited."""
        await self._run(self._store.give_up, notification_id, now)

    async def redeliver(self, notification_ids: Iterable[int] | None = None) -> int:
        """:meth:`SQLStore.redeliver`, awaited."""
        ids = None if notification_ids is None else list(notification_ids)
        return await self._run(self._store.redeliver, ids)

    async def run(self, work: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """``work(store, *args, **kwargs)`` with the synchronous store, in a worker thread as
        every operation is: for a use case of several store calls
        (:mod:`statemachine.application`), run as one piece of work."""
        return await self._run(work, self._store, *args, **kwargs)

    async def run_write(self, work: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """:meth:`run` for a short use case that writes one order (the application's
        ``create`` and ``fire``). The same here; :class:`AsyncSQLiteStore` commits several
        such writes waiting at once together."""
        return await self._write(work, self._store, *args, **kwargs)

    async def rebuild(self, order_id: str) -> Loaded:
        """:meth:`SQLStore.rebuild`, awaited."""
        return await self._run(self._store.rebuild, order_id)

    async def ping(self) -> None:
        """:meth:`SQLStore.ping`, awaited."""
        await self._read(self._store.ping)

    async def aclose(self) -> None:
        """Take no more operations (each then is :class:`StoreUnavailable`), wait for those
        running, then close the connections. Those still waiting for a connection never
        start: they are told the store is closed."""
        self._closed = True
        while self._limiter.borrowed_tokens:
            await anyio.sleep(0.005)
        await anyio.to_thread.run_sync(self._store.close)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"


class AsyncSQLiteStore(AsyncStore):
    """:class:`~statemachine.store.SQLiteStore` as coroutines, on two connections to the file.

    **Writes** run in a worker thread on one connection, one at a time (SQLite takes one
    writer at a time anyway). The short ones (:meth:`add`, :meth:`apply`, :meth:`run_write`:
    one order each) that wait at the same time are committed together, one ``fsync`` for the
    group instead of one each, every one in a savepoint of its own and answered only once the
    group's commit is on disk (:mod:`statemachine.store._together`).

    **The reads of one order** (:meth:`get`, :meth:`load`, :meth:`history`) run inline, on
    the second connection. Such a read takes tens of microseconds, less than handing it to a
    thread and back, which would also queue it behind the writes. In WAL mode a reader never
    waits for the writer, so the reading connection runs on the event loop itself, with no
    busy timeout: in the rare moment when the file is locked even for readers (another process
    holding it in exclusive mode, or recovering it after a crash), the read goes to the worker
    thread instead and waits there, never on the loop. Each read is one statement, which sees
    every write committed before it, this store's included. The two connections share the
    checked orders the store remembers, so an order just written is read back without being
    made again. The listings and the outbox run in the worker thread: they may scan many
    rows.

    ``create=False`` opens only a file that exists, as :class:`~statemachine.store.SQLiteStore`
    does."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        max_attempts: int = DEFAULT_ATTEMPTS,
        create: bool = True,
    ) -> None:
        from ._sqlite import SQLiteStore
        from ._together import Together

        writer = SQLiteStore(path, timeout=timeout, max_attempts=max_attempts, create=create)
        try:
            reader = SQLiteStore(path, timeout=timeout, max_attempts=max_attempts, create=False)
        except BaseException:
            writer.close()
            raise
        try:
            with reader._db.statements() as cur:  # opened (and checked); now never wait
                cur.execute("PRAGMA busy_timeout = 0")
        except BaseException:
            reader.close()
            writer.close()
            raise
        reader._unit.cache = writer._unit.cache
        self._reader = reader
        super().__init__(writer, 1)
        self._together = Together(writer)

    async def _write(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Committed together with the writes waiting with it (see the class docstring)."""
        return await self._together.run(functools.partial(call, *args, **kwargs))

    async def get(self, order_id: str) -> Order:
        """:meth:`SQLStore.get`, inline (see the class docstring)."""
        return (await self.load(order_id)).order

    async def load(self, order_id: str) -> Loaded:
        """:meth:`SQLStore.load`, inline (see the class docstring)."""
        self._refuse_if_closed()
        try:
            return self._reader.load(order_id)
        except ConcurrentUpdate:  # the file is locked even for readers: wait in the thread
            return await self._read(self._store.load, order_id)

    async def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """:meth:`SQLStore.history`, inline (see the class docstring)."""
        self._refuse_if_closed()
        try:
            return self._reader.history(order_id)
        except ConcurrentUpdate:  # the file is locked even for readers: wait in the thread
            return await self._read(self._store.history, order_id)

    async def aclose(self) -> None:
        """Wait for the writes waiting and running, then close both connections."""
        try:
            await self._together.aclose()
            await super().aclose()
        finally:
            self._reader.close()


class AsyncPostgresStore(AsyncStore):
    """:class:`~statemachine.store.PostgresStore` as coroutines over a pool of at most
    ``pool_size`` connections: that many operations run at once."""

    def __init__(
        self, dsn: str, *, pool_size: int = 10, max_attempts: int = DEFAULT_ATTEMPTS
    ) -> None:
        from ._postgres import PostgresStore

        store = PostgresStore(dsn, max_attempts=max_attempts, pool_size=pool_size)
        super().__init__(store, pool_size, read_wait=READ_WAIT)
