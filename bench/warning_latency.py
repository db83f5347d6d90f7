"""`python -m bench.warning_latency`: event-driven warnings, from their triggering event to the
inbox of the person responsible (issue 16's goal: within 1 s p99).

The platform as `dist run` starts it (orders, inventory, finance, query and the warnings
process, each its own process, with the production scheduler tick and the system clock).
HQ sets ``credit_hold`` to warn at once, and one Chengdu dealer's credit limit to 1.00; then
``--warnings`` orders of that dealer are placed open loop at ``--rate`` per second. Finance
refuses each (``CreditRefused``), which the warnings process turns into a warning for the
Chengdu branch manager. Meanwhile the bench polls the branch manager's inbox every 20 ms
(the poll's interval is part of what is measured) and notes when each warning first shows.

Latency = first seen in the inbox - the ``CreditRefused`` event's time (finance's domain
time, read back from the finance topic afterwards): through finance's relay, the broker,
the warnings process manager, the board, and the inbox's HTTP read.

Then a sparse phase: ``--sparse`` more orders (30), one every ``--gap`` seconds (3), longer
than a consumer stays at full pace after its last record (2 s), so each refusal reaches a
warnings process that has gone idle and polls the broker once a second: only the word
finance's relay sends through PostgreSQL (runtime.published) wakes it sooner.

``--history N``: before the platform starts, N events of the national dataset (bench/dataset,
5,000 dealers) are published in a namespace of their own and every read model is rebuilt
from them in the platform's database, then the read models forget where those events came
from (their tracking rows), so the platform's own events, numbered from 1, are applied on
top. The routine rules then evaluate a national company's read models whenever they move,
beside the event-driven warnings measured; the measurement starts once their first
evaluation (raising the dataset's warnings) has settled.

Exit status: 0 when it ran (a missed goal is reported), 1 when a warning never arrived,
2 when the platform could not be started.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import httpx

from bench.measure import percentile
from bench.platform import PROCESSES, Platform, PlatformStartFailed, Target
from bench.report import Row, ms, render_table, verdict
from bench.saga import _consumer, _partitions
from bench.workload import CLERK, DEALERS, HQ
from runtime import kafka
from runtime.settings import Settings

log = logging.getLogger("bench")

INBOX_P99_GOAL_MS = 1000.0
POLL_INTERVAL_S = 0.02
MANAGER = {"Authorization": "Bearer demo-chengdu-manager"}  # the Chengdu dealers' branch
DEALER = DEALERS[-1]["code"]
TINY_LIMIT = {"credit_limit": "1.00", "payment_terms_days": 30}
ORDER = {"dealer_code": DEALER, "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 1}]}
ARRIVAL_TIMEOUT_S = 60.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.warning_latency", description=__doc__)
    parser.add_argument("--warnings", type=int, default=200, help="warnings triggered (200)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders placed per second (10)")
    parser.add_argument("--kafka", choices=("embedded", "apache"), default="embedded")
    parser.add_argument(
        "--smoke", action="store_true", help="toy size for CI: 20 warnings at 10/s, 3 sparse"
    )
    parser.add_argument(
        "--sparse",
        type=int,
        default=30,
        help="then this many more, one every --gap seconds (30; 0: none)",
    )
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between sparse orders")
    parser.add_argument(
        "--history", type=int, default=0, help="dataset events in the read models first (0)"
    )
    parser.add_argument("--dealers", type=int, default=5_000, help="the history's dealers")
    args = parser.parse_args(argv)
    if args.smoke:
        args.warnings, args.sparse = 20, 3
    return args


def load_history(events: int, dealers: int) -> Callable[[Settings], None]:
    """Read models holding ``events`` of a national company's history (see the module's
    docstring), for ``Platform(before_start=...)``."""

    def load(settings: Settings) -> None:
        from bench.dataset import publish_dataset
        from bench.readmodels import rebuild_in_child
        from projections.bootstrap import PROJECTIONS
        from projections.tracking import processed, projections_engine
        from projections.tracking import watermarks as tracking_watermarks

        history = settings.model_copy(update={"kafka_namespace": f"{settings.kafka_namespace}h"})
        log.info("history: publishing %d events of %d dealers", events, dealers)
        publish_dataset(history, events=events, dealers=dealers, progress=False)
        for projection in PROJECTIONS:
            done = rebuild_in_child(history, projection.name)
            log.info("history: %s rebuilt in %s s", done["projection"], done["seconds"])
        engine = projections_engine(settings, settings.projections_schema, pool_size=1)
        try:
            with engine.begin() as conn:
                conn.execute(processed.delete())
                conn.execute(tracking_watermarks.delete())
        finally:
            engine.dispose()
        admin = kafka.admin(settings)
        try:
            admin.delete_topics(
                [t for t in admin.list_topics() if t.startswith(f"{history.kafka_namespace}.")]
            )
        finally:
            admin.close()

    return load


def settled(target: Target, *, quiet_s: float = 10.0, timeout_s: float = 1800.0) -> int:
    """Wait until HQ's count of open warnings has not moved for ``quiet_s`` (the routine
    rules' first evaluation over the history is done); return it."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=target.warnings_url or "", timeout=60) as client:
        while time.monotonic() < deadline:
            answer = client.get("/warnings/counts", headers=HQ)
            total = answer.json()["total"] if answer.status_code == 200 else None
            if total != last:
                last, since = total, time.monotonic()
            elif total is not None and time.monotonic() - since >= quiet_s:
                return total
            time.sleep(1.0)
    raise RuntimeError(f"the warnings did not settle in {timeout_s:.0f}s (last count {last})")


