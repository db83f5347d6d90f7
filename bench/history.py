"""`python -m bench.history`: issue 18's goal 4, the cost of an order as history piles up.

The platform as `python -m bench` starts it. A warm-up runs the saga, so each service's event
store holds real events of every kind. Then, for each level of ``--levels`` (10k, 100k, 1M
stored events), the four services are stopped, their event stores are grown to that many
events, and the services are started again before the saga is measured. PostgreSQL and the
broker keep running.

Growing copies the stored events already there under new originator ids (new aggregates of
the same kinds and sizes) and the process managers' tracking rows under negative
notification ids (so none can meet a live one). Each relay's position then moves past the
copies, so nothing is republished: the history is as if published long ago. The grown tables
are vacuumed and analyzed (as autovacuum keeps a store that grew over years), and after the
restart 5 s of saga run unmeasured while the consumers rejoin their groups. The live
aggregates' own streams do not grow; their snapshots already bound what loading them
costs.

Printed per level: CPU per approved order of every process (their own counters) and
placed→approved p50/p99; the goal is that they differ by at most 10 % across the levels.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time

import psycopg2

from bench.measure import ResourceMeter
from bench.platform import Platform
from bench.report import Row, ms, render_table, verdict
from bench.run import cpu_breakdown
from bench.saga import measure_saga
from runtime.settings import Settings

log = logging.getLogger("bench")

SERVICES = ("orders", "inventory", "finance")
RESTARTED = ("orders", "inventory", "finance", "query")
FLAT_GOAL = 0.10
RESETTLE_S = 5.0
COPIES = itertools.count(1)  # each copy's ids differ from every earlier copy's


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument(
        "--levels", default="10000,100000,1000000", help="stored events (10000,100000,1000000)"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="orders/s offered (50)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of orders (15)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of warm-up saga (10)")
    parser.add_argument(
        "--kafka",
        choices=["embedded", "apache"],
        default="embedded",
        help="the local broker started when KAFKA_BOOTSTRAP_SERVERS is unset (embedded)",
    )
    return parser.parse_args(argv)


def _tables(curs, schema: str, columns: tuple[str, ...]) -> list[str]:
    curs.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
        "GROUP BY table_name HAVING array_agg(column_name::text) @> %s",
        (schema, list(columns)),
    )
    return [row[0] for row in curs.fetchall()]


def stored_events(settings: Settings) -> int:
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            total = 0
            for schema in SERVICES:
                for table in _tables(curs, schema, ("originator_id", "notification_id")):
                    curs.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
                    total += curs.fetchone()[0]
            return total
    finally:
        conn.close()


def grow(settings: Settings, target: int) -> int:
    """Copy stored events (and tracking rows) until the three event stores hold ``target``
    events; move each relay past the copies. Returns the events stored."""
    conn = psycopg2.connect(settings.postgres().dsn())
    conn.autocommit = False
    try:
        with conn.cursor() as curs:
            have = stored_events(settings)
            while have < target:
                rounds = next(COPIES)
                for schema in SERVICES:
                    for table in _tables(curs, schema, ("originator_id", "notification_id")):
                        # One copy of the store's first events, at most what is still missing.
                        curs.execute(
                            f'INSERT INTO "{schema}"."{table}" '
                            "(originator_id, originator_version, topic, state) "
                            "SELECT md5(originator_id::text || %s)::uuid, originator_version, "
                            f'topic, state FROM "{schema}"."{table}" '
                            "WHERE notification_id <= (SELECT min(notification_id) + %s "
                            f'FROM "{schema}"."{table}")',
                            (f"history-{rounds}", max(1, (target - have) // 3)),
                        )
                    for table in _tables(curs, schema, ("application_name", "notification_id")):
                        curs.execute(
                            f'INSERT INTO "{schema}"."{table}" (application_name, notification_id) '
                            "SELECT application_name, -notification_id - %s "
                            f'FROM "{schema}"."{table}" WHERE notification_id > 0 '
                            "ON CONFLICT DO NOTHING",
                            (rounds * 10_000_000,),
                        )
                conn.commit()
                have = stored_events(settings)
                log.info("history: %d events stored", have)
            for schema in SERVICES:
                for table in _tables(curs, schema, ("originator_id", "notification_id")):
                    curs.execute(f'SELECT max(notification_id) FROM "{schema}"."{table}"')
                    last = curs.fetchone()[0]
                    curs.execute(
                        f'UPDATE "{schema}".relay_state SET position = GREATEST(position, %s)',
                        (last,),
                    )
                curs.execute(f'ANALYZE "{schema}".relay_state')
            conn.commit()
            # A store that grew over years has its statistics and has been vacuumed: not a
            # planner that still believes the tables hold the warm-up's few thousand rows,
            # nor autovacuum working through the copies while the saga is measured.
            conn.autocommit = True
            for schema in SERVICES:
                grown = _tables(curs, schema, ("notification_id",))
                for table in grown:
                    curs.execute(f'VACUUM ANALYZE "{schema}"."{table}"')
            return have
    finally:
        conn.close()


def flatness(figure: str, values: list[float]) -> Row:
    """Goal 4's verdict on one figure across the levels: largest over smallest, minus one."""
    spread = (max(values) / min(values) - 1) if values else None
    return Row(
        f"4. {figure}, largest over smallest - 1",
        "n/a" if spread is None else f"{100 * spread:.0f} %",
        goal=f"<= {100 * FLAT_GOAL:.0f} %",
        result=verdict(spread is not None and spread <= FLAT_GOAL),
    )


