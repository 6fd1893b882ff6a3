"""Group commit on SQLite: short writes waiting at once share one transaction and one commit
(SQLiteStore.run_together, and AsyncSQLiteStore's writer thread), each in a savepoint of its
own, each caller told its own outcome only once the commit is on disk."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from store_helpers import PAID, new_order

from statemachine import EventRejected
from statemachine.errors import ConcurrentUpdate, OrderExists, StoreUnavailable, UnknownOrder
from statemachine.store import Applied, AsyncSQLiteStore, SQLiteStore

HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Each async test runs on asyncio and on trio."""
    return str(request.param)


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_each_write_of_a_group_keeps_or_undoes_only_itself(tmp_path: Path) -> None:
    """R1 R2 R15: in one group, an id taken (by a write earlier in the same group) and an
    event refused get their own errors and leave nothing; the others are committed, and each
    sees the writes before it, as if run one after the other."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        dispatch = {"at": PAID + HOUR, "event_id": "d-1", "tracking_number": "LP1"}
        calls: list[Callable[[], object]] = [
            lambda: store.add(new_order("AE-1")),
            lambda: store.add(new_order("AE-2")),
            lambda: store.add(new_order("AE-1", PAID + HOUR)),  # taken, with other data
            lambda: store.apply("AE-1", "dispatch", **dispatch),  # sees AE-1 of this group
            lambda: store.apply("AE-1", "request_cancellation", at=PAID + 2 * HOUR),  # R2
            lambda: store.apply("AE-1", "dispatch", **dispatch),  # R15: a replay
        ]
        outcomes = store.run_together(calls)
        assert [o.error is None for o in outcomes] == [True, True, False, True, False, True]
        assert isinstance(outcomes[2].error, OrderExists)
        refused = outcomes[4].error
        assert isinstance(refused, EventRejected) and refused.rule == "R2"
        first, replay = outcomes[3].get(), outcomes[5].get()
        assert isinstance(first, Applied) and isinstance(replay, Applied)
        assert (first.version, first.order.state, first.duplicate) == (2, "dispatched", False)
        assert replay.duplicate
    assert _rows(path, "SELECT order_id, version, state FROM orders ORDER BY order_id") == [
        ("AE-1", 2, "dispatched"),
        ("AE-2", 1, "paid"),
    ]
    assert _rows(path, "SELECT order_id, event FROM order_log") == [("AE-1", "dispatch")]


def test_a_failed_commit_keeps_nothing_and_tells_every_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A group whose commit fails (here a deferred foreign key, checked only at the commit)
    keeps none of its writes, and every write of it gets the commit's error, each its own
    copy: one that had succeeded, and one refused because of a write of the group (an id
    taken by the group's first write), which the disk never held. The store forgets what it
    remembered meanwhile, so no read answers from a write not kept, and a warning says the
    events logged as applied were rolled back."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        with store._db.write() as tx:  # a table of the test's, checked at the commit
            tx.cur.execute(
                "CREATE TABLE probe (order_id TEXT REFERENCES orders (order_id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )

        def dangling() -> None:
            with store._db.write() as tx:
                tx.cur.execute("INSERT INTO probe VALUES ('no such order')")

        outcomes = store.run_together(
            [
                lambda: store.add(new_order("AE-1")),
                lambda: store.add(new_order("AE-1", PAID + HOUR)),  # taken by the first
                dangling,
                lambda: store.add(new_order("AE-2")),
            ]
        )
        errors = [o.error for o in outcomes]
        assert all(isinstance(e, sqlite3.IntegrityError) for e in errors)
        assert len({id(e) for e in errors}) == len(errors)  # each caller its own
        assert len(store._unit.cache) == 0
        with pytest.raises(UnknownOrder):
            store.load("AE-1")
    assert _rows(path, "SELECT count(*) FROM orders") == [(0,)]
    assert _rows(path, "SELECT count(*) FROM outbox") == [(0,)]
    assert "a group of 4 writes" in caplog.text and "rolled back" in caplog.text


def test_a_group_whose_transaction_sqlite_ends_keeps_nothing(tmp_path: Path) -> None:
    """When SQLite ends the group's transaction itself midway (as it does on an I/O error or a
    full disk; here a trigger's RAISE(ROLLBACK)), the writes before are gone too: every write
    of the group is told so (StoreUnavailable), none after it runs outside the group, and
    nothing is kept or remembered."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        store._db._conn.execute(  # type: ignore[attr-defined]
            "CREATE TEMP TRIGGER ends BEFORE INSERT ON orders WHEN NEW.order_id = 'AE-BAD' "
            "BEGIN SELECT RAISE(ROLLBACK, 'the transaction ended'); END"
        )
        ran: list[str] = []

        def third() -> int:
            ran.append("AE-3")
            return store.add(new_order("AE-3"))

        outcomes = store.run_together(
            [lambda: store.add(new_order("AE-1")), lambda: store.add(new_order("AE-BAD")), third]
        )
        assert all(isinstance(o.error, StoreUnavailable) for o in outcomes)
        assert ran == []
        assert len(store._unit.cache) == 0
    assert _rows(path, "SELECT count(*) FROM orders") == [(0,)]


