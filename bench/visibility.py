"""Command to visible, open loop: orders are sent at scheduled times (a steady rate) by a
pool of sender threads, so a slow answer does not slow the rate down. Right after an order's
POST answer arrives, its sender asks HQ's national sales with ``min_position`` = the order's
position (the query process waits server-side, or answers 503); the time from the POST's
answer to that GET's 200 is how long the order took to become visible."""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field

import httpx

from bench.measure import CpuMeter, percentile, summary_ms, watch
from bench.workload import CLERK, HQ, new_order


@dataclass
class _Flow:
    due: float  # the scheduled send time
    sent: float = 0.0
    post_status: int = 0
    post_seconds: float = 0.0
    get_status: int = 0
    visible_seconds: float | None = None


@dataclass
class _Schedule:
    start: float
    rate: float
    total: int
    flows: list[_Flow] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: itertools.count = field(default_factory=itertools.count)

    def take(self) -> _Flow | None:
        with self.lock:
            index = next(self._next)
            if index >= self.total:
                return None
            flow = _Flow(due=self.start + index / self.rate)
            self.flows.append(flow)
            return flow


@dataclass(frozen=True)
class VisibilityResult:
    target_rate: float
    achieved_rate: float
    orders: int
    send_lateness_p99_ms: float | None
    visible: dict[str, float | None]
    visible_count: int
    status_503: int
    get_statuses: dict[str, int]
    post_statuses: dict[str, int]
    post_latency: dict[str, float | None]
    cpu_cores: dict[str, float]

    def as_dict(self) -> dict:
        return asdict(self)


def _send(
    orders_url: str,
    query_url: str,
    seed: int,
    schedule: _Schedule,
    stop: threading.Event,
    errors: list[BaseException],
) -> None:
    rng = random.Random(seed)
    try:
        with (
            httpx.Client(base_url=orders_url, headers=CLERK, timeout=30) as orders,
            httpx.Client(base_url=query_url, headers=HQ, timeout=30) as query,
        ):
            while not stop.is_set() and (flow := schedule.take()) is not None:
                body = new_order(rng)
                wait = flow.due - time.perf_counter()
                if wait > 0 and stop.wait(wait):
                    return
                flow.sent = time.perf_counter()
                placed = orders.post(
                    "/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
                )
                answered = time.perf_counter()
                flow.post_status = placed.status_code
                flow.post_seconds = answered - flow.sent
                if placed.status_code != 201:
                    continue
                sales = query.get(
                    "/hq/sales",
                    params={
                        "by": "sku",
                        "period": "day",
                        "min_position": placed.json()["position"],
                    },
                )
                visible = time.perf_counter()
                flow.get_status = sales.status_code
                if sales.status_code == 200:
                    flow.visible_seconds = visible - answered
    except BaseException as error:  # noqa: BLE001 - reported by the main thread
        errors.append(error)


def measure_visibility(
    orders_url: str,
    query_url: str,
    *,
    rate: float,
    seconds: float,
    senders: int,
    meter: CpuMeter,
) -> VisibilityResult:
    total = max(1, round(rate * seconds))
    # Senders open their connections first; the schedule starts a moment later.
    schedule = _Schedule(start=time.perf_counter() + 0.5, rate=rate, total=total)
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_send,
            args=(orders_url, query_url, 1000 + i, schedule, stop, errors),
            daemon=True,
        )
        for i in range(senders)
    ]
    try:
        for thread in threads:
            thread.start()
        meter.start()
        watch(
            f"command-to-visible at {rate:g}/s",
            seconds + 0.5,
            lambda: sum(1 for f in schedule.flows if f.get_status),
            "visible",
        )
        cores = meter.stop()
        # The last flows finish: a GET waits at most the read-your-writes timeout.
        for thread in threads:
            thread.join(timeout=35)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
    if errors:
        raise RuntimeError(f"a sender failed: {errors[0]!r}")
    flows = [f for f in schedule.flows if f.sent]
    sends = sorted(f.sent for f in flows)
    achieved = (len(sends) - 1) / (sends[-1] - sends[0]) if len(sends) > 1 else 0.0
    visible = [f.visible_seconds for f in flows if f.visible_seconds is not None]
    lateness_ms = [(f.sent - f.due) * 1000 for f in flows]
    late_p99 = percentile(lateness_ms, 99)
    return VisibilityResult(
        target_rate=rate,
        achieved_rate=round(achieved, 1),
        orders=len(flows),
        send_lateness_p99_ms=None if late_p99 is None else round(late_p99, 2),
        visible=summary_ms(visible),
        visible_count=len(visible),
        status_503=sum(1 for f in flows if f.get_status == 503),
        get_statuses=_statuses(f.get_status for f in flows if f.post_status == 201),
        post_statuses=_statuses(f.post_status for f in flows),
        post_latency=summary_ms([f.post_seconds for f in flows if f.post_status == 201]),
        cpu_cores=cores,
    )


def _statuses(codes) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(codes).items())}