def restart_services(platform: Platform, work) -> None:
    """Stop the four services, run ``work``, start them again and wait until they are ready."""
    for name in RESTARTED:
        platform.children[name].stop()
    work()
    deadline = time.monotonic() + 120
    for name in RESTARTED:
        platform.children[name].start()
    for name in RESTARTED:
        platform._wait_ready(name, deadline)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    levels = [int(level) for level in args.levels.split(",")]
    platform = Platform(kafka=args.kafka)
    rows: list[Row] = []
    # Per level: events stored, CPU per order of the whole platform and without the broker,
    # and the p99. The embedded broker keeps every message it was sent in memory, so its
    # cost grows with the bench's own traffic, not with the event stores' history: the curve
    # without it shows what the history costs the services and PostgreSQL.
    curve: list[tuple[int, float, float, float | None]] = []
    try:
        target = platform.start()
        settings = platform.settings
        assert settings is not None
        meter = ResourceMeter(platform.components, platform.database_sessions)

        def saga(seconds: float):
            return measure_saga(
                settings,
                target.orders_url,
                rate=args.rate,
                seconds=seconds,
                max_senders=256,
                approval_threshold=target.approval_threshold,
                meter=meter,
            )

        saga(args.warmup)
        for level in levels:
            stored = stored_events(settings)
            if stored < level:
                restart_services(platform, lambda level=level: grow(settings, level))
                stored = stored_events(settings)
                # The restarted services' consumers rejoin their groups (the old members
                # leave at their session's end): a short saga first, not measured.
                saga(RESETTLE_S)
            result = saga(args.seconds)
            approved = result.approved_in_window
            breakdown = cpu_breakdown(result.resources, approved)
            total = breakdown["total"] or 0.0
            broker = platform.broker.name if platform.broker is not None else None
            without_broker = total - (breakdown.get(broker) or 0.0)
            log.info(
                "%d events stored: CPU ms per approved order %s",
                stored,
                {name: value for name, value in breakdown.items() if value is not None},
            )
            p99 = result.approved_latency.get("p99_ms")
            curve.append((stored, total, without_broker, p99))
            rows.append(
                Row(
                    f"{stored:,} events stored: CPU per approved order",
                    f"{total:.1f} ms",
                )
            )
            rows.append(Row("  without the broker", f"{without_broker:.1f} ms"))
            rows.append(
                Row(
                    "  by process (ms)",
                    ", ".join(
                        f"{name} {value:.1f}"
                        for name, value in breakdown.items()
                        if name != "total" and value is not None
                    ),
                )
            )
            rows.append(
                Row(
                    "  placed→approved p50 / p99",
                    f"{ms(result.approved_latency.get('p50_ms'))} / {ms(p99)}",
                )
            )
        rows.append(flatness("placed→approved p99", [p for *_, p in curve if p]))
        rows.append(flatness("CPU per order", [c for _, c, _, _ in curve if c]))
        rows.append(flatness("CPU per order without the broker", [c for _, _, c, _ in curve if c]))
    finally:
        platform.close()
    print()
    print(render_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
