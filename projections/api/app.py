"""The HQ query API (port 8100)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from projections.api import lists, planning, reports
from projections.api.routes import branches, dealers, hq
from projections.read_your_writes import ReadYourWrites
from runtime.consumer import ConsumerRuntime
from runtime.http.app import Check, broker_reachable, consumer_running, create_app
from runtime.settings import Settings


def build_api(
    settings: Settings,
    engine: Engine,
    consistency: ReadYourWrites,
    consumers: list[ConsumerRuntime],
) -> FastAPI:
    api = create_app(
        title="query",
        process="query",
        settings=settings,
        checks=[
            read_models_reachable(engine),
            broker_reachable(settings),
            *[check for c in consumers for check in consumer_running(c)],
        ],
        description="Headquarters' national projections, scoped by caller.",
    )
    api.state.engine = engine
    api.state.read_your_writes = consistency
    api.include_router(hq)
    api.include_router(branches)
    api.include_router(dealers)
    for router in (planning.hq, planning.branches, planning.dealers):
        api.include_router(router)
    for router in (lists.hq, lists.branches, lists.dealers, lists.warehouses):
        api.include_router(router)
    for router in (reports.hq, reports.branches, reports.dealers):
        api.include_router(router)
    return api


def read_models_reachable(engine: Engine) -> Check:
    def probe() -> tuple[bool, str]:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True, "ok"
        except SQLAlchemyError as error:
            return False, str(error).splitlines()[0]

    return Check("read_models", probe)
