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
from typing import Final
from urllib.parse import urlsplit

import anyio
import httpx

from ..application import RelayPolicy, backoff, relay_batch, sweep_all
from ..errors import CorruptOrder
from ..store import OutboxItem
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
        """One round: sweep batches until a batch comes back short
        (:func:`statemachine.application.sweep_all`); how many events fired."""
        swept = await self.service.store.run(
            sweep_all, _now(), self.service.settings.sweep_batch, stopping=self.stopping.is_set
        )
        fired = len(swept)
        for skipped in swept.skipped:
            if isinstance(skipped.error, CorruptOrder):
                LOGGER.warning("the sweep passed over order %s: corrupt", skipped.order_id)
        if fired:
            LOGGER.info("the sweep fired %d clock events", fired)
        return fired


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
        """One pass over the head of the outbox (:func:`statemachine.application.relay_batch`);
        how many deliveries were tried."""
        settings = self.service.settings
        policy = RelayPolicy(
            settings.relay_attempts, settings.relay_backoff, settings.relay_backoff_max
        )

        async def send(item: OutboxItem) -> str | None:
            return await self.deliver(client, item)

        done = await relay_batch(
            self.service.store,
            send,
            policy,
            limit=RELAY_BATCH,
            now=_now,
            stopping=self.stopping.is_set,
        )
        return done["sent"] + done["failed"] + done["dead"]

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

    async def deliver(self, client: httpx.AsyncClient, item: OutboxItem) -> str | None:
        """One try of one notification: ``None`` if the receiver took it (a 2xx), else what
        went wrong (the relay use case records it)."""
        body, headers = self.request(item)
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        if not 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        return None
