"""The saga, open loop: orders are posted at a steady rate (each as a task of its own on one
event loop, as in the command-to-visible phase), and each is timed until the orders service
publishes its decision. An order placed goes OrderPlaced -> finance reserves its credit and
inventory its stock (their process managers) -> the orders process manager approves it ->
``dist.orders.OrderApproved.v1`` on ``<namespace>.orders.events`` (or OrderRejected when stock
is short; on credit hold, or above the approval threshold, nothing is published).

A consumer of our own (no group: every partition of the topic assigned, read from its end as
the phase starts, polled in a thread) notes when each order's decision is first seen; the
latency is that moment minus the moment the order's POST was sent. Throughput: the orders
whose approval was seen within the measured window (from the first order due to ``seconds``
later), per second. After the window, the phase waits up to ``CATCH_UP_S`` for the decisions
of the rest, then asks the orders service how those without one stand.

Before the phase, it waits (up to ``SETTLE_TIMEOUT_S``) until the process managers have
consumed everything the earlier phases produced, so a backlog of their orders does not count
against these; if they have not by then, the phase runs anyway and the result says how many
events they still had to consume (``backlog_at_start``)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import httpx
from kafka import KafkaConsumer, TopicPartition

from bench.aio import LoopThread, send, session
from bench.measure import ResourceMeter, ResourceUse, percentile, summary_ms, watch
from bench.workload import CLERK, HQ, saga_order
from runtime.settings import Settings

log = logging.getLogger("bench")

APPROVED = "dist.orders.OrderApproved.v1"
REJECTED = "dist.orders.OrderRejected.v1"
# The process managers (consumer name -> the services whose events it consumes), as the
# services wire them (services/*/bootstrap.py): their consumer groups must have caught up.
PROCESS_MANAGERS = {
    "orders-saga": ("finance", "inventory"),
    "finance-saga": ("orders", "inventory"),
    "inventory-saga": ("orders",),
}
LEAD_S = 0.2  # the first order is due this long after the phase starts
CATCH_UP_S = 30.0  # after the window: how long the last decisions may take
# Before the phase: how long the process managers may take to consume the earlier phases'
# orders (their backlog), and how often the wait says how far they are.
SETTLE_TIMEOUT_S = 180.0
SETTLE_REPORT_S = 5.0
# After the last order was started: its POST (the request timeout, and a little more).
DRAIN_TIMEOUT_S = 35.0
# The watcher's fetches wait at most this long for new records (the embedded broker does not
# always answer a fetch as soon as records arrive): at 5 orders/s, 10 ms and 50 ms gave the
# same latencies (p50 97 ms), 500 ms added about 110 ms; an idle watcher costs 0.17 cores at
# 10 ms, 0.05 at 50 ms (the platform's consumers wait 50 ms too).
WATCH_FETCH_WAIT_MS = 50


@dataclass
class _Order:
    body: dict
    due: float  # the scheduled send time
    sent: float = 0.0
    post_status: int = 0
    post_seconds: float = 0.0
    order_id: str | None = None
    retries: int = 0


@dataclass(frozen=True)
class SagaResult:
    """``approved_per_s``: approvals of this phase's orders seen within the measured window,
    per second. ``drained_per_s``: all their approvals, the catch-up's included, per second
    from the first order due to the last approval seen (the rate the saga got through them
    when it could not keep up with the offered rate). ``not_approved``: orders placed (201)
    with no approval after the catch-up wait; of them ``rejected`` (OrderRejected seen) and
    ``statuses_not_decided`` (what the orders service says of those with no decision:
    credit_hold, awaiting_approval, placed)."""

    target_rate: float
    achieved_rate: float
    seconds: float
    orders: int
    placed: int
    approved: int
    approved_in_window: int
    approved_per_s: float
    drained_per_s: float
    approved_latency: dict[str, float | None]
    rejected: int
    not_approved: int
    on_credit_hold: int
    statuses_not_decided: dict[str, int]
    catch_up_s: float
    settle_s: float
    backlog_at_start: dict[str, int]
    max_senders: int
    send_lateness_p99_ms: float | None
    post_statuses: dict[str, int]
    post_latency: dict[str, float | None]
    retries: int
    resources: ResourceUse

    def as_dict(self) -> dict:
        return asdict(self)


def _consumer(settings: Settings, **config: Any) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        enable_auto_commit=False,
        **config,
    )


def _partitions(consumer: KafkaConsumer, topic: str, timeout: float = 10.0) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions after {timeout:g}s")
        time.sleep(0.1)


@dataclass(frozen=True)
class Settled:
    """How long the process managers took to consume what the earlier phases produced, and
    what each still had to consume when the wait ended (all 0 unless it timed out)."""

    seconds: float
    backlog: dict[str, int]


def wait_until_settled(settings: Settings, timeout: float = SETTLE_TIMEOUT_S) -> Settled:
    """Until every process manager's group, and the read models' (the query process's
    projectors: behind after a phase the platform could not keep up with, they would take
    the next phase's CPU), has committed the end of every partition it consumes, twice in a
    row 0.2 s apart (a relay may still be publishing), or ``timeout``."""
    started = time.monotonic()
    consumers = {
        **PROCESS_MANAGERS,
        f"{settings.projections_schema}.projectors": ("orders", "inventory", "finance"),
    }
    # Never subscribed: these consumers only ask what their group committed.
    groups = {
        name: _consumer(
            settings,
            group_id=settings.consumer_group(name),
            client_id=f"bench-settle-{name}",
        )
        for name in consumers
    }
    try:
        partitions = {
            name: [
                tp
                for service in services
                for tp in _partitions(groups[name], settings.topic(service))
            ]
            for name, services in consumers.items()
        }
        quiet = 0
        next_report = started + SETTLE_REPORT_S
        while True:
            backlog = {}
            for name, consumer in groups.items():
                ends = consumer.end_offsets(partitions[name])
                backlog[name] = sum(
                    max(0, ends[tp] - (consumer.committed(tp) or 0)) for tp in partitions[name]
                )
            quiet = quiet + 1 if not any(backlog.values()) else 0
            elapsed = time.monotonic() - started
            if quiet == 2:
                return Settled(round(elapsed, 2), backlog)
            if elapsed > timeout:
                log.warning(
                    "the process managers did not catch up in %.0fs (events left: %s): the "
                    "saga phase starts with their backlog",
                    timeout,
                    _listed(backlog),
                )
                return Settled(round(elapsed, 2), backlog)
            if time.monotonic() > next_report:
                log.info("process managers catching up, events left: %s", _listed(backlog))
                next_report += SETTLE_REPORT_S
            time.sleep(0.2)
    finally:
        for consumer in groups.values():
            consumer.close(autocommit=False)


def _listed(backlog: dict[str, int]) -> str:
    return ", ".join(f"{name} {events}" for name, events in backlog.items())


class DecisionWatcher:
    """Reads ``<namespace>.orders.events`` from its end, in a thread of its own: when each
    order's decision (approved or rejected) was first seen (``time.perf_counter``)."""

    def __init__(self, settings: Settings) -> None:
        self.decided: dict[str, tuple[str, float]] = {}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._consumer = _consumer(
            settings,
            group_id=None,
            client_id="bench-saga-watcher",
            fetch_max_wait_ms=WATCH_FETCH_WAIT_MS,
        )
        try:
            partitions = _partitions(self._consumer, settings.topic("orders"))
            self._consumer.assign(partitions)
            self._consumer.seek_to_end(*partitions)
            for tp in partitions:
                self._consumer.position(tp)  # look the end up now, not at the first poll
        except BaseException:
            self._consumer.close(autocommit=False)
            raise
        self._thread = threading.Thread(target=self._run, name="saga-watcher", daemon=True)

    def __enter__(self) -> DecisionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close(autocommit=False)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                polled = self._consumer.poll(timeout_ms=100)
                seen = time.perf_counter()
                for records in polled.values():
                    for record in records:
                        if b"OrderApproved" not in record.value and (
                            b"OrderRejected" not in record.value
                        ):
                            continue  # not a decision: no need to decode it
                        envelope = json.loads(record.value)
                        if envelope.get("type") in (APPROVED, REJECTED):
                            order_id = envelope["data"]["order_id"]
                            self.decided.setdefault(order_id, (envelope["type"], seen))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.error = error

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"the decision watcher failed: {self.error!r}") from self.error