def post(client: httpx.Client, url: str, body: dict, headers: dict) -> dict:
    """A command, retried with the same key while finance has not heard of the dealer."""
    key = {"Idempotency-Key": f"bench-warnings-{uuid.uuid4()}"}
    deadline = time.monotonic() + 30
    while True:
        answer = client.post(url, json=body, headers={**headers, **key})
        if answer.status_code in (200, 201):
            return answer.json()
        if answer.status_code != 404 or time.monotonic() > deadline:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
        time.sleep(0.1)


def prepare(client: httpx.Client, target: Target) -> None:
    """Warn of a credit hold at once; one dealer whose every order is refused credit."""
    assert target.warnings_url is not None
    rule = {"threshold": "0"}
    post(client, f"{target.warnings_url}/warning-rules/credit_hold", rule, HQ)
    post(client, f"{target.finance_url}/accounts/{DEALER}/credit-terms", TINY_LIMIT, HQ)


def place_orders(target: Target, count: int, rate: float, placed: list[str]) -> None:
    """Open loop: the n-th order is sent at n / rate seconds, whatever the platform does."""
    with httpx.Client(timeout=30) as client:
        started = time.monotonic()
        for n in range(count):
            pause = started + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            placed.append(post(client, f"{target.orders_url}/orders", ORDER, CLERK)["order_id"])


def watch_inbox(
    target: Target, placed: list[str], count: int, rate: float
) -> tuple[dict[str, float], dict[str, float]]:
    """When each order's warning first shows in the branch manager's inbox (wall clock),
    and when the warnings process took up its trigger (the warning's ``since``)."""
    seen: dict[str, float] = {}
    taken_up: dict[str, float] = {}
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S + count / rate
    with httpx.Client(base_url=target.warnings_url or "", timeout=30) as client:
        # Only the orders' warnings count: the dealer's tiny limit may raise routine ones.
        while len(seen.keys() & set(placed)) < count and time.monotonic() < deadline:
            inbox = client.get("/warnings/inbox", params={"limit": 50}, headers=MANAGER)
            now = time.time()
            if inbox.status_code == 200:
                for warning in inbox.json()["warnings"]:
                    if not warning["subject"].startswith("order:"):
                        continue
                    order = warning["subject"].removeprefix("order:")
                    seen.setdefault(order, now)
                    taken_up[order] = datetime.fromisoformat(warning["since"]).timestamp()
            time.sleep(POLL_INTERVAL_S)
    ours = set(placed)
    return (
        {order: at for order, at in seen.items() if order in ours},
        {order: at for order, at in taken_up.items() if order in ours},
    )


def refusal_times(settings: Settings, orders: set[str]) -> dict[str, float]:
    """Each order's ``CreditRefused`` time, from the finance topic."""
    consumer = _consumer(settings, auto_offset_reset="earliest", consumer_timeout_ms=1500)
    try:
        partitions = _partitions(consumer, settings.topic("finance"))
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        times: dict[str, float] = {}
        for record in consumer:
            envelope = json.loads(record.value)
            order = envelope["data"].get("order_id")
            if envelope["type"].split(".")[2] == "CreditRefused" and order in orders:
                times.setdefault(order, datetime.fromisoformat(envelope["time"]).timestamp())
        return times
    finally:
        consumer.close(autocommit=False)


