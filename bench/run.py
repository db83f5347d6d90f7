"""`python -m bench`: start the platform, run the phases, print and save the report.

The phases: (1) the PostgreSQL commit ceiling; (2) order placement through HTTP, closed loop;
(3) command to visible (placed order -> HQ's sales read model), open loop; (4) the saga
(placed order -> approved by finance's and inventory's reservations), open loop; (5) the
saga's sustained maximum: the saga again at rising offered rates (``--saga-ramp``) up to the
first it cannot keep up with, then at half the highest it kept up with, and command to
visible at that half rate too (goal 3's two latencies).
The saga's process managers run through every phase, as they would in production; only the
saga phases wait for them.

Exit status: 0 when every phase ran (a missed goal is reported, not an error), 2 when the
platform could not be started, 1 when a phase failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform as host
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from bench.ceiling import CeilingResult, measure_ceiling
from bench.measure import ResourceMeter, ResourceUse, memory_mb, watch
from bench.platform import PROCESSES, Platform, PlatformStartFailed, Target
from bench.report import Row, ms, per_s, render_resources, render_table, verdict, write_json
from bench.saga import SagaResult, measure_saga
from bench.throughput import ThroughputResult, measure_throughput
from bench.visibility import VisibilityResult, measure_visibility
from bench.workload import HQ

log = logging.getLogger("bench")

# Issue 18's goals. CPU per order is summed from each process's own CPU counters, so that
# it holds on a shared, noisy machine where rates do not.
CPU_PER_APPROVED_GOAL_MS = 10.0  # every process of the platform, PostgreSQL and broker too
ORDERS_CPU_PER_PLACED_GOAL_MS = 2.0  # the orders process alone
BARE_RATIO_GOAL = 0.6  # placement through the platform / the bare app (bench.bare)
PLACEMENT_GOAL_PER_S = 250.0
SAGA_GOAL_PER_S = 150.0
APPROVED_P99_GOAL_MS = 500.0
IDLE_GOAL_CORES = 0.05
IDLE_SETTLE_S = 3.0
RATIO_GOAL = 0.25
VISIBLE_P99_GOAL_MS = 250.0
CATCH_UP_TIMEOUT_S = 60.0
NOISY_NEIGHBOUR_CORES = 0.15


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r}") from None
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark order placement, read-your-writes and the order saga.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds measured in the placement, command-to-visible and saga phases (10)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="HTTP clients placing orders, and PostgreSQL connections of the ceiling (4)",
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="orders/s of the command-to-visible phase (100)"
    )
    parser.add_argument(
        "--saga-rate",
        type=float,
        default=50.0,
        help="orders/s of the saga phase, placed to approved (50)",
    )
    parser.add_argument(
        "--saga-ramp",
        type=_rates,
        default=(75.0, 100.0, 150.0, 200.0, 250.0, 300.0),
        help="offered rates (orders/s, comma-separated) at which the saga is run after its "
        "phase, up to the first it cannot keep up with: its sustained maximum "
        "(75,100,150,200,250,300; empty: none)",
    )
    parser.add_argument(
        "--ceiling-duration", type=float, default=5.0, help="seconds per ceiling run (5)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up (2)")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds of the idle phase, no traffic (10)"
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=256,
        help="at most this many orders in flight in the command-to-visible and saga phases (256)",
    )
    parser.add_argument(
        "--kafka",
        choices=["embedded", "apache"],
        default="embedded",
        help="the local broker started when KAFKA_BOOTSTRAP_SERVERS is unset (embedded)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one second per phase at a low rate: proves the benchmark runs (CI), measures nothing",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.ceiling_duration, args.warmup, args.idle = 1.0, 1.0, 0.5, 1.0
        args.rate, args.saga_rate, args.saga_ramp = 20.0, 10.0, (20.0,)
    if (
        min(args.concurrency, args.senders) < 1
        or min(args.rate, args.saga_rate, args.duration) <= 0
    ):
        parser.error(
            "--concurrency, --senders, --rate, --saga-rate and --duration must be positive"
        )
    return args


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def catch_up(target: Target, position: str | None) -> float | None:
    """Seconds until the sales read model holds ``position`` (it may lag after a burst)."""
    if position is None:
        return None
    started = time.perf_counter()
    with httpx.Client(base_url=target.query_url, headers=HQ, timeout=30) as client:
        while True:
            answer = client.get("/hq/sales", params={"min_position": position})
            if answer.status_code == 200:
                return round(time.perf_counter() - started, 2)
            if time.perf_counter() - started > CATCH_UP_TIMEOUT_S:
                raise RuntimeError(
                    f"the read model did not reach {position} in {CATCH_UP_TIMEOUT_S:.0f}s"
                )


def measure_idle(seconds: float, meter: ResourceMeter) -> ResourceUse:
    """Cores the platform burns with no traffic at all (consumers polling, relays waiting),
    from IDLE_SETTLE_S after the last traffic (the pipeline check): consumers space their
    polls out only after 2 s without a record (runtime.consumer.IdlePacing)."""
    time.sleep(IDLE_SETTLE_S)
    meter.start()
    watch("no traffic", seconds, lambda: 0, "orders")
    return meter.stop()


def run_phases(args: argparse.Namespace, platform: Platform, target: Target) -> dict:
    meter = ResourceMeter(platform.components, platform.database_sessions)
    c = args.concurrency
    print(f"\n[0/5] idle: the platform with no traffic for {args.idle:g} s")
    idle = measure_idle(args.idle, meter)
    print(f"\n[1/5] ceiling: PostgreSQL commits of one row, {c} and 1 connection(s)")
    ceiling_c = measure_ceiling(
        target.database_dsn, connections=c, seconds=args.ceiling_duration, meter=meter
    )
    ceiling_1 = (
        ceiling_c
        if c == 1
        else measure_ceiling(
            target.database_dsn, connections=1, seconds=args.ceiling_duration, meter=meter
        )
    )
    print(f"\n[2/5] order placement through HTTP, {c} clients (closed loop)")
    placement = measure_throughput(
        target.orders_url,
        concurrency=c,
        warmup=args.warmup,
        seconds=args.duration,
        meter=meter,
    )
    log.info("waiting for the read model to catch up with %s", placement.last_position)
    caught_up = catch_up(target, placement.last_position)
    print(f"\n[2b/5] ceiling: a bare FastAPI app appending one event, {c} clients (closed loop)")
    with platform.bare_ceiling() as bare_url:
        bare = measure_throughput(
            bare_url, concurrency=c, warmup=args.warmup, seconds=args.duration, meter=meter
        )
    print(f"\n[3/5] command to visible at {args.rate:g} orders/s (open loop)")
    visibility = measure_visibility(
        target.orders_url,
        target.query_url,
        rate=args.rate,
        seconds=args.duration,
        max_senders=args.senders,
        meter=meter,
    )
    print(f"\n[4/5] the saga, placed to approved, at {args.saga_rate:g} orders/s (open loop)")
    assert platform.settings is not None
    saga = measure_saga(
        platform.settings,
        target.orders_url,
        rate=args.saga_rate,
        seconds=args.duration,
        max_senders=args.senders,
        approval_threshold=target.approval_threshold,
        meter=meter,
    )
    ramp = measure_saga_ramp(args, platform, target, meter)
    return {
        "ramp": ramp,
        "idle": idle,
        "bare": bare,
        "memory": memory_mb(platform.components()),
        "ceiling_1": ceiling_1,
        "ceiling_c": ceiling_c,
        "placement": placement,
        "catch_up_s": caught_up,
        "visibility": visibility,
        "saga": saga,
    }


def build_report(phases: dict) -> tuple[list[Row], dict]:
    ceiling_1: CeilingResult = phases["ceiling_1"]
    ceiling_c: CeilingResult = phases["ceiling_c"]
    placement: ThroughputResult = phases["placement"]
    visibility: VisibilityResult = phases["visibility"]
    saga: SagaResult = phases["saga"]
    c = placement.concurrency
    ratio = placement.commands_per_s / ceiling_c.rows_per_s if ceiling_c.rows_per_s else 0.0
    saga_ratio = saga.approved_per_s / ceiling_c.rows_per_s if ceiling_c.rows_per_s else 0.0
    ratio_ok = ratio >= RATIO_GOAL
    p99 = visibility.visible["p99_ms"]
    visible_ok = p99 is not None and p99 < VISIBLE_P99_GOAL_MS and visibility.status_503 == 0
    latency = placement.latency
    rows = [
        Row("PG commit ceiling, 1 row/tx, 1 conn", per_s(ceiling_1.rows_per_s, "rows")),
        Row(f"PG commit ceiling, 1 row/tx, {c} conn", per_s(ceiling_c.rows_per_s, "rows")),
        Row(
            f"Order placement via HTTP, {c} clients",
            per_s(placement.commands_per_s, "cmd"),
            per_s(ceiling_c.rows_per_s, "rows"),
            f"{ratio:.3f}",
            f">= {RATIO_GOAL:.2f}",
            verdict(ratio_ok),
        ),
        Row("  placement latency p50", ms(latency["p50_ms"])),
        Row("  placement latency p99", ms(latency["p99_ms"])),
        Row(
            "  read model caught up after placement",
            "n/a" if phases["catch_up_s"] is None else f"{phases['catch_up_s']:.2f} s",
        ),
        Row(
            "Command-to-visible, achieved rate",
            f"{visibility.achieved_rate:,.1f} /s",
            goal=f"{visibility.target_rate:g} /s",
        ),
        Row("  send lateness p99 (open loop)", ms(visibility.send_lateness_p99_ms)),
        Row("  order POST latency p99 (open loop)", ms(visibility.post_latency["p99_ms"])),
        Row("  command-to-visible p50", ms(visibility.visible["p50_ms"])),
        Row(
            "  command-to-visible p99",
            ms(p99),
            goal=f"< {VISIBLE_P99_GOAL_MS:.0f} ms, no 503",
            result=verdict(visible_ok),
        ),
        Row("  command-to-visible max", ms(visibility.visible["max_ms"])),
        Row("  503 read_model_behind answers", f"{visibility.status_503}", goal="0"),
        Row(
            "Saga: placed→approved, achieved",
            f"{saga.approved_per_s:,.1f} orders/s",
            per_s(ceiling_c.rows_per_s, "rows"),
            f"{saga_ratio:.3f}",
            "—",
        ),
        Row(
            "  process managers caught up before it",
            f"{saga.settle_s:.2f} s"
            if not any(saga.backlog_at_start.values())
            else f"not in {saga.settle_s:.0f} s ({sum(saga.backlog_at_start.values())} left)",
        ),
        Row("  placed→approved p50", ms(saga.approved_latency["p50_ms"])),
        Row("  placed→approved p99", ms(saga.approved_latency["p99_ms"])),
        Row(
            "  not approved / rejected / on hold",
            f"{saga.not_approved} / {saga.rejected} / {saga.on_credit_hold}",
            goal="0 / 0 / 0",
        ),
    ]
    goals = {
        "placement_ratio": {
            "measured": round(ratio, 3),
            "goal": f">= {RATIO_GOAL}",
            "result": verdict(ratio_ok),
        },
        "command_to_visible_p99_ms": {
            "measured": p99,
            "status_503": visibility.status_503,
            "goal": f"< {VISIBLE_P99_GOAL_MS} and no 503",
            "result": verdict(visible_ok),
        },
        "saga_ratio": {"measured": round(saga_ratio, 3), "goal": None, "result": "report"},
    }
    return rows, goals


NOT_PLATFORM = frozenset({"bench", "bare", "kernel", "neighbours", "unattributed"})


def platform_components(use: ResourceUse) -> list[str]:
    """The platform's own processes in a phase: its services, PostgreSQL and the broker."""
    return [name for name in use.cores if name not in NOT_PLATFORM]


