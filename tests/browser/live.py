"""The whole stack running behind a browser, the way `shopbridge serve` runs it.

`running_stack` is an async context manager, while Playwright's sync API must own the test's
thread (it refuses to run inside an asyncio loop). `LiveStack` therefore runs the stack on an
event loop of its own, in a thread, with a worker that settles whenever the web app wakes it and
every `poll` seconds otherwise. The test reaches into the stack only through `call` and `run`,
which execute on that loop under the same lock as the worker: nothing touches the sandboxes, the
clock or the worker from two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from support.stack import Stack, running_stack

T = TypeVar("T")
STARTUP_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


class LiveStack:
    """`running_stack(store, clock, **options)` on a background event loop with a live worker."""

    def __init__(self, store: Store, clock: ManualClock, poll: float = 0.5, **options: Any) -> None:
        self._store = store
        self._clock = clock
        self._options = options
        self._poll = poll
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: Stack | None = None
        self._lock: asyncio.Lock | None = None
        self._woken: asyncio.Event | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="live-stack", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LiveStack:
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT):
            raise RuntimeError("the stack did not start in time")
        self._raise_failure()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop)
        self._thread.join(STARTUP_TIMEOUT)
        if exc is None:
            self._raise_failure()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # handed to the test's thread by _raise_failure
            self._failure = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._woken = asyncio.Event()
        async with running_stack(self._store, self._clock, **self._options) as stack:
            self._stack = stack
            self._ready.set()
            await self._drive(stack)

    async def _drive(self, stack: Stack) -> None:
        """The worker loop of `shopbridge serve`: settle when woken, and every `poll` seconds."""
        assert self._lock is not None and self._woken is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._poll)
            self._woken.clear()
            if self._stopping:
                return
            async with self._lock:
                await stack.settle()

    def _stop(self) -> None:
        self._stopping = True
        if self._woken is not None:
            self._woken.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError("the live stack failed") from self._failure

    # -- what tests and the web app use ------------------------------------------------------

    @property
    def stack(self) -> Stack:
        """The stack, for reads that need no lock (urls, ids, the store)."""
        assert self._stack is not None, "use LiveStack as a context manager"
        return self._stack

    def wake(self) -> None:
        """Run the worker now (the web app calls this after a merchant's action); any thread."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None and not loop.is_closed():
            loop.call_soon_threadsafe(woken.set)

    def run(self, action: Callable[[Stack], Awaitable[T]]) -> T:
        """Await `action(stack)` on the stack's loop, exclusive of the worker."""
        assert self._loop is not None and self._lock is not None
        lock = self._lock

        async def exclusive() -> T:
            async with lock:
                return await action(self.stack)

        self._raise_failure()
        future = asyncio.run_coroutine_threadsafe(exclusive(), self._loop)
        return future.result(CALL_TIMEOUT)

    def call(self, action: Callable[[Stack], T]) -> T:
        """Call `action(stack)` on the stack's loop, exclusive of the worker."""

        async def at_once(stack: Stack) -> T:
            return action(stack)

        return self.run(at_once)

    def settle(self) -> None:
        """Let timers, webhooks and the worker run until nothing moves."""
        self.run(lambda stack: stack.settle())

    def advance(self, delta: timedelta) -> None:
        """Move the shared manual clock on, then settle."""
        self.run(lambda stack: stack.advance(delta))
