"""`python -m bench.readmodels`: the read side on a national company's dataset.

1. Publish the generated dataset (bench/dataset.py: dealers, SKUs, warehouses, a year of
   business, ``--events`` integration events) to the topics, as the relays would.
2. Ceiling: raw kafka-python consume of the same topics (no decoding), same run; and the
   same with every event decoded and validated (no database), what one consumer reaches
   at best.
3. Rebuild every read model from the topics, each in its own process (``dist rebuild``'s
   code path), sampling that process's memory: events/s as a ratio of the ceiling (goal
   0.5) and peak RSS.
4. Check the read models against the dataset's truth, to the fen.
5. National roll-up queries over HTTP against a query process (no projectors running):
   p50/p99 per query (goal p99 < 50 ms).
6. The console's pages (bench/pages.py), identity and the console beside the query process:
   the HQ dashboard's first full render p95 (goal < 1.5 s), server side and, with Chromium,
   to every chart drawn; the list pages' p95 (goal < 300 ms).
7. The routine warnings (bench/routine.py): one evaluation of every routine rule over these
   read models, process and PostgreSQL CPU (goal < 2 s for 5,000 dealers).

Infrastructure: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded PostgreSQL
and Tansu. Exit status: 0 when it ran (missed goals are reported), 1 when the read models
disagree with the truth, 2 when it could not start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg2
from sqlalchemy import func, select

from bench import routine as routine_warnings
from bench.measure import percentile
from bench.pages import rows as page_rows
from bench.report import Row, ms, render_table, verdict, write_json
from runtime.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from runtime.settings import PostgresLocation, Settings

log = logging.getLogger("bench.readmodels")

REBUILD_RATIO_GOAL = 0.5  # of the consume-decode-validate ceiling
DECODE_RATIO_GOAL = 0.8  # that ceiling, of raw kafka-python consume
QUERY_P99_GOAL_MS = 50.0
HQ = {"Authorization": "Bearer demo-hq-admin"}
NATIONAL_QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/hq/sales", {"by": "region", "period": "month"}),
    ("/hq/sales", {"by": "category", "period": "month", "date_from": "2026-10-01"}),
    ("/hq/sales", {"by": "nation", "period": "week", "date_from": "2026-09-01"}),
    ("/hq/inventory", {"by": "region", "limit": "100"}),
    ("/hq/inventory", {"by": "nation", "below_safety": "true", "limit": "100"}),
    ("/hq/receivables", {"by": "region"}),
    ("/hq/receivables/aging", {"by": "nation"}),
    ("/hq/receivables/aging", {"by": "region", "as_of": "2026-06-30"}),
    ("/hq/rebates", {"by": "region"}),
    ("/hq/channel-health/counts", {"by": "region"}),
    ("/hq/channel-health", {"colour": "red", "limit": "50"}),
)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The national dataset's size (bench/dataset.py): 1M events, 5,000 dealers."""
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dealers", type=int, default=5_000)
    parser.add_argument("--skus", type=int, default=2_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 20))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.readmodels", description=__doc__)
    add_dataset_arguments(parser)
    parser.add_argument("--queries", type=int, default=100, help="timed runs per query (100)")
    parser.add_argument(
        "--page-runs", type=int, default=40, help="timed runs per console page and list (40)"
    )
    parser.add_argument(
        "--routine-runs", type=int, default=5, help="steady routine-warning evaluations (5)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (its URL is printed)"
    )
    parser.add_argument(
        "--queries-only",
        metavar="DATABASE_URL",
        help="only time the queries, against the read models of a kept database",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few thousand events and queries: proves the benchmark runs (CI), measures nothing",
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.dealers, args.skus, args.warehouses, args.queries = 5_000, 50, 20, 5, 3
        args.page_runs = 3
        args.routine_runs = 2
    return args


# -- infrastructure ---------------------------------------------------------------------------
class Infrastructure:
    def __init__(self) -> None:
        self.work_dir = Path(tempfile.mkdtemp(prefix="dist-bench-rm-"))
        self.work_dir.chmod(0o755)  # the embedded server runs as postgres when we are root
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.database = f"dist_bench_rm_{uuid.uuid4().hex[:10]}"
        self.server_dsn = ""

    def start(self) -> Settings:
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            self.postgres = EmbeddedPostgres(self.work_dir / "postgres").start()
            server_url = self.postgres.url
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            self.broker = EmbeddedBroker(self.work_dir / "broker").start()
            bootstrap = self.broker.bootstrap_servers
        server = PostgresLocation.from_url(server_url)
        self.server_dsn = server.dsn()
        self._admin(f'CREATE DATABASE "{self.database}"')
        return Settings(
            dist_env="development",
            database_url=server.model_copy(update={"dbname": self.database}).dsn(),
            kafka_bootstrap_servers=bootstrap,
            kafka_namespace=f"benchrm{uuid.uuid4().hex[:8]}",
            kafka_session_timeout_ms=1500,
        )

    def _admin(self, statement: str) -> None:
        conn = psycopg2.connect(self.server_dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as curs:
                curs.execute(statement)
        finally:
            conn.close()

    def close(self, *, keep: bool = False) -> None:
        try:
            if keep:
                print(f"kept database {self.database} on {self.server_dsn}")
            elif self.server_dsn:
                self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            if self.broker:
                self.broker.stop()
            if self.postgres:
                self.postgres.stop()


def child_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DIST_ENV": "development",
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "KAFKA_NAMESPACE": settings.kafka_namespace,
        "KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
    }


# -- phases -----------------------------------------------------------------------------------
def raw_consume(settings: Settings, *, decode: bool = False) -> dict[str, Any]:
    """The ceiling: kafka-python reading every record of the three topics, no decoding.
    ``decode``: and each decoded and validated as a projector must before it writes (the
    envelope, then the event's own model): what a single consumer can reach at best."""
    from kafka import KafkaConsumer, TopicPartition

    from contracts import decode_data
    from runtime.causal_order import decode as decode_record

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=2000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (settings.topic(s) for s in ("orders", "inventory", "finance"))
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        count = size = 0
        started = time.perf_counter()
        quiet_since = None
        while True:
            polled = consumer.poll(timeout_ms=200, max_records=2000)
            if polled:
                quiet_since = None
                for records in polled.values():
                    count += len(records)
                    size += sum(len(r.value) for r in records)
                    if decode:
                        for record in records:
                            envelope = decode_record(record)
                            decode_data(envelope)
                last = time.perf_counter()
                continue
            if all(consumer.position(p) >= ends[p] for p in partitions):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 1.0:
                    break
        seconds = last - started if count else 0.0
    finally:
        consumer.close()
    return {"events": count, "bytes": size, "seconds": round(seconds, 2), "rate": count / seconds}


def decode_split(settings: Settings, sample: int = 20_000) -> dict[str, float]:
    """Where decoding's time goes, in CPU microseconds per event over the first ``sample``
    orders records: the envelope parsed and validated from bytes (pydantic), the event's
    data validated into its model, and, for scale, the standard library's json.loads of the
    same bytes alone (no validation at all)."""
    import json
    from collections import deque

    from kafka import KafkaConsumer

    from contracts import decode_data
    from contracts.envelope import Envelope

    consumer = KafkaConsumer(
        settings.topic("orders"),
        bootstrap_servers=settings.bootstrap_servers(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        values = [record.value for _, record in zip(range(sample), consumer, strict=False)]
    finally:
        consumer.close()

    def per_event(work) -> float:
        started = time.process_time()
        deque(work, maxlen=0)  # runs the work, keeps nothing
        return round((time.process_time() - started) / max(len(values), 1) * 1e6, 2)

    envelopes = [Envelope.model_validate_json(value) for value in values]
    return {
        "events": len(values),
        "json_loads_us": per_event(json.loads(value) for value in values),
        "envelope_us": per_event(Envelope.model_validate_json(value) for value in values),
        "data_us": per_event(decode_data(envelope) for envelope in envelopes),
    }


def rebuild_in_child(settings: Settings, name: str) -> dict[str, Any]:
    """One read model rebuilt by its own process; its peak RSS sampled every 50 ms."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.readmodels", "--child", "rebuild", name],
        env=child_env(settings),
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0
    process = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise RuntimeError(f"rebuilding {name} failed with exit status {child.returncode}")
    summary = json.loads(output.strip().splitlines()[-1])
    summary["peak_rss_mb"] = round(peak / 2**20, 1)
    return summary


def check_truth(settings: Settings, truth) -> list[str]:
    """Where the read models disagree with what the dataset published (empty: none)."""
    from projections.channel_health.projection import shipments
    from projections.inventory.projection import stock
    from projections.receivables.queries import DealerFilter, Level, aging, rebates_accrued
    from projections.receivables.queries import receivables_summary as receivables
    from projections.sales.projection import sales_daily
    from projections.tracking import projections_engine

    engine = projections_engine(settings, settings.projections_schema, pool_size=1)
    problems: list[str] = []

    def same(what: str, got: Any, expected: Any) -> None:
        if got != expected:
            problems.append(f"{what}: read model {got}, dataset {expected}")

    try:
        with engine.connect() as conn:
            nation = {"by": Level.NATION, "where": DealerFilter(), "as_of": truth.end_date}
            [summary], _ = receivables(conn, limit=1, cursor=None, **nation)
            same("invoiced", Decimal(summary["invoiced"]), truth.invoiced)
            same("received", Decimal(summary["received"]), truth.received)
            same("credited", Decimal(summary["credited"]), truth.credited)
            same("receivables", Decimal(summary["receivables"]), truth.receivables)
            same("reserved", Decimal(summary["reserved"]), truth.credit_reserved_open)
            [aged], _ = aging(conn, limit=1, cursor=None, **nation)
            for bucket, amount in truth.aging.items():
                same(f"aging {bucket}", Decimal(aged[bucket]), amount)
            rows, _ = rebates_accrued(conn, limit=1000, cursor=None, **nation)
            same(
                "rebate accrued",
                sum((Decimal(r["accrued"]) for r in rows), Decimal(0)),
                truth.rebate_accrued,
            )
            on_hand, reserved = conn.execute(
                select(func.sum(stock.c.on_hand), func.sum(stock.c.reserved))
            ).one()
            same("stock on hand", int(on_hand or 0), truth.stock_on_hand)
            same("stock reserved", int(reserved or 0), truth.stock_reserved)
            ordered, net = conn.execute(
                select(
                    func.sum(sales_daily.c.ordered_amount),
                    func.sum(sales_daily.c.invoiced_amount - sales_daily.c.credited_amount),
                )
            ).one()
            same("ordered", Decimal(ordered or 0), truth.ordered_amount)
            same("net sales", Decimal(net or 0), truth.net_sales)
            undelivered = conn.execute(
                select(func.count()).where(shipments.c.delivered_on.is_(None))
            ).scalar_one()
            same("shipments not delivered", int(undelivered), truth.shipments_not_delivered)
    finally:
        engine.dispose()
    return problems


def serve_query(settings: Settings) -> tuple[subprocess.Popen, str]:
    return serve(settings, "serve")


def serve(settings: Settings, kind: str, **env: str) -> tuple[subprocess.Popen, str]:
    """One process (``kind``: the query API, identity or the console) on a free port."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.readmodels", "--child", kind, str(port)],
        env={**child_env(settings), **env},
    )
    url = f"http://127.0.0.1:{port}"
    # Identity hashes the demo users' passwords (argon2, slow on purpose) before it serves.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return child, url
        except httpx.HTTPError:
            time.sleep(0.1)
    child.kill()
    raise RuntimeError(f"the {kind} process did not start")


def console_pages(settings: Settings, query_url: str, runs: int) -> dict[str, Any]:
    """The console's pages (bench/pages.py) with identity and the console beside the query
    process; the machine's load average while they ran goes with the figures."""
    from bench.pages import time_pages

    started = []
    try:
        identity, identity_url = serve(settings, "serve-identity")
        started.append(identity)
        console, console_url = serve(
            settings, "serve-console", QUERY_URL=query_url, IDENTITY_URL=identity_url
        )
        started.append(console)
        load_before = os.getloadavg()
        pages = time_pages(console_url, query_url, runs)
        pages["load_average"] = {"before": load_before, "after": os.getloadavg()}
        print(
            f"  machine load average (1, 5, 15 min) before {load_before}, after {os.getloadavg()}"
        )
        return pages
    finally:
        for child in reversed(started):
            child.terminate()
            child.wait(timeout=10)


def time_queries(url: str, runs: int) -> list[dict[str, Any]]:
    results = []
    with httpx.Client(base_url=url, headers=HQ, timeout=30) as client:
        for path, params in NATIONAL_QUERIES:
            for _ in range(3):  # warm-up: plans, pools, caches
                answer = client.get(path, params=params)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} {params}: {answer.status_code} {answer.text}")
            seconds = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                seconds.append(time.perf_counter() - started)
            results.append(
                {
                    "query": f"{path}?{'&'.join(f'{k}={v}' for k, v in params.items())}",
                    "p50_ms": round(percentile([s * 1000 for s in seconds], 50) or 0, 1),
                    "p99_ms": round(percentile([s * 1000 for s in seconds], 99) or 0, 1),
                    "items": len(answer.json().get("items", [])),
                }
            )
    return results


