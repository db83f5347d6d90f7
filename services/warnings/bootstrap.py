"""Wires the warnings process: its application (with the clock it decides due times by),
relay, process manager (the triggers, from the orders, inventory and finance topics), the
board keeper and scheduler, the routine rules' evaluator (over the read models, as they
move and at least daily) and its HTTP app."""

from __future__ import annotations

from projections.tracking import projections_engine
from runtime.clock import Clock
from runtime.http.app import Check
from runtime.process import Process, service_process
from runtime.settings import Settings
from services.warnings.api.routes import warning_rules, warnings, webhooks
from services.warnings.application import POLICIES, WarningsApplication
from services.warnings.board import Board, BoardKeeper
from services.warnings.contract import to_integration_event
from services.warnings.routine import RoutineEvaluator
from services.warnings.webhooks import Deliverer

# Within a stream of events, the process takes a poll's records at most this often
# (ConsumerRuntime._gather): its goal is the inbox within a second, not the saga's latency.
EVENTS_GATHER_S = 0.25


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    with_relay: bool = True,
    with_process_manager: bool = True,
    tick_s: float = 1.0,
    routine_poll_s: float = 1.0,
    routine_debounce_s: float = 2.0,
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
        # Which of two services' events came first decides a warning's outcome (a credit
        # hold resolved by a controller's override, or by the approval that followed it):
        # kept across polls too, when the process catches up.
        saga_hold_back=True,
        # Safe for the order too: a poll's records are applied in the order their events
        # happened (runtime.causal_order), however many topics a larger poll spans.
        saga_gather_s=EVENTS_GATHER_S,
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )
    board = Board(settings, application)
    keeper = BoardKeeper(board, interval_s=tick_s, dsn=settings.postgres().dsn())
    process.api.state.board = board
    process.api.state.board_keeper = keeper
    deliverer = Deliverer(board, interval_s=tick_s)
    process.api.state.deliverer = deliverer
    # The routine rules read the read models (DESIGN: "routine checks on the read models").
    read_models = projections_engine(settings, settings.projections_schema, pool_size=2)
    routine = RoutineEvaluator(
        application,
        board,
        read_models,
        poll_s=routine_poll_s,
        debounce_s=routine_debounce_s,
    )
    process.api.state.routine = routine
    process.workers.extend([keeper, deliverer, routine])
    process.api.state.checks.append(board_running(keeper))
    process.api.state.checks.append(routine_running(routine))
    process.on_close.extend([board.close, read_models.dispose])
    return process


def routine_running(routine: RoutineEvaluator) -> Check:
    def probe() -> tuple[bool, str]:
        if routine.failure:
            return False, f"failed: {routine.failure}"
        return routine.running.is_set(), "evaluating the routine rules over the read models"

    return Check("warnings_routine", probe)


def board_running(keeper: BoardKeeper) -> Check:
    def probe() -> tuple[bool, str]:
        if keeper.failure:
            return False, f"failed: {keeper.failure}"
        return keeper.running.is_set(), "keeping the board, firing due warnings"

    return Check("warnings_board", probe)
