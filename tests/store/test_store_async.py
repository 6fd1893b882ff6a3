"""The async stores (AsyncSQLiteStore, AsyncPostgresStore): the same apply as coroutines,
bounded, cancellation-safe, under asyncio and trio, on both real databases."""

from __future__ import annotations

import datetime as dt
import random

import anyio
import pytest
from store_helpers import PAID, StoreSpec, new_order, raw

from statemachine import EventRejected
from statemachine.store import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore

HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Each async test runs on asyncio and on trio."""
    return str(request.param)


def _open(spec: StoreSpec, pool_size: int = 4) -> AsyncStore:
    kind, target = spec
    if kind == "sqlite":
        return AsyncSQLiteStore(target)
    return AsyncPostgresStore(target, pool_size=pool_size)


@pytest.mark.anyio
async def test_the_operations_as_coroutines(spec: StoreSpec) -> None:
    """R2 R6 R15: add, apply, load, history, outbox, ack, sweep work as awaited calls, with
    the same results and refusals as the synchronous store."""
    async with _open(spec) as store:
        await store.add(new_order())
        applied = await store.apply("AE-1", "dispatch", at=PAID + HOUR, tracking_number="LP1")
        assert (applied.version, applied.order.state) == (2, "dispatched")
        with pytest.raises(EventRejected) as caught:
            await store.apply("AE-1", "request_cancellation", at=PAID + 2 * HOUR)
        assert caught.value.rule == "R2"
        assert (await store.load("AE-1")).version == 2
        assert [e.event for e in await store.history("AE-1")] == ["dispatch"]
        assert await store.outbox() == []
        await store.add_many([new_order("AE-2")])
        swept = await store.sweep(PAID + dt.timedelta(days=60))
        assert [a.order.order_id for a in swept] == ["AE-2"]
        await store.apply("AE-2", "reimburse_customer", at=PAID + dt.timedelta(days=61), amount="1")
        await store.add(new_order("AE-3"))
        await store.apply("AE-3", "request_cancellation", at=PAID + HOUR)
        (item,) = await store.outbox()
        assert item.notification.kind == "cancellation_request_received"
        assert await store.ack([item.id]) == 1


@pytest.mark.anyio
async def test_concurrent_deliveries_apply_each_event_once(spec: StoreSpec) -> None:
    """R15: 30 orders, each sent its dispatch three times at once (one event id) and a
    reimbursement race: every order ends dispatched with exactly one log row per event."""
    async with _open(spec, pool_size=5) as store:
        await store.add_many(new_order(f"AE-{i}") for i in range(30))
        results: list[bool] = []

        async def deliver(i: int) -> None:
            applied = await store.apply(
                f"AE-{i}", "dispatch", at=PAID + HOUR, event_id=f"d-{i}", tracking_number="LP"
            )
            results.append(applied.duplicate)

        async with anyio.create_task_group() as group:
            for i in list(range(30)) * 3:
                group.start_soon(deliver, i)
        assert sorted(results) == [False] * 30 + [True] * 60
        for i in range(30):
            assert [e.event for e in await store.history(f"AE-{i}")] == ["dispatch"]


@pytest.mark.anyio
async def test_concurrent_events_on_one_order_all_land(spec: StoreSpec) -> None:
    """R11 R7: ten reimbursements of one cancelled order sent at once all land, the version
    counts each, and the ledger stays within the amount paid."""
    async with _open(spec, pool_size=5) as store:
        await store.add(new_order())
        await store.apply("AE-1", "request_cancellation", at=PAID + HOUR)
        await store.apply("AE-1", "supplier_accepts_cancellation", at=PAID + HOUR)
        await store.apply("AE-1", "settle_refund", at=PAID + HOUR)

        async def reimburse(i: int) -> None:
            await store.apply(
                "AE-1", "reimburse_customer", at=PAID + 2 * HOUR, event_id=f"r-{i}", amount="1.00"
            )

        async with anyio.create_task_group() as group:
            for i in range(10):
                group.start_soon(reimburse, i)
        loaded = await store.load("AE-1")
        assert loaded.version == 4 + 10
        assert str(loaded.order.customer_refunded_total) == "10.00"


@pytest.mark.anyio
async def test_a_cancelled_await_applied_the_event_or_wrote_nothing(spec: StoreSpec) -> None:
    """R15 R16: applies cancelled at random moments either committed their event whole (log,
    row, outbox agree: history() checks them) or wrote nothing; what was committed is what the
    orders now hold."""
    rng = random.Random(7)
    async with _open(spec, pool_size=3) as store:
        await store.add_many(new_order(f"AE-{i}") for i in range(20))

        async def cancel_soon(i: int) -> None:
            with anyio.move_on_after(rng.random() / 200):
                await store.apply(f"AE-{i}", "request_cancellation", at=PAID + HOUR)

        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(cancel_soon, i)
        changed = 0
        for i in range(20):
            history = await store.history(f"AE-{i}")
            order = (await store.load(f"AE-{i}")).order
            assert [e.event for e in history] in ([], ["request_cancellation"])
            assert order.state == ("cancel_requested" if history else "paid")
            changed += bool(history)
        rows = raw(spec, "SELECT count(*) FROM outbox")[0][0]
        assert rows == changed  # one R6 confirmation per committed request, none otherwise


@pytest.mark.anyio
async def test_concurrency_is_bounded_by_the_connections(spec: StoreSpec) -> None:
    """The async store runs at most as many operations at once in its worker threads as it
    has connections: one on SQLite, pool_size on PostgreSQL."""
    async with _open(spec, pool_size=3) as store:
        running = 0
        seen = 0
        original = store.sync.state_counts

        def counting(*args: object) -> object:
            nonlocal running, seen
            running += 1
            seen = max(seen, running)
            try:
                import time

                time.sleep(0.02)
                return original()
            finally:
                running -= 1

        store.sync.state_counts = counting  # type: ignore[method-assign]
        await store.add(new_order())
        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(store.state_counts)
        assert seen == (1 if spec[0] == "sqlite" else 3)


@pytest.mark.anyio
async def test_closing_with_operations_queued_finishes_or_refuses_each(spec: StoreSpec) -> None:
    """Closing an async store while operations run and more wait for a connection: those
    running finish with their answers, those waiting never touch a closed connection (each is
    StoreUnavailable), and so is every operation after; nothing crashes."""
    import time

    from statemachine.errors import StoreUnavailable

    store = _open(spec, pool_size=2)
    await store.add(new_order())
    original = store.sync.state_counts

    def slow() -> dict[str, int]:
        time.sleep(0.2)
        return original()

    store.sync.state_counts = slow  # type: ignore[method-assign]
    results: list[object] = []

    async def count() -> None:
        try:
            results.append(await store.state_counts())
        except StoreUnavailable as exc:
            results.append(exc)

    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(count)
        await anyio.sleep(0.05)  # the first ones run, the others wait for a connection
        tasks.start_soon(store.aclose)
    answered = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, StoreUnavailable)]
    assert len(answered) + len(refused) == 6
    assert answered and refused
    assert all(r == {"paid": 1} for r in answered)
    with pytest.raises(StoreUnavailable):
        await store.get("AE-1")
    with pytest.raises(StoreUnavailable):
        await store.state_counts()
