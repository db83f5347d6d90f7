"""Order placement through HTTP, closed loop: C clients (coroutines on one event loop, each
with a kept-alive connection of a pool of C) post orders back to back. After a warm-up, the
commands answered 201 in the measured window give commands/s and the latency percentiles."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field

import aiohttp

from bench.aio import LoopThread, send, session
from bench.measure import ResourceMeter, ResourceUse, summary_ms, watch
from bench.workload import CLERK, new_order

READY_TIMEOUT_S = 60.0
# After the window: the last requests finish (the request timeout, and a little more).
DRAIN_TIMEOUT_S = 35.0


@dataclass
class _Client:
    """What one client saw: (completed at, seconds, status) per request."""

    samples: list[tuple[float, float, int]] = field(default_factory=list)
    last_position: str | None = None
    retries: int = 0


@dataclass(frozen=True)
class ThroughputResult:
    concurrency: int
    seconds: float
    commands: int
    commands_per_s: float
    latency: dict[str, float | None]
    statuses: dict[str, int]
    retries: int
    last_position: str | None
    resources: ResourceUse

    def as_dict(self) -> dict:
        return asdict(self)


async def _post_orders(
    http: aiohttp.ClientSession, seed: int, stop: threading.Event, into: _Client
) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        body = new_order(rng)
        key = {"Idempotency-Key": str(uuid.uuid4())}
        sent = time.perf_counter()
        status, answer, retried = await send(http, "POST", "/orders", json=body, headers=key)
        done = time.perf_counter()
        into.retries += retried
        into.samples.append((done, done - sent, status))
        if status == 201:
            into.last_position = json.loads(answer)["position"]


async def _drive(
    orders_url: str, clients: list[_Client], ready: Future[None], stop: threading.Event
) -> None:
    async with session(orders_url, CLERK, connections=len(clients)) as http:
        # Open the kept-alive connections before the clock starts: concurrent requests, one
        # connection each.
        for status, _, _ in await asyncio.gather(*(send(http, "GET", "/healthz") for _ in clients)):
            if status != 200:
                raise RuntimeError(f"GET /healthz answered {status}")
        ready.set_result(None)
        async with asyncio.TaskGroup() as group:
            for i, client in enumerate(clients):
                group.create_task(_post_orders(http, i, stop, client))


def measure_throughput(
    orders_url: str, *, concurrency: int, warmup: float, seconds: float, meter: ResourceMeter
) -> ThroughputResult:
    stop = threading.Event()
    ready: Future[None] = Future()
    clients = [_Client() for _ in range(concurrency)]

    def answered() -> int:
        return sum(len(c.samples) for c in clients)

    with LoopThread(lambda: _drive(orders_url, clients, ready, stop), "orders-loop") as loop:
        try:
            loop.wait_for(ready, timeout=READY_TIMEOUT_S)
            watch(f"warm-up, {concurrency} clients", warmup, answered, "orders")
            meter.start()
            window_start = time.perf_counter()
            watch(f"orders via HTTP, {concurrency} clients", seconds, answered, "orders")
            window_end = time.perf_counter()
            resources = meter.stop()
        finally:
            stop.set()
        try:
            loop.result(timeout=DRAIN_TIMEOUT_S)
        except Exception as error:
            raise RuntimeError(f"an order client failed: {error!r}") from error
    in_window = [
        (latency, status)
        for client in clients
        for completed, latency, status in client.samples
        if window_start <= completed <= window_end
    ]
    ok = [latency for latency, status in in_window if status == 201]
    elapsed = window_end - window_start
    positions = [c.last_position for c in clients if c.last_position]
    return ThroughputResult(
        concurrency=concurrency,
        seconds=round(elapsed, 3),
        commands=len(ok),
        commands_per_s=round(len(ok) / elapsed, 1),
        latency=summary_ms(ok),
        statuses={str(k): v for k, v in sorted(Counter(s for _, s in in_window).items())},
        retries=sum(c.retries for c in clients),
        last_position=max(positions, key=lambda p: int(p.partition(":")[2]), default=None),
        resources=resources,
    )