def measure(platform: Platform, target: Target, args: argparse.Namespace) -> list[dict]:
    """The steady phase (``--warnings`` at ``--rate``), then the sparse one."""
    with httpx.Client(timeout=30) as client:
        prepare(client, target)
    open_before = settled(target) if args.history else None
    if open_before is not None:
        log.info("the routine rules' first evaluation settled: %d warnings open", open_before)
    phases = [("steady", args.warnings, args.rate), ("sparse", args.sparse, 1 / args.gap)]
    return [
        {**measure_phase(platform, target, name, count, rate), "open_before": open_before}
        for name, count, rate in phases
        if count
    ]


def measure_phase(platform: Platform, target: Target, name: str, count: int, rate: float) -> dict:
    assert platform.settings is not None
    placed: list[str] = []
    placer = threading.Thread(target=place_orders, args=(target, count, rate, placed), daemon=True)
    log.info("%s: placing %d orders refused credit at %g/s", name, count, rate)
    placer.start()
    seen, taken_up = watch_inbox(target, placed, count, rate)
    placer.join(timeout=60)
    refused = refusal_times(platform.settings, set(placed))
    measured = [o for o in seen if o in refused]
    for order in placed:
        if order not in seen:
            log.warning(
                "order %s: %s, its warning never showed in the inbox",
                order,
                "refused credit" if order in refused else "not refused credit",
            )
    lags_ms = sorted((seen[o] - refused[o]) * 1000 for o in measured)
    # The two legs: to the warnings process (finance's relay, the broker, its consumer),
    # then to the inbox (its board, the scheduler's tick, the poll).
    to_process_ms = [(taken_up[o] - refused[o]) * 1000 for o in measured]
    to_inbox_ms = [(seen[o] - taken_up[o]) * 1000 for o in measured]
    return {
        "phase": name,
        "warnings": count,
        "rate_per_s": rate,
        "arrived": len(lags_ms),
        "p50_ms": percentile(lags_ms, 50),
        "p99_ms": percentile(lags_ms, 99),
        "max_ms": lags_ms[-1] if lags_ms else None,
        "event_to_process_p50_ms": percentile(to_process_ms, 50),
        "process_to_inbox_p50_ms": percentile(to_inbox_ms, 50),
    }


def report(result: dict) -> list[Row]:
    p99 = result["p99_ms"]
    every = result["arrived"] == result["warnings"]
    pace = (
        f"{result['rate_per_s']:g}/s"
        if result["rate_per_s"] >= 1
        else f"one per {1 / result['rate_per_s']:g} s"
    )
    phase = f"{result['phase']} ({pace})"
    return [
        Row(f"{phase}: warnings in the inbox", f"{result['arrived']} of {result['warnings']}"),
        Row(f"{phase}: event -> inbox p50", ms(result["p50_ms"])),
        Row(
            f"{phase}: event -> inbox p99",
            ms(p99),
            goal=f"<= {INBOX_P99_GOAL_MS:,.0f} ms",
            result=verdict(every and p99 is not None and p99 <= INBOX_P99_GOAL_MS),
        ),
        Row(f"{phase}: event -> inbox max", ms(result["max_ms"])),
        Row("  event -> warnings process p50", ms(result["event_to_process_p50_ms"])),
        Row("  warnings process -> inbox p50", ms(result["process_to_inbox_p50_ms"])),
    ]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    platform = Platform(
        args.kafka,
        processes=PROCESSES,
        before_start=load_history(args.history, args.dealers) if args.history else None,
    )
    try:
        try:
            target = platform.start()
        except PlatformStartFailed as error:
            log.error("the platform did not start: %s\n%s", error, platform.log_tails())
            return 2
        results = measure(platform, target, args)
    finally:
        platform.close()
    print()
    history = f", {args.history:,} events of history" if args.history else ""
    print(f"Early warning, event-driven{history}:")
    print(render_table([row for result in results for row in report(result)]))
    return 0 if all(r["arrived"] == r["warnings"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
