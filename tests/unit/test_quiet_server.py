"""Every platform process serves HTTP with runtime.http.server.QuietServer: uvicorn's server,
whose housekeeping wakes once a second instead of ten times (an idle platform's cost), and
which still stops at once when told to."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from runtime.embedded import free_port
from runtime.http.app import create_app
from runtime.http.server import QuietServer, server_config
from runtime.settings import Settings
from tests.platform import running_server


@pytest.fixture
def served() -> Iterator[tuple[QuietServer, threading.Thread, int]]:
    api = create_app(
        title="query", process="query", settings=Settings(dist_env="development"), checks=[]
    )
    port = free_port()
    server = QuietServer(server_config(api, host="127.0.0.1", port=port, log_level="warning"))
    ticks: list[float] = []
    on_tick = server.on_tick

    async def counted(counter: int) -> bool:
        ticks.append(time.monotonic())
        return await on_tick(counter)

    server.on_tick = counted  # type: ignore[method-assign]
    server.ticks = ticks  # type: ignore[attr-defined]
    with running_server(server) as thread:
        yield server, thread, port


def test_an_idle_server_looks_after_itself_once_a_second(served):
    server, _, port = served
    before = len(server.ticks)
    time.sleep(3.0)
    # uvicorn's own loop would have ticked 30 times; a loop that stopped, not once.
    assert 2 <= len(server.ticks) - before <= 4


def test_its_date_header_stays_current(served):
    _, _, port = served
    time.sleep(2.2)
    answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    said = parsedate_to_datetime(answer.headers["date"]).timestamp()
    assert abs(said - time.time()) < 2.0


def test_a_signal_stops_it_at_once(served):
    server, thread, _ = served
    time.sleep(0.3)  # in the middle of a one-second wait
    started = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 0.5
