"""The placement ceiling (issue 18, goal 2): a minimal FastAPI app that appends one event with
eventsourcing to the same PostgreSQL, and nothing else (no idempotency record, no reference
data, no pricing, no relay). Served like the platform's processes (one uvicorn worker, uvloop
and httptools, a sync route in the thread pool), in its own schema of the benchmark's
database. Placement through the platform is measured against this, in the same run.

``python -m bench.bare --port N --database-url URL``: the child process the benchmark starts.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from uuid import UUID

import psycopg2
import uvicorn
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI

from runtime.settings import PostgresLocation

SCHEMA = "bench_bare"


class BareOrder(Aggregate):
    """One event per order: what it was asked for, stored as given."""

    @event("Placed")
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class BareOrders(Application[UUID]):
    name = "bare"


def create_app(database_url: str) -> FastAPI:
    pg = PostgresLocation.from_url(database_url)
    with psycopg2.connect(pg.dsn()) as conn, conn.cursor() as curs:
        curs.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
    conn.close()
    orders = BareOrders(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg.dbname,
            "POSTGRES_HOST": pg.host,
            "POSTGRES_PORT": str(pg.port),
            "POSTGRES_USER": pg.user,
            "POSTGRES_PASSWORD": pg.password,
            "POSTGRES_SCHEMA": SCHEMA,
            "POSTGRES_POOL_SIZE": "10",
            "CREATE_TABLE": "y",
        }
    )
    api = FastAPI()

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/orders", status_code=201)
    def place(body: dict[str, Any]) -> dict[str, Any]:
        order = BareOrder(body)
        [recording] = orders.save(order)
        return {"order_id": str(order.id), "position": f"bare:{recording.notification.id}"}

    return api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    api = create_app(args.database_url)
    uvicorn.run(
        api,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
