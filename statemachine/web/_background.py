"""Work the service does on its own: the sweeper and the outbox relay.

Both are safe with many instances. The sweeper calls the store's ``sweep``, which on
PostgreSQL takes due orders with ``FOR UPDATE SKIP LOCKED`` (two sweepers never fire the same
clock event) and on SQLite runs under the file's write lock. The relay delivers at least once:
two instances may send the same notification, and a crash between a receiver's 2xx and the
``ack`` sends it again, so every request carries the notification's id as its
``Idempotency-Key`` for the receiver to deduplicate.

Stopping (SIGTERM) sets an event; each loop finishes the item it is on (a sweep's transaction,
one delivery and its ``ack``) and then returns. Nothing is cut in the middle, so nothing is
applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Final
from urllib.parse import urlsplit

import anyio
import attrs
import httpx

from ..errors import CorruptOrder
from ..store import Delivery, OutboxItem
from ._problems import LOGGER
from ._security import SIGNATURE_HEADER, signature_header
from ._service import Service

__all__ = ["RELAY_BATCH", "Relay", "Sweeper", "backoff"]

RELAY_BATCH: Final = 100
"""Notifications the relay reads from the outbox at a time."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _pause(stopping: anyio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if the service is stopping."""
    with anyio.move_on_after(seconds):
        await stopping.wait()


class Sweeper:
    """Fires the due clock events (R12 auto-close, R4 overdue) every ``sweep_interval``."""

    def __init__(self, service: Service, stopping: anyio.Event) -> None:
        self.service = service
        self.stopping = stopping

    async def run(self) -> None:
        """Sweep until stopped; a failed sweep is logged and tried again next time."""
        interval = self.service.settings.sweep_interval
        while not self.stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                LOGGER.exception("the sweep failed; trying again in %g s", interval)
            await _pause(self.stopping, interval)

    async def sweep(self) -> int:
        """One round: sweep batches until a batch comes back short; how many events fired."""
        batch = self.service.settings.sweep_batch
        fired = 0
        while not self.stopping.is_set():
            swept = await self.service.store.sweep(_now(), batch)
            fired += len(swept)
            for skipped in swept.skipped:
                if isinstance(skipped.error, CorruptOrder):
                    LOGGER.warning("the sweep passed over order %s: corrupt", skipped.order_id)
            if len(swept) < batch:
                break
        if fired:
            LOGGER.info("the sweep fired %d clock events", fired)
        return fired


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: exponential, capped, with jitter
    (between half and all of ``base * 2 ** (attempts - 1)``), so retries do not come in
    waves."""
    exponent = min(max(attempts - 1, 0), 62)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * random.uniform(0.5, 1.0)


class Relay:
    """POSTs each notification of the outbox to ``relay_url``, signed, and acknowledges it on
    a 2xx; retries with backoff; after ``relay_attempts`` tries it is a dead letter (the store
    keeps every notification's tries, last error and status, :meth:`record_delivery
    <statemachine.store.SQLStore.record_delivery>`; a dead letter leaves the queue and is
    shown by the inspector)."""

    def __init__(self, service: Service, stopping: anyio.Event) -> None:
        self.service = service
        self.stopping = stopping
        settings = service.settings
        assert settings.relay_url is not None
        assert settings.relay_secret is not None
        self.url = settings.relay_url
        self.secret = settings.relay_secret
        self.path = urlsplit(self.url).path or "/"

    async def run(self) -> None:
        """Relay until stopped."""
        settings = self.service.settings
        async with httpx.AsyncClient(timeout=settings.relay_timeout) as client:
            while not self.stopping.is_set():
                try:
                    sent = await self.relay(client)
                except Exception:
                    LOGGER.exception("the outbox relay failed; trying again")
                    sent = 0
                if not sent:
                    await _pause(self.stopping, settings.relay_interval)

    async def relay(self, client: httpx.AsyncClient) -> int:
        """One pass over the head of the outbox; how many deliveries were tried."""
        service = self.service
        items = await service.store.outbox(RELAY_BATCH)
        if not items:
            return 0
        known = await service.store.deliveries([item.id for item in items])
        tried = 0
        for item in items:
            if self.stopping.is_set():
                break
            record = known.get(item.id)
            if record is not None and await self._settled(item, record):
                continue
            await self.deliver(client, item, record)
            tried += 1
        return tried

    async def _settled(self, item: OutboxItem, record: Delivery) -> bool:
        """Whether ``item`` needs no try now: finished already (then ack it: a record carried
        over from schema 2, when the relay's records lived apart from the queue), used up (a
        dead letter), or not due yet."""
        service = self.service
        if record.status == "retrying" and record.attempts >= service.settings.relay_attempts:
            await service.store.give_up(item.id, _now())
            record = attrs.evolve(record, status="dead")
        if record.status != "retrying":
            await service.store.ack([item.id])
            return True
        return record.next_attempt_at is not None and record.next_attempt_at > _now()

    def request(self, item: OutboxItem) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the request that delivers ``item``."""
        key = str(item.id)
        body = json.dumps(item.to_dict(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            SIGNATURE_HEADER: signature_header(self.secret, "POST", self.path, key, body),
            "User-Agent": "orderfsm-relay",
        }
        return body, headers

    async def deliver(
        self, client: httpx.AsyncClient, item: OutboxItem, record: Delivery | None
    ) -> bool:
        """One try of one notification; whether the receiver took it."""
        service, settings = self.service, self.service.settings
        body, headers = self.request(item)
        error: str | None = None
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        now = _now()
        attempts = (record.attempts if record is not None else 0) + 1
        if error is None:  # delivered: recorded, and out of the queue, in one transaction
            await service.store.record_delivery(
                item.id, status="acked", error=None, next_attempt_at=None, now=now
            )
            return True
        dead = attempts >= settings.relay_attempts
        wait = backoff(attempts, settings.relay_backoff, settings.relay_backoff_max)
        await service.store.record_delivery(
            item.id,
            status="dead" if dead else "retrying",
            error=error,
            next_attempt_at=None if dead else now + dt.timedelta(seconds=wait),
            now=now,
        )
        if dead:
            LOGGER.warning(
                "notification %d of order %s is a dead letter after %d tries: %s",
                item.id,
                item.order_id,
                attempts,
                error,
            )
        return False
