"""Command to visible, open loop: a scheduler hands each order to a pool of sender threads at
its scheduled time (a steady rate), and the pool grows while its senders wait, so a slow
answer does not slow the rate down. Right after an order's POST answer arrives, its sender
asks HQ's national sales with ``min_position`` = the order's position (the query process
waits server-side, or answers 503); the time from the POST's answer to that GET's 200 is how
long the order took to become visible."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from functools import partial

import httpx

from bench.measure import ResourceMeter, ResourceUse, percentile, summary_ms, watch
from bench.workload import CLERK, HQ, new_order, send

# Below uvicorn's 5 s keep-alive timeout: the client, not the server, drops idle connections.
KEEPALIVE_S = 2.0


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


class _Senders:
    """What every sender thread runs. The two clients are shared: building an httpx.Client
    per thread costs more CPU than the requests themselves (an SSL context each)."""

    def __init__(self, orders_url: str, query_url: str, connections: int) -> None:
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_S,
        )
        self.orders = httpx.Client(base_url=orders_url, headers=CLERK, timeout=30, limits=limits)
        self.query = httpx.Client(base_url=query_url, headers=HQ, timeout=30, limits=limits)

    def run(self, flow: _Flow) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        flow.sent = time.perf_counter()
        placed, retried = send(partial(self.orders.post, "/orders", json=flow.body, headers=key))
        answered = time.perf_counter()
        flow.retries += retried
        flow.post_status = placed.status_code
        flow.post_seconds = answered - flow.sent
        if placed.status_code != 201:
            return
        params = {"by": "sku", "period": "day", "min_position": placed.json()["position"]}
        sales, retried = send(partial(self.query.get, "/hq/sales", params=params))
        flow.retries += retried
        flow.get_status = sales.status_code
        if sales.status_code == 200:
            flow.visible_seconds = time.perf_counter() - answered

    def close(self) -> None:
        self.orders.close()
        self.query.close()


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
    start = time.perf_counter() + 0.2
    flows = [_Flow(body=new_order(rng), due=start + i / rate) for i in range(total)]
    senders = _Senders(orders_url, query_url, max_senders)
    pool = ThreadPoolExecutor(max_workers=max_senders, thread_name_prefix="sender")
    stop = threading.Event()
    futures = []

    def schedule() -> None:
        for flow in flows:
            delay = flow.due - time.perf_counter()
            if delay > 0 and stop.wait(delay):
                return
            futures.append(pool.submit(senders.run, flow))

    scheduler = threading.Thread(target=schedule, name="scheduler", daemon=True)
    try:
        meter.start()
        scheduler.start()
        watch(
            f"command-to-visible at {rate:g}/s",
            seconds + 0.2,
            lambda: sum(1 for f in flows if f.get_status),
            "visible",
        )
        resources = meter.stop()
        scheduler.join()
        # The last flows finish: a GET waits at most the read-your-writes timeout.
        wait(list(futures), timeout=35)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        senders.close()
    failed = [f.exception() for f in futures if f.done() and f.exception() is not None]
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
