"""The supervisor's restart policy: a budget per child over a sliding window, with a clock the
test turns by hand."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from runtime.supervisor import RestartBudget, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedChild:
    """A child whose life the test decides: dies whenever ``crashing``."""

    crashing: bool = False
    restarts: int = 0
    process: None = None
    log_file: Path = Path("erp.log")

    def alive(self) -> bool:
        return not self.crashing

    def restart(self) -> None:
        self.restarts += 1


class TestRestartBudget:
    def test_allows_the_budget_within_the_window_and_no_more(self):
        clock = Clock()
        budget = RestartBudget(max_restarts=5, window_s=60, clock=clock)
        for _ in range(5):
            assert budget.allows_restart()
            budget.record_restart()
            clock.now += 1
        assert not budget.allows_restart()
        assert budget.seconds_until_allowed() == 55

    def test_restarts_older_than_the_window_no_longer_count(self):
        clock = Clock()
        budget = RestartBudget(max_restarts=2, window_s=60, clock=clock)
        budget.record_restart()
        clock.now += 30
        budget.record_restart()
        assert not budget.allows_restart()
        clock.now += 30  # the first restart is now 60 s old
        assert budget.allows_restart()
        assert budget.used == 1

    def test_a_failure_long_ago_leaves_the_whole_budget(self):
        clock = Clock()
        budget = RestartBudget(max_restarts=5, window_s=60, clock=clock)
        budget.record_restart()
        clock.now += 3600
        assert budget.used == 0


class TestSupervisor:
    def test_a_child_past_its_budget_is_reported_and_the_others_are_left_alone(self, caplog):
        clock = Clock()
        supervisor = Supervisor(max_restarts=3, window_s=60, clock=clock)
        erp, orders = ScriptedChild(crashing=True), ScriptedChild()
        supervisor.watch("erp", erp)
        supervisor.watch("orders", orders)
        with caplog.at_level(logging.ERROR, logger="dist.run"):
            for _ in range(10):
                supervisor.check()
                clock.now += 1
        assert erp.restarts == 3
        assert orders.restarts == 0
        assert supervisor.failing() == ["erp"]
        reports = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(reports) == 1  # reported once, not at every look
        assert "erp keeps failing (3 restarts in the last 60s)" in reports[0]

    def test_a_held_child_is_tried_again_when_its_window_has_room(self):
        clock = Clock()
        supervisor = Supervisor(max_restarts=2, window_s=60, clock=clock)
        erp = ScriptedChild(crashing=True)
        supervisor.watch("erp", erp)
        supervisor.check()
        supervisor.check()
        supervisor.check()
        assert (erp.restarts, supervisor.failing()) == (2, ["erp"])
        clock.now += 61
        supervisor.check()
        assert (erp.restarts, supervisor.failing()) == (3, [])
