"""How the phases drive HTTP: aiohttp on one asyncio event loop (uvloop) in a thread of its
own, so the main thread keeps the progress bar and takes Ctrl-C. One loop and kept-alive
connections cost the benchmark a fraction of the CPU a thread per request did, CPU taken from
the cores the platform under test runs on."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Generic, TypeVar

import aiohttp
import uvloop

T = TypeVar("T")

TIMEOUT = aiohttp.ClientTimeout(total=30)  # per request, waiting for a connection included
# Below uvicorn's 5 s keep-alive timeout: the client, not the server, drops idle connections.
KEEPALIVE_S = 2.0


def session(base_url: str, headers: dict[str, str], connections: int) -> aiohttp.ClientSession:
    """A session of at most ``connections`` kept-alive connections to one process."""
    return aiohttp.ClientSession(
        base_url,
        headers=headers,
        timeout=TIMEOUT,
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=KEEPALIVE_S),
    )


async def send(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, bytes, bool]:
    """Status, body and whether it was sent twice: once more if a kept-alive connection was
    closed under us (the server drops idle ones after 5 s). Safe for commands: the retry
    carries the same Idempotency-Key. The body is always read, so the connection is kept."""
    try:
        async with http.request(method, path, **kwargs) as response:
            return response.status, await response.read(), False
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        async with http.request(method, path, **kwargs) as response:
            return response.status, await response.read(), True


class LoopThread(Generic[T]):
    """Runs ``main()`` on an event loop of its own in a daemon thread. Leaving the ``with``
    block cancels it if it still runs (Ctrl-C, a failed phase) and waits for the thread."""

    def __init__(self, main: Callable[[], Coroutine[Any, Any, T]], name: str) -> None:
        self._main = main
        self.done: Future[T] = Future()
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> LoopThread[T]:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                result = runner.run(self._enter())
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.done.set_exception(error)
        else:
            self.done.set_result(result)
        finally:
            self._started.set()

    async def _enter(self) -> T:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started.set()
        return await self._main()

    def wait_for(self, ready: Future[None], timeout: float) -> None:
        """Until ``main`` says it is ready; raise if it failed or took too long."""
        wait([ready, self.done], timeout=timeout, return_when=FIRST_COMPLETED)
        if ready.done():
            return
        if self.done.done():
            self.done.result()  # raises what main raised
            raise RuntimeError("the event loop's work ended before it was ready")
        raise TimeoutError(f"not ready after {timeout:g}s")

    def result(self, timeout: float) -> T:
        """What ``main`` returned, or raise what it raised (a task group's first error)."""
        wait([self.done], timeout=timeout)
        if not self.done.done():
            raise RuntimeError(f"the event loop's work still ran after {timeout:g}s")
        error = self.done.exception()
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        if error is not None:
            raise error
        return self.done.result()