def cpu_breakdown(use: ResourceUse, count: int) -> dict[str, float | None]:
    """CPU milliseconds per unit of work of each platform process, and their total."""
    names = platform_components(use)
    found = {name: use.cpu_ms_per(count, [name]) for name in names}
    found["total"] = use.cpu_ms_per(count, names)
    return found


# A step of the ramp keeps up when this share of its offered orders is approved within the
# window (the rest still in flight when it closes).
KEPT_UP_SHARE = 0.9


@dataclass
class SagaRamp:
    """The saga at rising offered rates: each step's result, the highest approved rate of a
    step that kept up (``sustained_per_s``), and the saga at half of it (goal 3's latency)."""

    steps: list[SagaResult]
    sustained_per_s: float
    at_half: SagaResult | None
    # Command to visible at the same half rate (goal 3's other latency).
    visible_at_half: VisibilityResult | None = None

    def kept_up(self, step: SagaResult) -> bool:
        return step.approved_per_s >= KEPT_UP_SHARE * step.target_rate


def measure_saga_ramp(
    args: argparse.Namespace, platform: Platform, target: Target, meter: ResourceMeter
) -> SagaRamp:
    """The saga's sustained maximum: offered at each rate of ``--saga-ramp`` in turn (each
    step starts once the process managers caught up with the one before), up to the first
    step that does not keep up; then once more at half the highest rate kept up, for goal
    3's latency there."""
    assert platform.settings is not None

    def saga_at(rate: float) -> SagaResult:
        return measure_saga(
            platform.settings,
            target.orders_url,
            rate=rate,
            seconds=args.duration,
            max_senders=args.senders,
            approval_threshold=target.approval_threshold,
            meter=meter,
        )

    ramp = SagaRamp(steps=[], sustained_per_s=0.0, at_half=None)
    for number, rate in enumerate(args.saga_ramp, start=1):
        print(f"\n[5/5] the saga's maximum, step {number}: {rate:g} orders/s offered")
        step = saga_at(rate)
        ramp.steps.append(step)
        if not ramp.kept_up(step):
            break
        ramp.sustained_per_s = max(ramp.sustained_per_s, step.approved_per_s)
    if ramp.sustained_per_s:
        half = round(ramp.sustained_per_s / 2, 1)
        print(f"\n[5/5] the saga at half its sustained maximum: {half:g} orders/s")
        ramp.at_half = saga_at(half)
        print(f"\n[5/5] command to visible at half the saga's maximum: {half:g} orders/s")
        ramp.visible_at_half = measure_visibility(
            target.orders_url,
            target.query_url,
            rate=half,
            seconds=args.duration,
            max_senders=args.senders,
            meter=meter,
        )
    return ramp


