"""Small measuring tools shared by the phases: percentiles, a timed progress bar, and resource
accounting: CPU per component (which process burnt the cores during a phase) and how many
PostgreSQL sessions were opened meanwhile (connection churn)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

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


def watch(desc: str, seconds: float, count: Callable[[], int], unit: str) -> None:
    """Show a bar of elapsed seconds with a running count until ``seconds`` have passed.
    Runs in the main thread, so Ctrl-C lands here."""
    started = time.monotonic()
    with tqdm(total=round(seconds, 1), desc=desc, unit="s", leave=True) as bar:
        while True:
            elapsed = time.monotonic() - started
            bar.n = round(min(elapsed, seconds), 1)
            bar.set_postfix_str(f"{count():,} {unit}", refresh=False)
            bar.refresh()
            if elapsed >= seconds:
                return
            time.sleep(min(0.2, seconds - elapsed))


Components = dict[str, list[psutil.Process]]


@dataclass(frozen=True)
class ResourceUse:
    """Cores busy on average during a phase, per component and in all, and the PostgreSQL
    sessions opened on the benchmark's database meanwhile."""

    cores: dict[str, float]
    machine_busy: float
    machine_cores: int
    busiest_neighbours: list[tuple[str, float]]
    database_sessions_opened: int | None
    seconds: float = 0.0  # the phase's wall-clock length

    def cpu_ms_per(self, count: int, components: Iterable[str]) -> float | None:
        """Milliseconds of CPU that ``components`` spent per unit of work (``count`` units
        done in the phase), from each process's own CPU counters."""
        if count <= 0:
            return None
        spent = sum(self.cores.get(name, 0.0) for name in components) * self.seconds
        return round(spent * 1000 / count, 2)


def _cpu_by_process() -> dict[int, tuple[float, int, str]]:
    """CPU seconds (user + system), parent pid and name of every process on the machine."""
    found = {}
    for process in psutil.process_iter(["ppid", "cpu_times", "name"]):
        times = process.info["cpu_times"]
        if times is not None:
            found[process.pid] = (
                times.user + times.system,
                process.info["ppid"],
                process.info["name"] or "?",
            )
    return found


class ResourceMeter:
    """Cores kept busy by each component between ``start`` and ``stop``, and by everything
    else: ``kernel`` (kernel threads: disk flushes, for one), ``neighbours`` (other programs
    on this machine, which skew every figure) and ``unattributed`` (interrupts, processes
    that came and went, such as PostgreSQL backends of short-lived connections)."""

    def __init__(
        self,
        components: Callable[[], Components],
        database_sessions: Callable[[], int | None],
    ) -> None:
        self.components = components
        self.database_sessions = database_sessions
        self._before: dict[int, tuple[float, int, str]] = {}
        self._sessions: int | None = None
        self._machine = psutil.cpu_times()
        self._started = 0.0

    def start(self) -> None:
        self._sessions = self.database_sessions()
        self._before = _cpu_by_process()
        self._machine = psutil.cpu_times()
        self._started = time.monotonic()

    def stop(self) -> ResourceUse:
        wall = time.monotonic() - self._started
        machine = psutil.cpu_times()
        after = _cpu_by_process()
        sessions = self.database_sessions()
        components = self.components()
        owner = {p.pid: name for name, ps in components.items() for p in ps}
        used: dict[str, float] = dict.fromkeys(components, 0.0)
        used.update(kernel=0.0, neighbours=0.0)
        neighbours: dict[str, float] = {}
        for pid, (cpu, ppid, name) in after.items():
            # A process that started meanwhile counts from zero.
            spent = cpu - self._before.get(pid, (0.0, 0, ""))[0]
            if pid in owner:
                used[owner[pid]] += spent
            elif pid == 2 or ppid == 2:
                used["kernel"] += spent
            else:
                used["neighbours"] += spent
                neighbours[f"{name}[{pid}]"] = spent
        busiest = [
            (name, round(spent / wall, 2))
            for name, spent in sorted(neighbours.items(), key=lambda item: -item[1])[:3]
            if spent / wall >= 0.05
        ]
        idle = sum(
            getattr(machine, f) - getattr(self._machine, f) for f in ("idle", "iowait", "steal")
        )
        busy = sum(machine[:8]) - sum(self._machine[:8]) - idle  # guest time is in user
        used["unattributed"] = max(0.0, busy - sum(used.values()))
        return ResourceUse(
            cores={name: round(spent / wall, 3) for name, spent in used.items()},
            machine_busy=round(busy / wall, 2),
            machine_cores=psutil.cpu_count() or 0,
            busiest_neighbours=busiest,
            database_sessions_opened=None
            if sessions is None or self._sessions is None
            else sessions - self._sessions,
            seconds=round(wall, 3),
        )


def _status_kb(process: psutil.Process, field: str) -> int:
    """A figure of /proc/<pid>/status in kB (Linux; 0 elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_mb(components: Components) -> dict[str, dict[str, float]]:
    """Per component: its peak resident set (VmHWM: the largest of its processes, PostgreSQL's
    backends each apart) and its resident set now (VmRSS, summed over its processes)."""
    found = {}
    for name, processes in components.items():
        peak_kb = max((_status_kb(p, "VmHWM") for p in processes), default=0)
        found[name] = {
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "rss_mb": round(sum(_status_kb(p, "VmRSS") for p in processes) / 1024, 1),
        }
    return found
