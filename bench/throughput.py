"""Order placement through HTTP, closed loop: C clients (a thread and a kept-alive
httpx.Client each) post orders back to back. After a warm-up, the commands answered 201 in
the measured window give commands/s and the latency percentiles."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial

import httpx

from bench.measure import ResourceMeter, ResourceUse, summary_ms, watch
from bench.workload import CLERK, new_order, send


@dataclass
class _Client:
    """What one client thread saw: (completed at, seconds, status) per request."""

    samples: list[tuple[float, float, int]] = field(default_factory=list)
    last_position: str | None = None
    retries: int = 0
    error: BaseException | None = None


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


def _post_orders(
    orders_url: str, seed: int, stop: threading.Event, into: _Client, ready: threading.Barrier
) -> None:
    rng = random.Random(seed)
    try:
        with httpx.Client(base_url=orders_url, headers=CLERK, timeout=30) as client:
            client.get("/healthz")  # open the kept-alive connection before the clock starts
            ready.wait(timeout=60)
            while not stop.is_set():
                body = new_order(rng)
                key = {"Idempotency-Key": str(uuid.uuid4())}
                sent = time.perf_counter()
                response, retried = send(partial(client.post, "/orders", json=body, headers=key))
                done = time.perf_counter()
                into.retries += retried
                into.samples.append((done, done - sent, response.status_code))
                if response.status_code == 201:
                    into.last_position = response.json()["position"]
    except BaseException as error:  # noqa: BLE001 - reported by the main thread
        into.error = error


def measure_throughput(
    orders_url: str, *, concurrency: int, warmup: float, seconds: float, meter: ResourceMeter
) -> ThroughputResult:
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1)
    clients = [_Client() for _ in range(concurrency)]
    threads = [
        threading.Thread(
            target=_post_orders, args=(orders_url, i, stop, clients[i], ready), daemon=True
        )
        for i in range(concurrency)
    ]
    try:
        for thread in threads:
            thread.start()
        ready.wait(timeout=60)

        def answered() -> int:
            return sum(len(c.samples) for c in clients)

        watch(f"warm-up, {concurrency} clients", warmup, answered, "orders")
        meter.start()
        window_start = time.perf_counter()
        watch(f"orders via HTTP, {concurrency} clients", seconds, answered, "orders")
        window_end = time.perf_counter()
        resources = meter.stop()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
    failed = [c.error for c in clients if c.error is not None]
    if failed:
        raise RuntimeError(f"an order client failed: {failed[0]!r}")
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