def ramp_rows(ramp: SagaRamp) -> list[Row]:
    """The ramp's curve: approved rate, CPU per approved order and p99 at each step."""
    rows = []
    for step in ramp.steps:
        approved = round(step.approved_per_s * step.resources.seconds)
        cpu = cpu_breakdown(step.resources, approved)["total"]
        rows.append(
            Row(
                f"     offered {step.target_rate:g}/s",
                f"{step.approved_per_s:,.1f} /s approved, {ms(cpu)} CPU per order, "
                f"p99 {ms(step.approved_latency['p99_ms'])}",
                result="kept up" if ramp.kept_up(step) else "fell behind",
            )
        )
    return rows


def issue18_goals(phases: dict) -> tuple[list[Row], dict]:
    """Issue 18's goals, each with its figure and verdict (goals 4 and 5: see the rows)."""
    idle: ResourceUse = phases["idle"]
    placement: ThroughputResult = phases["placement"]
    bare: ThroughputResult = phases["bare"]
    saga: SagaResult = phases["saga"]
    approved = round(saga.approved_per_s * saga.resources.seconds)
    per_approved = cpu_breakdown(saga.resources, approved)
    orders_ms = placement.resources.cpu_ms_per(placement.commands, ["orders"])
    bare_ratio = placement.commands_per_s / bare.commands_per_s if bare.commands_per_s else 0.0
    # Judged on the sum of the processes' own figures (three decimals), not on a rounding.
    idle_cores = round(sum(idle.cores[name] for name in platform_components(idle)), 3)
    ramp: SagaRamp = phases["ramp"]
    # Goal 3's latency at half the sustained maximum; without a ramp, at the saga phase's rate.
    at_half = ramp.at_half or saga
    half_rate = f"{at_half.target_rate:g}/s" + ("" if ramp.at_half else ", the saga phase's")
    approved_p99 = at_half.approved_latency["p99_ms"]
    # ... and command to visible there; without a ramp, the command-to-visible phase's.
    visible_at_half = ramp.visible_at_half or phases["visibility"]
    visible_rate = f"{visible_at_half.target_rate:g}/s" + (
        "" if ramp.visible_at_half else ", the command-to-visible phase's"
    )
    visible_p99 = visible_at_half.visible["p99_ms"]
    visible_ok = (
        visible_p99 is not None
        and visible_p99 < VISIBLE_P99_GOAL_MS
        and visible_at_half.status_503 == 0
    )

    def at_most(value: float | None, goal: float) -> str:
        return verdict(None if value is None else value <= goal)

    rows = [
        Row("Issue 18 goals", ""),
        Row(
            "1. CPU per approved order, whole platform",
            ms(per_approved["total"]),
            goal=f"<= {CPU_PER_APPROVED_GOAL_MS:g} ms",
            result=at_most(per_approved["total"], CPU_PER_APPROVED_GOAL_MS),
        ),
        *(
            Row(f"     {name}", ms(value))
            for name, value in sorted(per_approved.items(), key=lambda item: -(item[1] or 0))
            if name != "total"
        ),
        Row(
            "1. orders process CPU per placed order",
            ms(orders_ms),
            goal=f"<= {ORDERS_CPU_PER_PLACED_GOAL_MS:g} ms",
            result=at_most(orders_ms, ORDERS_CPU_PER_PLACED_GOAL_MS),
        ),
        Row(
            "2. placement / bare FastAPI+eventsourcing",
            per_s(placement.commands_per_s, "cmd"),
            per_s(bare.commands_per_s, "cmd"),
            f"{bare_ratio:.2f}",
            f">= {BARE_RATIO_GOAL:g}",
            verdict(bare_ratio >= BARE_RATIO_GOAL),
        ),
        Row(
            "2. placement rate",
            per_s(placement.commands_per_s, "cmd"),
            goal=f">= {PLACEMENT_GOAL_PER_S:g} /s",
            result=verdict(placement.commands_per_s >= PLACEMENT_GOAL_PER_S),
        ),
        Row(
            "3. saga, sustained approved rate (ramp)",
            f"{ramp.sustained_per_s:,.1f} /s" if ramp.steps else "not measured",
            goal=f">= {SAGA_GOAL_PER_S:g} /s",
            result=verdict(ramp.sustained_per_s >= SAGA_GOAL_PER_S) if ramp.steps else "n/a",
        ),
        *ramp_rows(ramp),
        Row(
            f"3. placed→approved p99 at half the maximum ({half_rate})",
            ms(approved_p99),
            goal=f"< {APPROVED_P99_GOAL_MS:g} ms",
            result=verdict(None if approved_p99 is None else approved_p99 < APPROVED_P99_GOAL_MS),
        ),
        Row(
            f"3. command-to-visible p99 at half the maximum ({visible_rate})",
            ms(visible_p99),
            goal=f"< {VISIBLE_P99_GOAL_MS:g} ms, no 503",
            result=verdict(visible_ok),
        ),
        Row("4. flat with 10k/100k/1M events stored", "see python -m bench.history", result="n/a"),
        Row("5. read side (python -m bench.readmodels)", "see its report", result="n/a"),
        Row(
            "6. idle: platform cores, no traffic",
            f"{idle_cores:.3f} cores",
            goal=f"< {IDLE_GOAL_CORES:g}",
            result=verdict(idle_cores < IDLE_GOAL_CORES),
        ),
        *(
            Row(f"     {name}", f"{idle.cores[name]:.3f}")
            for name in sorted(platform_components(idle), key=lambda n: -idle.cores[n])
        ),
        Row("7. peak RSS per process (report)", ""),
        *(
            Row(f"     {name}", f"{figures['peak_rss_mb']:,.0f} MB")
            for name, figures in phases["memory"].items()
            if name not in NOT_PLATFORM
        ),
    ]
    goals = {
        "cpu_ms_per_approved_order": {
            "measured": per_approved,
            "goal": f"<= {CPU_PER_APPROVED_GOAL_MS}",
            "result": at_most(per_approved["total"], CPU_PER_APPROVED_GOAL_MS),
        },
        "orders_cpu_ms_per_placed_order": {
            "measured": orders_ms,
            "goal": f"<= {ORDERS_CPU_PER_PLACED_GOAL_MS}",
            "result": at_most(orders_ms, ORDERS_CPU_PER_PLACED_GOAL_MS),
        },
        "placement_to_bare_ratio": {
            "measured": round(bare_ratio, 3),
            "bare_per_s": bare.commands_per_s,
            "goal": f">= {BARE_RATIO_GOAL} and >= {PLACEMENT_GOAL_PER_S}/s",
            "result": verdict(
                bare_ratio >= BARE_RATIO_GOAL and placement.commands_per_s >= PLACEMENT_GOAL_PER_S
            ),
        },
        "saga_approved_per_s": {
            "measured": ramp.sustained_per_s,
            "steps": [
                {
                    "offered_per_s": step.target_rate,
                    "approved_per_s": step.approved_per_s,
                    "p99_ms": step.approved_latency["p99_ms"],
                    "kept_up": ramp.kept_up(step),
                }
                for step in ramp.steps
            ],
            "p99_ms_at_half": approved_p99,
            "half_rate_per_s": at_half.target_rate,
            "visible_p99_ms_at_half": visible_p99,
            "visible_rate_per_s": visible_at_half.target_rate,
            "goal": (
                f">= {SAGA_GOAL_PER_S}; at half, placed->approved p99 < "
                f"{APPROVED_P99_GOAL_MS} and command-to-visible p99 < {VISIBLE_P99_GOAL_MS}"
            ),
            "result": verdict(
                ramp.sustained_per_s >= SAGA_GOAL_PER_S
                and approved_p99 is not None
                and approved_p99 < APPROVED_P99_GOAL_MS
                and visible_ok
            ),
        },
        "idle_cores": {
            "measured": idle_cores,
            "by_process": {n: idle.cores[n] for n in platform_components(idle)},
            "goal": f"< {IDLE_GOAL_CORES}",
            "result": verdict(idle_cores < IDLE_GOAL_CORES),
        },
        "memory_mb": phases["memory"],
    }
    return rows, goals