# -- children ---------------------------------------------------------------------------------
def run_child(args: list[str]) -> int:
    settings = Settings()
    if args[0] == "rebuild":
        from projections.rebuild import rebuild

        summary = rebuild(settings, args[1], progress=sys.stderr.isatty())
        print(
            json.dumps(
                {
                    "projection": summary.projection,
                    "events": summary.events,
                    "seconds": round(summary.seconds, 2),
                    "rate": round(summary.rate, 1),
                    "outcomes": dict(summary.outcomes),
                    "rows": summary.rows,
                    "watermarks": summary.watermarks,
                }
            )
        )
        return 0
    if args[0] in ("serve", "serve-identity", "serve-console"):
        if args[0] == "serve":
            from projections.bootstrap import build as query_process

            process = query_process(settings, with_projectors=False)
        elif args[0] == "serve-identity":
            from services.identity.bootstrap import build as identity_process

            process = identity_process(settings, with_relay=False)
        else:
            from console.app import build as console_process

            process = console_process(settings)
        process.serve(host="127.0.0.1", port=int(args[1]), log_level="warning")
        return 0
    raise SystemExit(f"unknown child {args[0]}")


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args.child)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.queries_only:
        # The processes read who is signed in from the identity topic: a broker with it.
        broker = None
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="dist-bench-pages-"))).start()
            bootstrap = broker.bootstrap_servers
        kept = Settings(
            dist_env="development",
            database_url=args.queries_only,
            kafka_bootstrap_servers=bootstrap,
            kafka_namespace=f"benchpages{uuid.uuid4().hex[:8]}",
            kafka_session_timeout_ms=1500,
        )
        from runtime import kafka

        admin = kafka.admin(kept)
        try:
            kafka.ensure_topic(admin, kept.topic("identity"), kept)
        finally:
            admin.close()
        server, url = serve_query(kept)
        try:
            for query in time_queries(url, args.queries):
                print(f"{query['query']:<60} p50 {query['p50_ms']} ms, p99 {query['p99_ms']} ms")
            pages = console_pages(kept, url, args.page_runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
            if broker:
                broker.stop()
        print()
        print(render_table(page_rows(pages)))
        write_json(
            {"kind": "console-pages", "pages": pages}, f"pages-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        return 0
    from bench.dataset import publish_dataset
    from projections.bootstrap import PROJECTIONS
    from runtime.migrate import migrate

    infrastructure = Infrastructure()
    try:
        settings = infrastructure.start()
        migrate(settings)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        print(f"could not start the infrastructure: {error}", file=sys.stderr)
        infrastructure.close()
        return 2
    try:
        print(f"[1/7] publishing the dataset: {args.events:,} events, {args.dealers:,} dealers")
        truth = publish_dataset(
            settings,
            events=args.events,
            seed=args.seed,
            end_date=args.end_date,
            dealers=args.dealers,
            skus=args.skus,
            warehouses=args.warehouses,
        )
        print(f"  {truth.publish.events_per_s:,.0f} events/s published")
        print("[2/7] ceiling: raw kafka-python consume of the three topics")
        ceiling = raw_consume(settings)
        print(f"  {ceiling['events']:,} events in {ceiling['seconds']} s")
        decoded = raw_consume(settings, decode=True)
        print(f"  consumed, decoded and validated: {decoded['rate']:,.0f} events/s")
        split = decode_split(settings)
        print(
            f"  decoding per event: envelope {split['envelope_us']} us + data "
            f"{split['data_us']} us (json.loads alone: {split['json_loads_us']} us)"
        )
        print("[3/7] rebuilding every read model from the topics, one process each")
        rebuilds = []
        for projection in PROJECTIONS:
            rebuilds.append(rebuild_in_child(settings, projection.name))
            done = rebuilds[-1]
            print(
                f"  {done['projection']}: {done['events']:,} events in {done['seconds']} s "
                f"({done['rate']:,.0f}/s), peak RSS {done['peak_rss_mb']} MB"
            )
        print("[4/7] checking the read models against the dataset")
        problems = check_truth(settings, truth)
        for problem in problems:
            print(f"  DISAGREES {problem}")
        print(f"[5/7] national roll-up queries, {args.queries} runs each")
        server, url = serve_query(settings)
        try:
            queries = time_queries(url, args.queries)
            print(f"[6/7] the console's dashboard and list pages, {args.page_runs} runs each")
            pages = console_pages(settings, url, args.page_runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
        print(f"[7/7] the routine warnings on {args.end_date}")
        routine = routine_warnings.measure(settings, today=args.end_date, runs=args.routine_runs)
    finally:
        infrastructure.close(keep=args.keep)

    rows = [
        Row(
            "dataset published",
            f"{truth.events:,} events",
            ratio="",
            goal="",
            result=f"{truth.publish.events_per_s:,.0f}/s",
        ),
        Row("raw kafka-python consume (ceiling)", f"{ceiling['rate']:,.0f} events/s"),
        Row(
            "consume + decode + validate, no database",
            f"{decoded['rate']:,.0f} events/s",
            f"{ceiling['rate']:,.0f}/s",
            f"{decoded['rate'] / ceiling['rate']:.2f}",
            f">= {DECODE_RATIO_GOAL}",
            verdict(decoded["rate"] / ceiling["rate"] >= DECODE_RATIO_GOAL),
        ),
        Row(
            "  of which per event: envelope + data (json.loads alone)",
            f"{split['envelope_us']} + {split['data_us']} us ({split['json_loads_us']} us)",
            f"{1e6 / ceiling['rate']:.2f} us consuming",
        ),
    ]
    for summary in rebuilds:
        # Against the consume-decode-validate ceiling: what a projector must do before it
        # writes anything.
        ratio = summary["rate"] / decoded["rate"]
        rows.append(
            Row(
                f"rebuild {summary['projection']} ({summary['events']:,} events)",
                f"{summary['rate']:,.0f} events/s "
                f"({summary['rate'] / ceiling['rate']:.2f} of raw consume)",
                f"{decoded['rate']:,.0f}/s",
                f"{ratio:.2f}",
                f">= {REBUILD_RATIO_GOAL}",
                verdict(ratio >= REBUILD_RATIO_GOAL),
            )
        )
    for summary in rebuilds:
        rows.append(
            Row(f"peak RSS rebuilding {summary['projection']}", f"{summary['peak_rss_mb']} MB")
        )
    for query in queries:
        rows.append(
            Row(
                query["query"],
                f"p50 {ms(query['p50_ms'])}, p99 {ms(query['p99_ms'])}",
                goal=f"p99 < {QUERY_P99_GOAL_MS:g} ms",
                result=verdict(query["p99_ms"] < QUERY_P99_GOAL_MS),
            )
        )
    rows.extend(page_rows(pages))
    rows.extend(routine_warnings.rows(routine))
    rows.append(
        Row(
            "read models agree with the dataset",
            "yes" if not problems else f"{len(problems)} differ",
            result=verdict(not problems),
        )
    )
    print()
    print(render_table(rows))
    path = write_json(
        {
            "kind": "readmodels",
            "args": {k: str(v) for k, v in vars(args).items() if k != "child"},
            "truth": truth.as_dict(),
            "ceiling": ceiling,
            "decoded": decoded,
            "decode_split": split,
            "rebuilds": rebuilds,
            "queries": queries,
            "pages": pages,
            "routine_warnings": routine,
            "problems": problems,
        },
        f"readmodels-{time.strftime('%Y%m%d-%H%M%S')}",
    )
    print(f"\nresults: {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
