"""Wires the warnings process: its application (with the clock it decides due times by),
relay, process manager (the triggers, from the orders, inventory and finance topics), the
board keeper and scheduler, and its HTTP app."""

from __future__ import annotations

from runtime.clock import Clock
from runtime.http.app import Check
from runtime.process import Process, service_process
from runtime.settings import Settings
from services.warnings.api.routes import warning_rules, warnings, webhooks
from services.warnings.application import POLICIES, WarningsApplication
from services.warnings.board import Board, BoardKeeper
from services.warnings.contract import to_integration_event
from services.warnings.webhooks import Deliverer


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    with_relay: bool = True,
    with_process_manager: bool = True,
    tick_s: float = 0.2,
) -> Process:
    application = WarningsApplication(settings, clock=clock)
    process = service_process(
        settings,
        application_class=WarningsApplication,
        application=application,
        translate=to_integration_event,
        routers=[warnings, warning_rules, webhooks],
        description="Early warning (预警): warnings raised by triggers on the orders, "
        "inventory and finance topics for the person responsible, escalated branch manager "
        "-> region -> HQ admin -> national when not resolved within each level's allowance.",
        policies=POLICIES,
        listens_to=("orders", "inventory", "finance"),
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )
    board = Board(settings, application)
    keeper = BoardKeeper(board, interval_s=tick_s, dsn=settings.postgres().dsn())
    process.api.state.board = board
    process.api.state.board_keeper = keeper
    deliverer = Deliverer(board, interval_s=tick_s)
    process.api.state.deliverer = deliverer
    process.workers.extend([keeper, deliverer])
    process.api.state.checks.append(board_running(keeper))
    process.on_close.append(board.close)
    return process


def board_running(keeper: BoardKeeper) -> Check:
    def probe() -> tuple[bool, str]:
        if keeper.failure:
            return False, f"failed: {keeper.failure}"
        return keeper.running.is_set(), "keeping the board, firing due warnings"

    return Check("warnings_board", probe)