def print_saga_anomalies(saga: SagaResult) -> None:
    """Every order of the saga phase should be approved: say so when some were not."""
    failed_posts = saga.orders - saga.placed
    if saga.not_approved == 0 and failed_posts == 0:
        return
    print(
        f"\nWARNING: of {saga.orders} saga orders, {failed_posts} were not placed "
        f"(POST answers {saga.post_statuses}) and {saga.not_approved} of those placed were "
        f"not approved after {saga.catch_up_s:.1f} s more: {saga.rejected} rejected, "
        f"statuses of the undecided {saga.statuses_not_decided}."
    )


def print_resources(args: argparse.Namespace, phases: dict) -> None:
    """Where the cores went in each phase, and a warning if other programs took some."""
    noisy: list[str] = []
    uses: list[tuple[str, ResourceUse]] = []
    print("\nCPU: cores busy on average during each phase; PostgreSQL sessions opened")
    for label, key in (
        ("idle", "idle"),
        ("bare ceiling", "bare"),
        ("ceiling, 1 conn", "ceiling_1"),
        (f"ceiling, {args.concurrency} conn", "ceiling_c"),
        ("order placement", "placement"),
        ("command-to-visible", "visibility"),
        ("saga", "saga"),
    ):
        uses.append((label, phases[key] if key == "idle" else phases[key].resources))
    ramp: SagaRamp = phases["ramp"]
    uses += [(f"saga at {step.target_rate:g}/s (ramp)", step.resources) for step in ramp.steps]
    if ramp.at_half is not None:
        uses.append((f"saga at {ramp.at_half.target_rate:g}/s (half)", ramp.at_half.resources))
    if ramp.visible_at_half is not None:
        rate = ramp.visible_at_half.target_rate
        uses.append((f"visible at {rate:g}/s (half)", ramp.visible_at_half.resources))
    for label, use in uses:
        print(render_resources(label, use))
        if use.cores.get("neighbours", 0) > NOISY_NEIGHBOUR_CORES:
            busiest = ", ".join(f"{name} {cores:.2f}" for name, cores in use.busiest_neighbours)
            noisy.append(f"{label} ({busiest or 'many small processes'})")
    if noisy:
        print(
            "\nWARNING: other programs kept this machine busy during "
            f"{'; '.join(noisy)}: those figures are skewed, run again on a quiet machine."
        )


