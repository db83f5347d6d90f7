"""The routine warnings (issue 16) on a national dataset: one evaluation of every routine rule
(services/warnings/routine.py) over the read models, against the goal of under 2 s of CPU
per run for 5,000 dealers.

Measured on read models already built (``python -m bench.readmodels`` builds them and calls
this as its last step; ``python -m bench.routine`` builds a dataset of the size asked and
measures only this):

- the first evaluation, which raises every warning the dataset deserves (event-store writes
  included), and then steady evaluations, which find the same subjects and write nothing:
  the cost of the evaluation that runs every time the read models move and every day;
- per run: the CPU of this process (``time.process_time``: the evaluator, the board's
  catch-up and the saves) and of the PostgreSQL backends serving this database (their
  ``/proc`` CPU times read through psutil before and after, when the server runs on this
  machine; parallel query workers that exit within the run are not counted), and the wall
  time.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as day_time
from typing import Any

import psutil
from sqlalchemy import func, select

from bench.platform import backends_of, runs_here
from bench.report import Row, render_table, verdict, write_json
from runtime.clock import ManualClock
from runtime.settings import Settings

CPU_GOAL_S = 2.0


def backend_cpu_s(settings: Settings) -> float | None:
    """The CPU seconds so far of every backend connected to the settings' database, or None
    when they cannot be read (a server on another machine)."""
    dsn = settings.postgres().dsn()
    if not runs_here(dsn):
        return None
    total = 0.0
    for backend in backends_of(dsn):
        try:
            times = backend.cpu_times()
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            return None
        total += times.user + times.system
    return total


def measure(settings: Settings, *, today: date, runs: int = 5) -> dict[str, Any]:
    """The first evaluation and ``runs`` steady ones on ``today``, each with its CPU."""
    from projections.receivables.projection import dealers as registered
    from projections.tracking import projections_engine
    from services.warnings.application import WarningsApplication
    from services.warnings.board import Board
    from services.warnings.routine import evaluate

    clock = ManualClock(datetime.combine(today, day_time(12), tzinfo=UTC))
    app = WarningsApplication(settings, clock=clock)
    board = Board(settings, app)
    engine = projections_engine(settings, settings.projections_schema, pool_size=2)
    try:
        with engine.connect() as conn:
            dealers = conn.execute(select(func.count()).select_from(registered)).scalar()
        timed = []
        for run in range(runs + 1):
            before_pg = backend_cpu_s(settings)
            started_cpu, started = time.process_time(), time.perf_counter()
            result = evaluate(app, board, engine)
            cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
            after_pg = backend_cpu_s(settings)
            pg = None if before_pg is None or after_pg is None else after_pg - before_pg
            timed.append(
                {
                    "run": "first" if run == 0 else "steady",
                    "process_cpu_s": round(cpu, 3),
                    "postgres_cpu_s": None if pg is None else round(pg, 3),
                    "wall_s": round(wall, 3),
                    "found": result.found,
                    "raised": sum(result.raised.values()),
                    "resolved": sum(result.resolved.values()),
                }
            )
            print(
                f"  {timed[-1]['run']} evaluation: process CPU {cpu:.3f} s, PostgreSQL "
                f"{'n/a' if pg is None else f'{pg:.3f} s'}, wall {wall:.3f} s, raised "
                f"{timed[-1]['raised']}, resolved {timed[-1]['resolved']}"
            )
    finally:
        engine.dispose()
        board.close()
        app.close()
    steady = timed[1:] or timed
    median = sorted(steady, key=_total)[len(steady) // 2]
    return {"dealers": dealers, "today": today.isoformat(), "runs": timed, "steady": median}


def _total(run: dict[str, Any]) -> float:
    return run["process_cpu_s"] + (run["postgres_cpu_s"] or 0.0)


def rows(result: dict[str, Any]) -> list[Row]:
    first, steady = result["runs"][0], result["steady"]
    goal = f"< {CPU_GOAL_S:g} s CPU"

    def measured(run: dict[str, Any]) -> str:
        pg = run["postgres_cpu_s"]
        return (
            f"{run['process_cpu_s']:.3f} s process + "
            f"{'n/a' if pg is None else f'{pg:.3f} s'} PostgreSQL (wall {run['wall_s']:.3f} s)"
        )

    found = sum(first["found"].values())
    return [
        Row(
            f"routine warnings, first evaluation ({result['dealers']:,} dealers, "
            f"raised {first['raised']:,})",
            measured(first),
        ),
        Row(
            f"routine warnings, one evaluation of every rule ({result['dealers']:,} dealers, "
            f"{found:,} subjects found)",
            measured(steady),
            goal=goal,
            result=verdict(_total(steady) < CPU_GOAL_S),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """A dataset of the size asked, its read models rebuilt, then the routine evaluation."""
    from bench.dataset import publish_dataset
    from bench.readmodels import Infrastructure, add_dataset_arguments, rebuild_in_child
    from projections.bootstrap import PROJECTIONS
    from runtime.migrate import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.routine", description=__doc__)
    add_dataset_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="steady evaluations timed (5)")
    args = parser.parse_args(argv)
    infrastructure = Infrastructure()
    try:
        settings = infrastructure.start()
        migrate(settings)
        print(f"[1/3] publishing the dataset: {args.events:,} events, {args.dealers:,} dealers")
        publish_dataset(
            settings,
            events=args.events,
            seed=args.seed,
            end_date=args.end_date,
            dealers=args.dealers,
            skus=args.skus,
            warehouses=args.warehouses,
        )
        print("[2/3] rebuilding the read models")
        for projection in PROJECTIONS:
            done = rebuild_in_child(settings, projection.name)
            print(f"  {done['projection']}: {done['events']:,} events in {done['seconds']} s")
        print(f"[3/3] the routine warnings on {args.end_date}, {args.runs} steady runs")
        result = measure(settings, today=args.end_date, runs=args.runs)
    finally:
        infrastructure.close()
    print()
    print(render_table(rows(result)))
    path = write_json(
        {"kind": "routine-warnings", **result}, f"routine-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
