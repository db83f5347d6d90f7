"""The benchmark's report: a table on the terminal and the same figures as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import ResourceUse

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    ceiling: str = ""
    ratio: str = ""
    goal: str = ""
    result: str = ""


def verdict(passed: bool | None) -> str:
    if passed is None:
        return ""
    return "PASS" if passed else "MISS"


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


def per_s(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}/s"


def render_table(rows: list[Row]) -> str:
    header = Row("figure", "measured", "ceiling", "ratio", "goal", "result")
    columns = list(zip(*[_cells(r) for r in [header, *rows]], strict=True))
    widths = [max(len(cell) for cell in column) for column in columns]

    def line(row: Row) -> str:
        cells = _cells(row)
        # The figure is left-aligned, numbers right-aligned.
        parts = [cells[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _cells(row: Row) -> list[str]:
    return [row.figure, row.measured, row.ceiling, row.ratio, row.goal, row.result]


def render_resources(label: str, use: ResourceUse) -> str:
    parts = [
        f"{name} {value:.2f}"
        for name, value in sorted(use.cores.items(), key=lambda item: -item[1])
        if value >= 0.01
    ]
    machine = f"machine {use.machine_busy:.2f} of {use.machine_cores}"
    line = f"  {label:<20} {', '.join(parts)}; {machine}"
    if use.database_sessions_opened is not None:
        line += f"; {use.database_sessions_opened} new PG sessions"
    return line


def write_json(results: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
