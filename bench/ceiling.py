"""The ceiling: raw PostgreSQL commits, one row per transaction (synchronous_commit as the
server has it, on by default), N psycopg2 connections in N threads, into a scratch table of
the benchmark's database. No command can commit faster than this through one database."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass

import psycopg2
import psycopg2.extensions

from bench.measure import ResourceMeter, ResourceUse, watch

PAYLOAD = os.urandom(300)  # about the size of a stored OrderPlaced event


@dataclass(frozen=True)
class CeilingResult:
    connections: int
    rows: int
    seconds: float
    rows_per_s: float
    synchronous_commit: str | None
    resources: ResourceUse

    def as_dict(self) -> dict:
        return asdict(self)


def _execute(dsn: str, *statements: str) -> str | None:
    """Run statements in one committed transaction; return the last one's first value."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as curs:
            for statement in statements:
                curs.execute(statement)
            return curs.fetchone()[0] if curs.description else None
    finally:
        conn.close()


def measure_ceiling(
    dsn: str, *, connections: int, seconds: float, meter: ResourceMeter
) -> CeilingResult:
    table = f"bench_ceiling_{uuid.uuid4().hex[:8]}"
    synchronous_commit = _execute(
        dsn,
        f"CREATE TABLE public.{table} (id bigserial PRIMARY KEY, stream uuid NOT NULL, "
        "version int NOT NULL, state bytea NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
        "SHOW synchronous_commit",
    )
    conns: list[psycopg2.extensions.connection] = []
    counts = [0] * connections
    ready = threading.Barrier(connections + 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def insert_rows(index: int) -> None:
        conn = conns[index]
        conn.autocommit = False
        stream = uuid.uuid4()
        try:
            with conn.cursor() as curs:
                ready.wait(timeout=60)
                while not stop.is_set():
                    curs.execute(
                        f"INSERT INTO public.{table} (stream, version, state) VALUES (%s, %s, %s)",
                        (str(stream), counts[index], PAYLOAD),
                    )
                    conn.commit()
                    counts[index] += 1
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=insert_rows, args=(i,), daemon=True) for i in range(connections)
    ]
    try:
        conns += [psycopg2.connect(dsn) for _ in range(connections)]
        for thread in threads:
            thread.start()
        ready.wait(timeout=60)
        meter.start()
        started = time.perf_counter()
        watch(f"PG ceiling, {connections} conn", seconds, lambda: sum(counts), "rows")
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        elapsed = time.perf_counter() - started
        resources = meter.stop()
    finally:
        stop.set()
        for conn in conns:
            conn.close()
        _execute(dsn, f"DROP TABLE IF EXISTS public.{table}")
    if errors:
        raise RuntimeError(f"ceiling insert failed: {errors[0]!r}")
    rows = sum(counts)
    return CeilingResult(
        connections=connections,
        rows=rows,
        seconds=round(elapsed, 3),
        rows_per_s=round(rows / elapsed, 1),
        synchronous_commit=synchronous_commit,
        resources=resources,
    )