def test_a_base_exception_in_a_group_keeps_nothing_and_forgets(tmp_path: Path) -> None:
    """A call that raises past Exception (SystemExit) rolls the whole group back and is raised
    on; the orders remembered while the group ran are forgotten, so a later read cannot be
    answered from a write that was never kept."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:

        def leave() -> None:
            raise SystemExit(3)

        with pytest.raises(SystemExit):
            store.run_together([lambda: store.add(new_order("AE-1")), leave])
        assert len(store._unit.cache) == 0
        with pytest.raises(UnknownOrder):
            store.load("AE-1")
    assert _rows(path, "SELECT count(*) FROM orders") == [(0,)]


def test_a_group_that_cannot_take_the_write_lock_writes_nothing(tmp_path: Path) -> None:
    """While another connection holds the file's write lock past the busy timeout, every
    write of the group gets ConcurrentUpdate (safe to retry) and nothing is written."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path, timeout=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            outcomes = store.run_together(
                [lambda: store.add(new_order("AE-1")), lambda: store.add(new_order("AE-2"))]
            )
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert all(isinstance(o.error, ConcurrentUpdate) for o in outcomes)
        store.add(new_order("AE-1"))  # the lock free again, the same write goes through
    assert _rows(path, "SELECT order_id FROM orders") == [("AE-1",)]


class _Gate:
    """Holds the store's writer thread inside a write (which first adds ``order_id``, if
    given) until opened."""

    def __init__(self, order_id: str | None = None) -> None:
        self.order_id = order_id
        self.entered = threading.Event()
        self.open = threading.Event()

    def work(self, store: SQLiteStore) -> str:
        if self.order_id is not None:
            store.add(new_order(self.order_id))
        self.entered.set()
        assert self.open.wait(10)
        return "held"

    async def until_entered(self) -> None:
        await anyio.to_thread.run_sync(self.entered.wait, 10)


async def _queued(store: AsyncSQLiteStore, count: int) -> None:
    """Wait until ``count`` writes wait behind the held one."""
    with anyio.fail_after(10):
        while len(store._together._waiting) < count:
            await anyio.sleep(0.001)


@pytest.mark.anyio
async def test_writes_waiting_together_commit_as_one_group(tmp_path: Path) -> None:
    """R1 R6: twenty creates sent while the writer is busy are committed as one group, and
    each caller gets its own order at version 1 (and its R6 notification queued)."""
    sizes: list[int] = []
    async with AsyncSQLiteStore(tmp_path / "orders.db") as store:
        real = store.sync.run_together  # type: ignore[attr-defined]

        def counted(calls: list[Callable[[], object]]) -> Any:
            sizes.append(len(calls))
            return real(calls)

        store.sync.run_together = counted  # type: ignore[attr-defined]
        gate = _Gate()
        versions: dict[str, int] = {}

        async def create(order_id: str) -> None:
            versions[order_id] = await store.add(new_order(order_id))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(store.run_write, gate.work)
            await gate.until_entered()
            for n in range(20):
                tasks.start_soon(create, f"AE-{n}")
            await _queued(store, 20)
            gate.open.set()
        assert sizes == [1, 20]
        assert versions == {f"AE-{n}": 1 for n in range(20)}
        assert (await store.load("AE-7")).order.state == "paid"


@pytest.mark.anyio
async def test_a_write_cancelled_before_its_group_never_runs(tmp_path: Path) -> None:
    """A caller that gives up while its write still waits leaves nothing written; one whose
    write had started waits for it to finish, so the write is kept whole."""
    async with AsyncSQLiteStore(tmp_path / "orders.db") as store:
        gate = _Gate()
        scopes: list[anyio.CancelScope] = []

        async def give_up_later() -> None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await store.add(new_order("AE-never"))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(store.run_write, gate.work)
            await gate.until_entered()
            tasks.start_soon(give_up_later)
            await _queued(store, 1)
            scopes[0].cancel()
            with anyio.fail_after(10):
                while store._together._waiting:  # it leaves the queue at once
                    await anyio.sleep(0.001)
            gate.open.set()
        assert scopes[0].cancelled_caught
        with pytest.raises(UnknownOrder):
            await store.load("AE-never")

        gate = _Gate("AE-held")
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(store.run_write, gate.work)
                await gate.until_entered()
                threading.Timer(0.05, gate.open.set).start()  # opens after the cancel
                scope.cancel()  # the held write has started: it finishes first
        assert scope.cancelled_caught
        assert gate.open.is_set()  # the task waited for its write to finish
        assert (await store.load("AE-held")).version == 1


