"""One platform process: an HTTP app served by uvicorn plus background workers (a relay, a
projector) in threads, stopped together."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import APIRouter, FastAPI

from runtime import heap
from runtime.consumer import ConsumerRuntime
from runtime.eventstore import ServiceApplication
from runtime.http.server import QuietServer, server_config
from runtime.process_manager import Policy, ProcessManager
from runtime.relay import Relay, Translate
from runtime.settings import Settings

log = logging.getLogger(__name__)


class Worker(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Process:
    name: str
    api: FastAPI
    workers: list[Worker] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start_workers(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run, name=f"{self.name}-{type(worker).__name__}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def close(self) -> None:
        self.stop_workers()
        for close in self.on_close:
            close()

    def serve(self, *, host: str, port: int, log_level: str = "info") -> None:
        heap.settle()  # everything built so far lives as long as the process
        self.start_workers()
        try:
            config = server_config(self.api, host=host, port=port, log_level=log_level)
            QuietServer(config).run()
        finally:
            self.close()


# Under load, a service's process manager takes a poll's records at most this often
# (ConsumerRuntime._gather). Measured with the whole platform at 50 orders/s (bench, three
# runs against one with only the warnings process gathering): CPU per approved order
# 32.6 -> 20.8-26.9 ms, placed -> approved p50 124 -> 178-214 ms and p99 215 -> 269-462 ms.
# 0.05 s saved little (30.4 and 33.6 ms).
SAGA_GATHER_S = 0.1
# Under load, a service's relay publishes at most this often (Relay._linger). It matters to
# the orders relay, whose commits come from HTTP one group commit at a time; the others'
# come from their process managers, already gathered. bench.profile at 50 orders/s, CPU per
# approved order over identity's (a process whose work the setting does not touch, so the
# ratio takes out the machine's speed): 0 -> 77-85 (4 runs), 0.05 -> 75-78 (3 runs),
# 0.1 -> 67-72 (4 runs); the orders relay and its producer's sender went from 23-28 % of
# the orders process's samples to 14-16 % and 9-12 %. 0.1 cost placed -> approved 100 ms at
# p50 in one `python -m bench` run (an order crosses the orders relay twice), so 0.05.
RELAY_GATHER_S = 0.05


def service_process(
    settings: Settings,
    *,
    application_class: type[ServiceApplication],
    translate: Translate,
    routers: list[APIRouter],
    description: str,
    policies: dict[str, Policy] | None = None,
    listens_to: tuple[str, ...] = (),
    with_relay: bool = True,
    with_process_manager: bool = True,
    application: ServiceApplication | None = None,
    saga_gather_s: float = SAGA_GATHER_S,
    saga_hold_back: bool = False,
) -> Process:
    """A write-side service's process: its application (``application``, or one of
    ``application_class``), its relay, its process manager (``policies`` for events of the
    services it ``listens_to``, polled at most every ``saga_gather_s`` under load, in the
    order events happened across polls too if ``saga_hold_back``), its HTTP app."""
    from runtime.http.app import create_service_app

    app = application or application_class(settings)
    relay = Relay(settings, app, translate, gather_s=RELAY_GATHER_S) if with_relay else None
    saga = None
    if policies and with_process_manager:
        saga = ConsumerRuntime(
            settings,
            handler=ProcessManager(app, name=f"{app.service}-saga", policies=policies),
            topics=[settings.topic(service) for service in listens_to],
            gather_s=saga_gather_s,
            hold_back=saga_hold_back,
        )
    if relay is not None and saga is not None:
        # What this service publishes is answered on the topics its saga reads.
        relay.on_published.append(saga.pacing.wake)
    api = create_service_app(
        settings=settings,
        app=app,
        relay=relay,
        consumers=[saga] if saga else [],
        routers=routers,
        description=description,
    )
    workers: list[Worker] = [w for w in (relay, saga) if w is not None]
    return Process(name=app.service, api=api, workers=workers, on_close=[app.close])