async def _place(http: aiohttp.ClientSession, in_flight: asyncio.Semaphore, order: _Order) -> None:
    async with in_flight:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        order.sent = time.perf_counter()
        status, answer, retried = await send(http, "POST", "/orders", json=order.body, headers=key)
        order.post_seconds = time.perf_counter() - order.sent
        order.retries += retried
        order.post_status = status
        if status == 201:
            order.order_id = json.loads(answer)["order_id"]


async def _drive(
    orders_url: str, orders: list[_Order], max_senders: int, stop: threading.Event
) -> list[BaseException]:
    """Start every order when it is due, then wait for them; the errors of those that failed."""
    in_flight = asyncio.Semaphore(max_senders)
    tasks: list[asyncio.Task] = []
    async with session(orders_url, CLERK, connections=max_senders) as http:
        try:
            for order in orders:
                delay = order.due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if stop.is_set():
                    break
                tasks.append(asyncio.create_task(_place(http, in_flight, order)))
            if tasks:
                await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        finally:
            for task in tasks:
                task.cancel()  # those still running after the drain timeout, or interrupted
            await asyncio.gather(*tasks, return_exceptions=True)
    return [
        error for task in tasks if not task.cancelled() and (error := task.exception()) is not None
    ]


def measure_saga(
    settings: Settings,
    orders_url: str,
    *,
    rate: float,
    seconds: float,
    max_senders: int,
    approval_threshold: Decimal,
    meter: ResourceMeter,
) -> SagaResult:
    settled = wait_until_settled(settings)
    if not any(settled.backlog.values()):
        log.info(
            "process managers and read models caught up with the earlier phases in %.1fs",
            settled.seconds,
        )
    rng = random.Random(2000)
    total = max(1, round(rate * seconds))
    bodies = [saga_order(approval_threshold, rng) for _ in range(total)]
    stop = threading.Event()
    with DecisionWatcher(settings) as watcher:
        start = time.perf_counter() + LEAD_S
        orders = [_Order(body=body, due=start + i / rate) for i, body in enumerate(bodies)]

        def drive() -> Coroutine[Any, Any, list[BaseException]]:
            return _drive(orders_url, orders, max_senders, stop)

        def approved() -> int:
            return sum(
                1
                for o in orders
                if o.order_id and watcher.decided.get(o.order_id, ("", 0.0))[0] == APPROVED
            )

        with LoopThread(drive, "saga-senders") as loop:
            try:
                meter.start()
                watch(f"the saga at {rate:g}/s", seconds + LEAD_S, approved, "approved")
                resources = meter.stop()
                failed = loop.result(timeout=DRAIN_TIMEOUT_S + 10)
            finally:
                stop.set()
        if failed:
            raise RuntimeError(f"a sender failed: {failed[0]!r}")
        placed = [o for o in orders if o.post_status == 201 and o.order_id]
        caught_up = time.perf_counter()
        while any(o.order_id not in watcher.decided for o in placed):
            watcher.check()
            if time.perf_counter() - caught_up > CATCH_UP_S:
                break
            time.sleep(0.05)
        catch_up_s = time.perf_counter() - caught_up
        watcher.check()
        decided = dict(watcher.decided)
    window_end = start + seconds
    kinds = {o.order_id: decided[o.order_id][0] for o in placed if o.order_id in decided}
    approvals = [(o, decided[o.order_id][1]) for o in placed if kinds.get(o.order_id) == APPROVED]
    latency = [at - o.sent for o, at in approvals]
    in_window = sum(1 for _, at in approvals if at <= window_end)
    rejected = sum(1 for kind in kinds.values() if kind == REJECTED)
    last_approval = max((at for _, at in approvals), default=start)
    drained = len(latency) / (last_approval - start) if last_approval > start else 0.0
    undecided = _statuses_of(orders_url, [o.order_id for o in placed if o.order_id not in decided])
    sent = [o for o in orders if o.sent]
    sends = sorted(o.sent for o in sent)
    achieved = (len(sends) - 1) / (sends[-1] - sends[0]) if len(sends) > 1 else 0.0
    late_p99 = percentile([(o.sent - o.due) * 1000 for o in sent], 99)
    return SagaResult(
        target_rate=rate,
        achieved_rate=round(achieved, 1),
        seconds=seconds,
        orders=len(sent),
        placed=len(placed),
        approved=len(latency),
        approved_in_window=in_window,
        approved_per_s=round(in_window / seconds, 1),
        drained_per_s=round(drained, 1),
        approved_latency=summary_ms(latency),
        rejected=rejected,
        not_approved=len(placed) - len(latency),
        on_credit_hold=undecided.get("credit_hold", 0),
        statuses_not_decided=undecided,
        catch_up_s=round(catch_up_s, 2),
        settle_s=settled.seconds,
        backlog_at_start=settled.backlog,
        max_senders=max_senders,
        send_lateness_p99_ms=None if late_p99 is None else round(late_p99, 2),
        post_statuses=_counts(o.post_status for o in sent),
        post_latency=summary_ms([o.post_seconds for o in placed]),
        retries=sum(o.retries for o in sent),
        resources=resources,
    )


def _statuses_of(orders_url: str, order_ids: list[str | None]) -> dict[str, int]:
    """How the orders service says these orders stand (at most a few hundred are asked)."""
    statuses: Counter[str] = Counter()
    with httpx.Client(base_url=orders_url, headers=HQ, timeout=30) as client:
        for order_id in order_ids[:500]:
            answer = client.get(f"/orders/{order_id}")
            statuses[answer.json()["status"] if answer.status_code == 200 else "unknown"] += 1
    if len(order_ids) > 500:
        statuses["not asked"] += len(order_ids) - 500
    return dict(sorted(statuses.items()))


def _counts(codes: Iterable[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(codes).items())}
