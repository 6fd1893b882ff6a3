"""Group commit for :class:`~statemachine.store.AsyncSQLiteStore`: short writes waiting at the
same time share one transaction and one commit.

A write to an SQLite file in ``synchronous=FULL`` mode waits for the disk at its commit (an
``fsync``). SQLite takes one writer at a time, so a service that commits each request on its
own runs at most one write per ``fsync``, however many requests wait, and between two writes
the writer waits again for the event loop to hand it the next one. :class:`Together` keeps a
writer thread of its own: it takes every short write (a create, an event: one order each)
waiting when it is free, runs them as one group (:meth:`SQLiteStore.run_together`: each in a
savepoint of one transaction, one commit), tells each caller its own outcome, and takes the
next group at once. A caller hears of its write only after the commit that keeps it, so an
answer never tells of a write the disk does not hold; one write that fails or is refused undoes
only itself.

Cancellation keeps the store's promise (:mod:`._async`): a write cancelled before its group
started never runs; one whose group started finishes, and the cancellation is delivered after.
The thread hands outcomes back without waiting for the event loop (asyncio's
``call_soon_threadsafe``, trio's ``run_sync_soon``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import anyio

from ..errors import StoreUnavailable
from ._sqlite import Outcome, SQLiteStore

__all__ = ["MOST_TOGETHER", "Together"]

_T = TypeVar("_T")

MOST_TOGETHER: Final = 64
"""The most writes one group commits at once."""
IDLE_SECONDS: Final = 5.0
"""How long the writer thread waits for a write before it ends (the next write starts a new
one): a store its owner never closed holds no thread, and can be collected."""


def _soon() -> Callable[[Callable[[], object]], object]:
    """How another thread runs a function soon in the running event loop, without waiting."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: AnyIO's other backend
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    return loop.call_soon_threadsafe


class _Write(Generic[_T]):
    """One write waiting in (or run by) :class:`Together`."""

    __slots__ = ("call", "done", "outcome", "soon", "taken")

    def __init__(self, call: Callable[[], _T]) -> None:
        context = contextvars.copy_context()  # the caller's: a request id, a span
        self.call: Callable[[], _T] = lambda: context.run(call)
        self.done = anyio.Event()
        self.soon = _soon()
        self.outcome: Outcome[_T] | None = None
        self.taken = False
        """Whether the writer thread took it (it then runs, whatever befalls its caller)."""


class Together:
    """The group commit of one :class:`SQLiteStore` (see the module's docstring)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._waiting: collections.deque[_Write[Any]] = collections.deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    async def run(self, call: Callable[[], _T]) -> _T:
        """``call()`` in a group with the other writes waiting now; its value, or its error,
        once the group's commit is on disk."""
        write = _Write(call)
        with self._ready:
            if self._closing:
                raise StoreUnavailable(self._store.path, "the store is closing")
            if self._thread is None:
                thread = threading.Thread(
                    target=self._work, name="orderfsm-sqlite-writer", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError as exc:  # no thread to be had: say so, keep nothing
                    raise StoreUnavailable(self._store.path, f"no writer thread ({exc})") from exc
                self._thread = thread
            self._waiting.append(write)
            self._ready.notify()
        try:
            await write.done.wait()
        except anyio.get_cancelled_exc_class():
            with self._ready:
                if not write.taken:  # never started: it never will
                    self._waiting.remove(write)
                    raise
            with anyio.CancelScope(shield=True):  # started: it finishes first
                await write.done.wait()
            raise
        assert write.outcome is not None
        return write.outcome.get()

    async def aclose(self) -> None:
        """Take no more writes; wait for those waiting and running to be done."""
        with self._ready:
            self._closing = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            await anyio.to_thread.run_sync(thread.join)

    def _work(self) -> None:
        """The writer thread: run the waiting writes a group at a time, until closed or idle
        for :data:`IDLE_SECONDS`."""
        while True:
            with self._ready:
                if not self._waiting and not self._closing:
                    self._ready.wait(IDLE_SECONDS)
                if not self._waiting:  # closing or idle, and nothing left: end
                    self._thread = None
                    return
                count = min(MOST_TOGETHER, len(self._waiting))
                group = [self._waiting.popleft() for _ in range(count)]
                for write in group:
                    write.taken = True
            try:
                outcomes = self._store.run_together([write.call for write in group])
            except BaseException as exc:  # not one write's outcome: every one's, each its own
                why = f"the write was not kept ({type(exc).__name__}: {exc})"
                outcomes = [Outcome(error=StoreUnavailable(self._store.path, why)) for _ in group]
            for write, outcome in zip(group, outcomes, strict=True):
                write.outcome = outcome
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                    write.soon(write.done.set)
