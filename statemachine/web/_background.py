"""Work the service does on its own: the sweeper and the outbox relay.

Both are safe with many instances. The sweeper calls the store's ``sweep``, which on
PostgreSQL takes due orders with ``FOR UPDATE SKIP LOCKED`` (two sweepers never fire the same
clock event) and on SQLite runs under the file's write lock. The relay claims each
notification before sending it, with a lease in the store, so two workers or instances never
send the same one at the same time. It still delivers at least once: a crash between a
receiver's 2xx and the record of it sends the notification again once the lease ends, so every
request carries the notification's id as its ``Idempotency-Key`` for the receiver to
deduplicate.

Stopping (SIGTERM) sets an event; each loop finishes the item it is on (a sweep's transaction,
one delivery and its ``ack``) and then returns. Nothing is cut in the middle, so nothing is
applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from typing import Final
from urllib.parse import urlsplit

import anyio
import httpx

from ..application import Answer, RelayPolicy, backoff, relay_one, sweep_all
from ..errors import CorruptOrder, OrderError
from ..store import Delivery, OutboxItem
from ._metrics import event_fired
from ._problems import LOGGER
from ._security import SIGNATURE_HEADER, signature_header
from ._service import Service

__all__ = ["Relay", "Sweeper", "backoff"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _pause(stopping: anyio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if the service is stopping."""
    with anyio.move_on_after(seconds):
        await stopping.wait()


class Trouble:
    """How a loop of the service reports that its store fails: one line when it starts
    failing (the store's reason, no traceback: the store is not broken code), the same
    reason again at most once a minute while it lasts, and one line when it works again.
    Anything but a store's error is a bug, logged with its traceback."""

    EVERY: Final = 60.0

    def __init__(self, what: str) -> None:
        self.what = what
        self._said: str | None = None
        self._when = 0.0

    def failed(self, exc: Exception, retry: float) -> None:
        if not isinstance(exc, OrderError):
            LOGGER.error("%s failed; trying again in %g s", self.what, retry, exc_info=exc)
            return
        why = str(exc)
        now = time.monotonic()
        if why != self._said or now - self._when >= self.EVERY:
            LOGGER.warning("%s failed: %s; trying again in %g s", self.what, why, retry)
            self._said, self._when = why, now

    def worked(self) -> None:
        if self._said is not None:
            LOGGER.warning("%s works again", self.what)
            self._said = None


class Sweeper:
    """Fires the due clock events (R12 auto-close, R4 overdue) every ``sweep_interval``."""

    def __init__(self, service: Service, stopping: anyio.Event) -> None:
        self.service = service
        self.stopping = stopping

    async def run(self) -> None:
        """Sweep until stopped; a failed sweep is logged and tried again next time."""
        interval = self.service.settings.sweep_interval
        trouble = Trouble("the sweep")
        while not self.stopping.is_set():
            try:
                await self.sweep()
            except Exception as exc:
                trouble.failed(exc, interval)
            else:
                trouble.worked()
            await _pause(self.stopping, interval)

    async def sweep(self) -> int:
        """One round: sweep batches until a batch comes back short
        (:func:`statemachine.application.sweep_all`); how many events fired."""
        swept = await self.service.store.run(
            sweep_all, _now(), self.service.settings.sweep_batch, stopping=self.stopping.is_set
        )
        fired = len(swept)
        for applied in swept:  # the clock's events count as the callers' do
            event_fired(applied.result.event, duplicate=False)
        for skipped in swept.skipped:
            if isinstance(skipped.error, CorruptOrder):
                LOGGER.warning("the sweep passed over order %s: corrupt", skipped.order_id)
        if fired:
            LOGGER.info("the sweep fired %d clock events", fired)
        return fired


class Relay:
    """POSTs each notification of the outbox to ``relay_url``, signed, and acknowledges it on
    a 2xx; retries on a schedule over days; after ``relay_attempts`` tries it is a dead letter
    (every try is kept, :meth:`tries <statemachine.store.SQLStore.tries>`; a dead letter leaves
    the queue until it is redelivered).

    Up to ``relay_concurrency`` deliveries run at once, each in a slot of its own: the relay
    claims notifications for the free slots only (:meth:`claim
    <statemachine.store.SQLStore.claim>`, a lease in the store), so a receiver that hangs or
    answers one byte at a time holds its slot until ``relay_timeout`` cuts it, and nothing
    else. Any number of workers and servers share the outbox: a claimed notification is
    nobody else's until its try is recorded or its lease runs out."""

    def __init__(self, service: Service, stopping: anyio.Event) -> None:
        self.service = service
        self.stopping = stopping
        settings = service.settings
        assert settings.relay_url is not None
        assert settings.relay_secret is not None
        self.url = settings.relay_url
        self.secret = settings.relay_secret
        self.path = urlsplit(self.url).path or "/"
        self.policy = RelayPolicy(
            settings.relay_attempts,
            settings.relay_backoff,
            settings.relay_backoff_max,
            settings.relay_timeout,
            settings.relay_concurrency,
        )
        self.owner = f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """Who holds this relay's leases: the host, the process and this relay."""

    async def run(self) -> None:
        """Relay until stopped: claim for the free slots, deliver, again; wait
        ``relay_interval`` when nothing is due. On stopping, the deliveries in flight finish
        and are recorded; nothing new is claimed."""
        settings = self.service.settings
        store = self.service.store
        slots = anyio.Semaphore(self.policy.concurrency)
        freed = anyio.Event()
        trouble = Trouble("the outbox relay's claim")
        timeout = httpx.Timeout(settings.relay_timeout)
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            anyio.create_task_group() as tasks,
        ):

            async def deliver(item: OutboxItem, record: Delivery | None) -> None:
                nonlocal freed
                try:
                    await relay_one(
                        store,
                        item,
                        record,
                        lambda it: self.deliver(client, it),
                        self.policy,
                        self.owner,
                        _now,
                    )
                finally:
                    slots.release()
                    freed.set()

            while not self.stopping.is_set():
                free = slots.value
                if free == 0:
                    freed = anyio.Event()
                    with anyio.move_on_after(settings.relay_interval):
                        await freed.wait()
                    continue
                try:
                    items = await store.claim(self.owner, _now(), self.policy.lease, free)
                    known = await store.deliveries([item.id for item in items]) if items else {}
                except Exception as exc:
                    trouble.failed(exc, settings.relay_interval)
                    items, known = [], {}
                else:
                    trouble.worked()
                if not items:
                    await _pause(self.stopping, settings.relay_interval)
                    continue
                for item in items:
                    await slots.acquire()
                    tasks.start_soon(deliver, item, known.get(item.id))

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

    async def deliver(self, client: httpx.AsyncClient, item: OutboxItem) -> Answer:
        """One try of one notification: delivered on a 2xx; what the receiver answered, or
        what went wrong. The relay use case cuts it at ``relay_timeout``, all of it."""
        body, headers = self.request(item)
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(False, f"{type(exc).__name__}: {str(exc)[:200]}")
        said = f"HTTP {response.status_code}"
        return Answer(200 <= response.status_code < 300, said)
