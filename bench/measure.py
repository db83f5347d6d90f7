"""Small measuring tools shared by the phases: percentiles, a timed progress bar, and CPU
accounting per component (which process burnt the two cores during a phase)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

import psutil
from tqdm import tqdm


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": _round(percentile(ms, 50)),
        "p90_ms": _round(percentile(ms, 90)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def watch(
    desc: str,
    seconds: float,
    count: Callable[[], int],
    unit: str,
    *,
    done: threading.Event | None = None,
) -> None:
    """Show a bar of elapsed seconds with a running count until ``seconds`` have passed (or
    ``done`` is set). Runs in the main thread so Ctrl-C lands here."""
    started = time.monotonic()
    with tqdm(total=round(seconds, 1), desc=desc, unit="s", leave=True) as bar:
        while True:
            elapsed = time.monotonic() - started
            bar.n = round(min(elapsed, seconds), 1)
            bar.set_postfix_str(f"{count():,} {unit}", refresh=False)
            bar.refresh()
            if elapsed >= seconds or (done is not None and done.is_set()):
                return
            time.sleep(min(0.2, max(0.0, seconds - elapsed)))


Components = dict[str, list[psutil.Process]]


class CpuMeter:
    """CPU seconds used by each component between ``start`` and ``stop``, as cores busy."""

    def __init__(self, components: Callable[[], Components]) -> None:
        self.components = components
        self._before: dict[int, float] = {}
        self._machine = psutil.cpu_times()
        self._started = 0.0
        self.cores: dict[str, float] = {}

    @staticmethod
    def _cpu(process: psutil.Process) -> float | None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    def start(self) -> None:
        self._before = {}
        for processes in self.components().values():
            for process in processes:
                used = self._cpu(process)
                if used is not None:
                    self._before[process.pid] = used
        self._machine = psutil.cpu_times()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._started
        cores = {}
        for name, processes in self.components().items():
            used = 0.0
            for process in processes:
                now = self._cpu(process)
                if now is not None:
                    used += now - self._before.get(process.pid, 0.0)
            cores[name] = round(used / wall, 2) if wall > 0 else 0.0
        machine = psutil.cpu_times()
        idle = (machine.idle - self._machine.idle) + (machine.iowait - self._machine.iowait)
        busy = (sum(machine) - sum(self._machine) - idle) / wall if wall > 0 else 0.0
        # Whatever else ran on the machine meanwhile (a busy neighbour skews every figure).
        cores["other"] = round(max(0.0, busy - sum(cores.values())), 2)
        cores["machine_busy"] = round(busy, 2)
        cores["machine_cores"] = psutil.cpu_count() or 0
        self.cores = cores
        return cores
