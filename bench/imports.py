"""`python -m bench.imports`: bulk import of a national dealer file and a national price file
(issue 17: 50,000 rows in under a minute on these machines), through `dist import`'s code
path (services/imports) on the orders event store.

Times, on a fresh database, for each file: its dry run, its import, and its re-import (which
must write nothing new). The price file prices ``--rows`` / 4 SKUs for each of the 4 grades
(the SKUs are imported first, timed apart). Only PostgreSQL is needed (DATABASE_URL when
set, else embedded): the import writes the event store; publishing to Kafka is the relay's.
``--smoke``: 500 rows, so CI notices when it stops running. Exit status 0 when it ran (a
missed goal is reported), 1 when the re-import wrote anything or a row was refused.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2

from runtime.embedded import EmbeddedPostgres
from runtime.http.auth import Principal
from runtime.migrate import migrate
from runtime.settings import ApiKeyGrant, PostgresLocation, Role, Settings
from services.imports.application import application_for, kind_of, run_import

GOAL_S = 60.0
BRANCHES = {"CD": "SOUTHWEST", "CQ": "SOUTHWEST", "SH": "EAST", "HZ": "EAST", "BJ": "NORTH"}
GRADES = ("tier1_distributor", "tier2_distributor", "exclusive_dealer", "group_buy")


def dealer_file(rows: int) -> bytes:
    lines = ["code,name,branch,region,grade"]
    branches = list(BRANCHES)
    for i in range(rows):
        branch = branches[i % len(branches)]
        lines.append(
            f"{branch}-{i:06d},Dealer {i} Wine Trading,{branch},{BRANCHES[branch]},"
            f"{GRADES[i % len(GRADES)]}"
        )
    return ("\n".join(lines) + "\n").encode()


def product_file(skus: int) -> bytes:
    lines = ["sku,name,category,unit,list_price"]
    lines += [
        f"BAIJIU-{i:06d}-500ML,Baijiu {i} 500ml,BAIJIU,bottle,{100 + i % 900}.00"
        for i in range(skus)
    ]
    return ("\n".join(lines) + "\n").encode()


def price_file(skus: int) -> bytes:
    """Every SKU's price for every grade (a national price list), effective today."""
    lines = ["grade,sku,unit_price,effective_from"]
    for grade_number, grade in enumerate(GRADES):
        lines += [
            f"{grade},BAIJIU-{i:06d}-500ML,{90 + i % 900 - grade_number}.50," for i in range(skus)
        ]
    return ("\n".join(lines) + "\n").encode()


def organisation_files() -> tuple[bytes, bytes]:
    regions = "code,name\n" + "".join(f"{r},{r.title()} Region\n" for r in set(BRANCHES.values()))
    branches = "code,name,region\n" + "".join(f"{b},{b} Branch,{r}\n" for b, r in BRANCHES.items())
    return regions.encode(), branches.encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--smoke", action="store_true", help="500 rows")
    args = parser.parse_args(argv)
    rows = 500 if args.smoke else args.rows
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="dist-bench-import-"))
    work.chmod(0o755)  # the embedded server runs as postgres when we are root
    embedded = None
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        embedded = EmbeddedPostgres(work / "postgres").start()
        server_url = embedded.url
    server = PostgresLocation.from_url(server_url)
    database = f"dist_bench_import_{uuid.uuid4().hex[:8]}"
    _admin(server.dsn(), f'CREATE DATABASE "{database}"')
    try:
        settings = Settings(
            dist_env="development",
            database_url=server.model_copy(update={"dbname": database}).dsn(),
        )
        migrate(settings)
        return _measure(settings, rows)
    finally:
        _admin(server.dsn(), f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if embedded:
            embedded.stop()


def _measure(settings: Settings, rows: int) -> int:
    principal = Principal(
        grant=ApiKeyGrant(name="bench-import", role=Role.HQ_ADMIN), correlation_id="bench"
    )
    app = application_for(kind_of("dealers"), settings)
    try:
        regions, branches = organisation_files()
        for name, data in (("regions", regions), ("branches", branches)):
            assert run_import(kind_of(name), f"{name}.csv", data, app, principal).ok
        ok = _timed("dealers", dealer_file(rows), rows, app, principal)
        skus = max(1, rows // len(GRADES))
        products = run_import(kind_of("products"), "p.csv", product_file(skus), app, principal)
        print(f"(products for the price file: {skus:,} in {products.seconds:.1f} s)")
        ok = _timed("price-lists", price_file(skus), skus * len(GRADES), app, principal) and ok
    finally:
        app.close()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (other work shares them)")
    return 0 if ok and products.ok else 1


def _timed(kind: str, data: bytes, rows: int, app: Any, principal: Principal) -> bool:
    """Dry run, import and re-import of one file; whether all went as they must."""
    chosen = kind_of(kind)
    started = time.monotonic()
    checked = run_import(chosen, f"{kind}.csv", data, app, principal, dry=True)
    dry_s = time.monotonic() - started
    cpu_before = time.process_time()
    imported = run_import(chosen, f"{kind}.csv", data, app, principal)
    cpu_s = time.process_time() - cpu_before
    again = run_import(chosen, f"{kind}.csv", data, app, principal)
    print(f"{kind} file of {rows:,} rows ({len(data) / 1e6:.1f} MB CSV)")
    print(f"  dry run    {dry_s:6.1f} s")
    print(
        f"  import     {imported.seconds:6.1f} s  ({rows / imported.seconds:,.0f} rows/s, dry run "
        f"included; {cpu_s:.1f} CPU-s in this process, PostgreSQL's not counted)"
    )
    print(f"  re-import  {again.seconds:6.1f} s  ({again.written} written)")
    scaled = imported.seconds * 50_000 / rows
    goal = "met" if scaled < GOAL_S else "MISSED"
    print(f"  goal: 50,000 rows in under {GOAL_S:.0f} s: {goal} ({scaled:.1f} s at this rate)")
    good = checked.ok and imported.ok and again.ok and imported.written == rows
    if not good or again.written:
        print(f"{kind}: rows refused, or the re-import wrote something", file=sys.stderr)
        for line in (imported.lines() + again.lines())[:10]:
            print(f"  {line}", file=sys.stderr)
        return False
    return True


def _admin(dsn: str, statement: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as curs:
            curs.execute(statement)
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
