"""Wires the query process: read-model engine, projectors (consumer runtimes), HTTP app."""

from __future__ import annotations

from projections.api.app import build_api
from projections.channel_health.projection import channel_health
from projections.demand_plans.projection import demand
from projections.inventory.projection import inventory
from projections.lists.projection import lists
from projections.read_your_writes import ReadYourWrites
from projections.receivables.projection import receivables
from projections.sales.projection import sales
from projections.targets.projection import targets
from projections.tracking import (
    Projection,
    SqlProjectionHandler,
    joint_batches,
    projections_engine,
)
from runtime.consumer import ConsumerRuntime
from runtime.process import Process
from runtime.settings import Settings

PROJECTIONS: tuple[Projection, ...] = (
    sales,
    inventory,
    receivables,
    channel_health,
    demand,
    targets,
    lists,
)


def projector(settings: Settings, handler: SqlProjectionHandler) -> ConsumerRuntime:
    topics = [settings.topic(origin) for origin in handler.projection.origins]
    # The group is per schema, so a second copy of a read model (a rebuild, a comparison)
    # consumes every event independently.
    name = f"{settings.projections_schema}.{handler.name}"
    return ConsumerRuntime(settings, handler=handler, topics=topics, consumer_name=name)


# Under load the projectors take a poll's records at most this often, as the services'
# process managers do (runtime.process.SAGA_GATHER_S).
PROJECTORS_GATHER_S = 0.1


def projectors(settings: Settings, handlers: list[SqlProjectionHandler]) -> ConsumerRuntime:
    """One consumer feeding every projector: each topic is fetched and parsed once for all
    of them, and an idle query process polls the broker once, not once per read model. Each
    projector keeps its own tracking records and dead-letter topic (named as with a consumer
    of its own: schema and read model); the group is the live schema's. They also stop
    together: a projector failing with a bug stops the consumer (readiness names each
    projector), since moving the offsets on without it would lose its events. And they
    commit together: a poll is one transaction for all of them."""
    engines = {h.engine for h in handlers}
    engine = engines.pop() if len(engines) == 1 else None
    return ConsumerRuntime(
        settings,
        consumer_name=f"{settings.projections_schema}.projectors",
        handlers={
            f"{h.schema}.{h.name}": (h, [settings.topic(o) for o in h.projection.origins])
            for h in handlers
        },
        # A poll's batches of every read model in one transaction (projections/tracking.py).
        joint=(lambda: joint_batches(engine)) if engine is not None else None,
        gather_s=PROJECTORS_GATHER_S,
    )


def build(settings: Settings, *, with_projectors: bool = True) -> Process:
    # Projectors and queries use separate pools: queries that wait for a position must never
    # starve the projector that would advance it.
    schema = settings.projections_schema
    engine = projections_engine(settings, schema, serves_queries=True)
    projector_engine = projections_engine(settings, schema, pool_size=2 * len(PROJECTIONS))
    handlers = {p.name: SqlProjectionHandler(projector_engine, p) for p in PROJECTIONS}
    consumers = [projectors(settings, list(handlers.values()))] if with_projectors else []
    consistency = ReadYourWrites(
        handlers,
        engine=engine,
        timeout_s=settings.read_your_writes_timeout_s,
        wake=consumers[0].pacing.wake if consumers else None,
    )
    return Process(
        name="query",
        api=build_api(settings, engine, consistency, consumers),
        workers=list(consumers),
        on_close=[engine.dispose, projector_engine.dispose],
    )