def describe_infrastructure(platform: Platform) -> dict:
    return {
        "postgres": "embedded (durable)" if platform.postgres is not None else "DATABASE_URL",
        "broker": platform.broker.name if platform.broker else "KAFKA_BOOTSTRAP_SERVERS",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "machine": host.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("httpx", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    platform = Platform(kafka=args.kafka)
    try:
        target = platform.start()
        start_s = time.monotonic() - started
        log.info("platform up in %.1fs", start_s)
        phases = run_phases(args, platform, target)
        rows, goals = build_report(phases)
        goal_rows, goals["issue_18"] = issue18_goals(phases)
        print("\n" + render_table([*rows, *goal_rows]))
        print(
            f"\nEvery process of the platform ({', '.join(PROCESSES)}) runs in every "
            "phase:\nthe orders placed in phases 2 and 3 also go through the saga (finance and "
            "inventory reserve,\norders approves, warnings reads them) while they are measured."
        )
        print_saga_anomalies(phases["saga"])
        print_resources(args, phases)
        results = {
            "started_at": stamp,
            "arguments": vars(args),
            "infrastructure": describe_infrastructure(platform),
            "platform_start_s": round(start_s, 2),
            "ceiling": {
                "1": phases["ceiling_1"].as_dict(),
                str(args.concurrency): phases["ceiling_c"].as_dict(),
            },
            "idle": phases["idle"],
            "bare_ceiling": phases["bare"].as_dict(),
            "placement": phases["placement"].as_dict(),
            "catch_up_after_placement_s": phases["catch_up_s"],
            "command_to_visible": phases["visibility"].as_dict(),
            "saga": phases["saga"].as_dict(),
            "goals": goals,
            "total_s": round(time.monotonic() - started, 1),
        }
        path = write_json(results, stamp)
        print(f"\nresults written to {path.relative_to(path.parents[2])}")
        return 0
    except PlatformStartFailed as error:
        print(f"\nthe platform could not be started: {error}", file=sys.stderr)
        print(platform.log_tails(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    except Exception:
        platform.failed = True
        log.exception("a phase failed")
        print(platform.log_tails(), file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        platform.close()
        log.info("everything stopped (%.1fs in all)", time.monotonic() - started)