@pytest.mark.anyio
async def test_closing_waits_for_queued_writes_then_refuses_more(tmp_path: Path) -> None:
    """aclose lets the writes already waiting commit, then the store takes no more: a write
    sent after is StoreUnavailable, never a crash or a write lost without a word."""
    path = tmp_path / "orders.db"
    store = AsyncSQLiteStore(path)
    gate = _Gate()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(store.run_write, gate.work)
        await gate.until_entered()
        for n in range(3):
            tasks.start_soon(store.add, new_order(f"AE-{n}"))
        await _queued(store, 3)
        tasks.start_soon(store.aclose)
        await anyio.sleep(0.01)
        gate.open.set()
    with pytest.raises(StoreUnavailable):
        await store.add(new_order("AE-late"))
    assert _rows(path, "SELECT order_id FROM orders ORDER BY order_id") == [
        ("AE-0",),
        ("AE-1",),
        ("AE-2",),
    ]


@pytest.mark.anyio
async def test_the_writer_thread_ends_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose owner never closes it holds no thread for long: the writer thread ends
    after a while without writes, and the next write starts another."""
    from statemachine.store import _together

    monkeypatch.setattr(_together, "IDLE_SECONDS", 0.05)

    def writers() -> int:
        return sum(t.name == "orderfsm-sqlite-writer" for t in threading.enumerate())

    async with AsyncSQLiteStore(tmp_path / "orders.db") as store:
        await store.add(new_order("AE-1"))
        with anyio.fail_after(10):
            while writers():
                await anyio.sleep(0.01)
        assert await store.add(new_order("AE-2")) == 1
        assert (await store.load("AE-2")).version == 1


# ------------------------------------------------------------------------------------------------
# The file under the store


def test_a_store_whose_file_was_deleted_or_replaced_stops_writing(tmp_path: Path) -> None:
    """R1 R15: a SQLite file deleted (or moved away) under an open store: every write, alone or
    in a group, is StoreUnavailable and the readiness check fails, instead of answering writes
    that go to a file nobody opens again; a file replaced by another is refused the same way,
    and the replacement is left as it was."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        store.add(new_order("AE-1"))
        moved = tmp_path / "moved.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                Path(f"{path}{suffix}").rename(f"{moved}{suffix}")
        with pytest.raises(StoreUnavailable, match="deleted or moved"):
            store.add(new_order("AE-2"))
        with pytest.raises(StoreUnavailable, match="deleted or moved"):
            store.apply("AE-1", "request_cancellation", at=PAID + HOUR)
        outcomes = store.run_together(
            [lambda: store.add(new_order("AE-3")), lambda: store.add(new_order("AE-4"))]
        )
        assert all(isinstance(o.error, StoreUnavailable) for o in outcomes)
        with pytest.raises(StoreUnavailable):
            store.ping()
        with SQLiteStore(path) as other:  # another file now at the path
            other.add(new_order("OTHER-1"))
        with pytest.raises(StoreUnavailable, match="replaced"):
            store.add(new_order("AE-5"))
    assert _rows(path, "SELECT order_id FROM orders") == [("OTHER-1",)]
    assert _rows(moved, "SELECT order_id, version FROM orders") == [("AE-1", 1)]


@pytest.mark.anyio
async def test_the_async_store_answers_a_deleted_file_as_unavailable(tmp_path: Path) -> None:
    """The async store's writes (its group commit) and its readiness check say the same."""
    path = tmp_path / "orders.db"
    async with AsyncSQLiteStore(path) as store:
        await store.add(new_order("AE-1"))
        path.unlink()
        with pytest.raises(StoreUnavailable):
            await store.add(new_order("AE-2"))
        with pytest.raises(StoreUnavailable):
            await store.ping()


def test_a_store_opened_by_a_relative_path_survives_a_change_of_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file check follows the file the store opened, not the path as written: after the
    process changes folder, a store opened as `orders.db` still writes (and is ready)."""
    monkeypatch.chdir(tmp_path)
    with SQLiteStore("orders.db") as store:
        monkeypatch.chdir("/")
        assert store.add(new_order("AE-1")) == 1
        store.ping()
    assert _rows(tmp_path / "orders.db", "SELECT order_id FROM orders") == [("AE-1",)]
