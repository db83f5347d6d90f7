"""Command to visible, open loop: on one event loop, each order is started at its scheduled
time (a steady rate) as a task of its own, whether or not earlier ones were answered, so a
slow answer does not slow the rate down. Right after an order's POST answer arrives, its task
asks HQ's national sales with ``min_position`` = the order's position (the query process
waits server-side, or answers 503); the time from the POST's answer to that GET's 200 is how
long the order took to become visible."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from bench.aio import LoopThread, send, session
from bench.measure import ResourceMeter, ResourceUse, percentile, summary_ms, watch
from bench.workload import CLERK, HQ, new_order

LEAD_S = 0.2  # the first order is due this long after the phase starts
# After the last order was started: a GET waits at most the read-your-writes timeout.
DRAIN_TIMEOUT_S = 35.0


@dataclass
class _Flow:
    body: dict
    due: float  # the scheduled send time
    sent: float = 0.0
    post_status: int = 0
    post_seconds: float = 0.0
    get_status: int = 0
    visible_seconds: float | None = None
    retries: int = 0


@dataclass(frozen=True)
class VisibilityResult:
    """``max_senders``: at most this many orders in flight at once (from the POST sent to
    the GET answered); an order due while that many are in flight starts late, which
    ``send_lateness_p99_ms`` shows. It is also the connection limit towards each of the
    orders and the query processes. (It used to be the size of a pool of sender threads.)"""

    target_rate: float
    achieved_rate: float
    orders: int
    max_senders: int
    send_lateness_p99_ms: float | None
    visible: dict[str, float | None]
    visible_count: int
    status_503: int
    get_statuses: dict[str, int]
    post_statuses: dict[str, int]
    post_latency: dict[str, float | None]
    retries: int
    resources: ResourceUse

    def as_dict(self) -> dict:
        return asdict(self)


async def _run(
    orders: aiohttp.ClientSession,
    query: aiohttp.ClientSession,
    in_flight: asyncio.Semaphore,
    flow: _Flow,
) -> None:
    async with in_flight:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        flow.sent = time.perf_counter()
        status, placed, retried = await send(orders, "POST", "/orders", json=flow.body, headers=key)
        answered = time.perf_counter()
        flow.retries += retried
        flow.post_status = status
        flow.post_seconds = answered - flow.sent
        if status != 201:
            return
        params = {"by": "sku", "period": "day", "min_position": json.loads(placed)["position"]}
        status, _, retried = await send(query, "GET", "/hq/sales", params=params)
        flow.retries += retried
        flow.get_status = status
        if status == 200:
            flow.visible_seconds = time.perf_counter() - answered


async def _drive(
    orders_url: str,
    query_url: str,
    flows: list[_Flow],
    max_senders: int,
    stop: threading.Event,
) -> list[BaseException]:
    """Start every flow when it is due, then wait for them; the errors of those that failed."""
    in_flight = asyncio.Semaphore(max_senders)
    tasks: list[asyncio.Task] = []
    async with (
        session(orders_url, CLERK, connections=max_senders) as orders,
        session(query_url, HQ, connections=max_senders) as query,
    ):
        try:
            for flow in flows:
                delay = flow.due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if stop.is_set():
                    break
                tasks.append(asyncio.create_task(_run(orders, query, in_flight, flow)))
            if tasks:
                await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        finally:
            for task in tasks:
                task.cancel()  # those still running after the drain timeout, or interrupted
            await asyncio.gather(*tasks, return_exceptions=True)
    return [
        error for task in tasks if not task.cancelled() and (error := task.exception()) is not None
    ]


def measure_visibility(
    orders_url: str,
    query_url: str,
    *,
    rate: float,
    seconds: float,
    max_senders: int,
    meter: ResourceMeter,
) -> VisibilityResult:
    rng = random.Random(1000)
    total = max(1, round(rate * seconds))
    start = time.perf_counter() + LEAD_S
    flows = [_Flow(body=new_order(rng), due=start + i / rate) for i in range(total)]
    stop = threading.Event()

    def drive() -> Coroutine[Any, Any, list[BaseException]]:
        return _drive(orders_url, query_url, flows, max_senders, stop)

    with LoopThread(drive, "senders") as loop:
        try:
            meter.start()
            watch(
                f"command-to-visible at {rate:g}/s",
                seconds + LEAD_S,
                lambda: sum(1 for f in flows if f.get_status),
                "visible",
            )
            resources = meter.stop()
            # The last flows finish: a GET waits at most the read-your-writes timeout.
            failed = loop.result(timeout=DRAIN_TIMEOUT_S + 10)
        finally:
            stop.set()
    if failed:
        raise RuntimeError(f"a sender failed: {failed[0]!r}")
    sent = [f for f in flows if f.sent]
    sends = sorted(f.sent for f in sent)
    achieved = (len(sends) - 1) / (sends[-1] - sends[0]) if len(sends) > 1 else 0.0
    visible = [f.visible_seconds for f in sent if f.visible_seconds is not None]
    late_p99 = percentile([(f.sent - f.due) * 1000 for f in sent], 99)
    return VisibilityResult(
        target_rate=rate,
        achieved_rate=round(achieved, 1),
        orders=len(sent),
        max_senders=max_senders,
        send_lateness_p99_ms=None if late_p99 is None else round(late_p99, 2),
        visible=summary_ms(visible),
        visible_count=len(visible),
        status_503=sum(1 for f in sent if f.get_status == 503),
        get_statuses=_statuses(f.get_status for f in sent if f.post_status == 201),
        post_statuses=_statuses(f.post_status for f in sent),
        post_latency=summary_ms([f.post_seconds for f in sent if f.post_status == 201]),
        retries=sum(f.retries for f in sent),
        resources=resources,
    )


def _statuses(codes: Iterable[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(codes).items())}
