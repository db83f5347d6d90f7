"""`python -m bench.profile`: where each process's CPU goes while orders flow through the saga.

Starts the platform as `python -m bench` does, offers orders at a fixed rate (placed, then
reserved by finance and inventory and approved by orders) and, meanwhile, samples every
Python process of the platform with py-spy (attached to the running pid: nothing restarts,
``--nonblocking`` so the processes are not paused). For each process it prints the functions
holding the most samples, by own time and by time including callees, and keeps py-spy's
collapsed stacks under ``bench/results/`` (py-spy samples only threads that are running,
not those waiting on a socket or a lock).
CPU per approved order of every process, from their own CPU counters, is printed beside it,
so a change can be judged on both. An idle window comes last: with ``--idle`` seconds of no
traffic, the same is printed for what the platform does when nothing happens.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from datetime import datetime
from pathlib import Path

import psycopg2

from bench.measure import ResourceMeter, watch
from bench.platform import PROCESSES, Platform
from bench.run import cpu_breakdown, platform_components
from bench.saga import measure_saga

log = logging.getLogger("bench")

RESULTS = Path(__file__).resolve().parent / "results"
PYTHON_PROCESSES = PROCESSES  # every process of the platform is a Python one
# Samples per second. On a busy machine py-spy falls behind and stops late (it counts
# samples, not seconds): it is asked to stop once its time is up.
RATE_HZ = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="orders/s offered (50)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of orders (15)")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds of idle sampling (0)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per process (25)")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL: where each process spends its Python CPU "
        "(without it, threads waiting in C, on a socket or a lock, are sampled too)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="also load pg_stat_statements into the embedded PostgreSQL and print the SQL "
        "statements taking the most time per approved order (calls and ms per order)",
    )
    return parser.parse_args(argv)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (it is a dev dependency: make .venv/.installed)")
    return found


def record(
    pids: dict[str, int], seconds: float, label: str, *, gil: bool = False
) -> tuple[dict[str, Path], list[subprocess.Popen]]:
    """Start sampling each pid for ``seconds`` with py-spy: the collapsed stacks' file of
    each, and the samplers to wait for."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    outputs = {name: RESULTS / f"profile-{stamp}-{label}-{name}.txt" for name in pids}
    spies = [
        subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(round(seconds)),
                "--rate",
                str(RATE_HZ),
                "--nonblocking",
                *(["--gil"] if gil else []),
                "--format",
                "raw",
                "--output",
                str(outputs[name]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    return outputs, spies


def finish(spies: list[subprocess.Popen]) -> None:
    """Have every sampler write what it has (SIGINT is py-spy's Ctrl-C) and wait for it."""
    for spy in spies:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)
    for spy in spies:
        spy.wait(timeout=60)


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    if not path.exists():
        return stacks
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def summarise(name: str, stacks: Counter[tuple[str, ...]], top: int) -> str:
    total = sum(stacks.values())
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
    lines = [f"\n== {name}: {total} samples ({RATE_HZ}/s, running threads)"]
    lines.append("  own time:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  including callees:")
    lines += [
        f"    {100 * n / total:5.1f}%  {frame}"
        for frame, n in inclusive.most_common(top * 2)
        if "<module>" not in frame and "run (threading" not in frame
    ][: top * 2]
    return "\n".join(lines)


# pg_stat_statements counts every statement (those inside functions too) from the reset on.
STATEMENTS_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "5000",
    "pg_stat_statements.track_planning": "on",
}


def statements_reset(dsn: str) -> None:
    with closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as curs:
            curs.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            curs.execute("SELECT pg_stat_statements_reset()")


def statements_report(dsn: str, approved: int, top: int) -> str:
    """The statements of the bench's database by time, per approved order: calls, time
    planning and executing (ms), rows; and the totals. Statement time is PostgreSQL's wall
    time for the statement, close to its CPU on an unloaded server; what a backend spends
    besides (parsing, commits, the protocol) is in neither."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as curs:
        curs.execute(
            "SELECT calls, total_plan_time, total_exec_time, rows, "
            "regexp_replace(query, '\\s+', ' ', 'g') "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() "
            "ORDER BY total_plan_time + total_exec_time DESC"
        )
        found = curs.fetchall()
    per = max(approved, 1)
    calls = sum(row[0] for row in found)
    plan_ms = sum(row[1] for row in found)
    exec_ms = sum(row[2] for row in found)
    lines = [
        f"\n== PostgreSQL statements ({len(found)} kinds): {calls / per:.1f} calls, "
        f"{plan_ms / per:.2f} ms planning and {exec_ms / per:.2f} ms executing per approved "
        "order",
        "  calls/order  plan ms  exec ms  rows/call  statement",
    ]
    for count, planning, executing, rows, query in found[:top]:
        lines.append(
            f"  {count / per:11.2f}  {planning / per:7.3f}  {executing / per:7.3f}  "
            f"{rows / max(count, 1):9.1f}  {query[:150]}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    platform = Platform(postgres_settings=STATEMENTS_SETTINGS if args.statements else None)
    try:
        target = platform.start()
        meter = ResourceMeter(platform.components, platform.database_sessions)
        pids = {
            name: processes[0].pid
            for name, processes in platform.components().items()
            if name in PYTHON_PROCESSES
        }
        if args.statements:
            statements_reset(target.database_dsn)
        outputs, spies = record(pids, args.seconds + 2, "saga", gil=args.gil)
        assert platform.settings is not None
        saga = measure_saga(
            platform.settings,
            target.orders_url,
            rate=args.rate,
            seconds=args.seconds,
            max_senders=256,
            approval_threshold=target.approval_threshold,
            meter=meter,
        )
        finish(spies)
        for name, path in outputs.items():
            print(summarise(name, read_stacks(path), args.top))
        approved = saga.approved_in_window
        print(f"\napproved in the window: {approved} ({saga.approved_per_s}/s)")
        for name, value in cpu_breakdown(saga.resources, approved).items():
            print(f"  CPU ms per approved order, {name}: {value}")
        if args.statements:
            print(statements_report(target.database_dsn, approved, args.top))
        if args.idle:
            time.sleep(3.0)
            outputs, spies = record(pids, args.idle, "idle")
            meter.start()
            watch("no traffic", args.idle, lambda: 0, "orders")
            idle = meter.stop()
            finish(spies)
            for name, path in outputs.items():
                print(summarise(f"{name} (idle)", read_stacks(path), args.top))
            for name in platform_components(idle):
                print(f"  idle cores, {name}: {idle.cores[name]:.3f}")
        return 0
    finally:
        platform.close()


if __name__ == "__main__":
    sys.exit(main())
