"""The FastAPI app factory every process uses: problem+json errors, request metrics,
/healthz (process up), /readyz (dependencies reachable, workers running), /metrics."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.consumer import ConsumerRuntime
from runtime.eventstore import ServiceApplication
from runtime.http import openapi, problems
from runtime.http.auth import ApiKeys
from runtime.http.deadline import RequestDeadline
from runtime.http.limits import RequestLimits
from runtime.identity_replica import IdentityReplica, IdentityReplicaConsumer
from runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS
from runtime.relay import Relay
from runtime.settings import Settings


@dataclass(frozen=True)
class Check:
    """A readiness check: a name and a callable answering (ok, detail)."""

    name: str
    probe: Callable[[], tuple[bool, str]]


def broker_reachable(settings: Settings) -> Check:
    def probe() -> tuple[bool, str]:
        servers = settings.bootstrap_servers().split(",")
        for server in servers:
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return True, server
            except OSError:
                continue
        return False, f"no broker reachable at {settings.bootstrap_servers()}"

    return Check("broker", probe)


class RequestMetrics:
    """Counts and times requests by route template. A plain ASGI middleware: FastAPI's
    decorator form (BaseHTTPMiddleware) runs every request through an extra task and
    memory streams, which costs more than the request itself on a small command."""

    def __init__(self, app: ASGIApp, process: str) -> None:
        self.app = app
        self.process = process

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.process, method, route, status).inc()
            HTTP_LATENCY.labels(self.process, method, route).observe(time.perf_counter() - started)


def database_reachable(app: ServiceApplication) -> Check:
    def probe() -> tuple[bool, str]:
        try:
            return True, f"log at {app.recorder.max_notification_id() or 0}"
        except PersistenceError as error:
            return False, str(error)

    return Check("database", probe)


def relay_running(relay: Relay) -> Check:
    def probe() -> tuple[bool, str]:
        if relay.failure:
            return False, f"failed: {relay.failure}"
        if relay.stopping.is_set():
            return False, "stopped"
        if relay.active.is_set():
            return True, "publishing"
        return True, "standing by (another relay of this service holds the lock)"

    return Check("relay", probe)


def consumer_running(consumer: ConsumerRuntime, kind: str = "projector") -> list[Check]:
    """One check per handler the consumer feeds (they run, or stop, together)."""

    def probe() -> tuple[bool, str]:
        if consumer.running.is_set():
            return True, f"consuming {', '.join(consumer.topics)}"
        return False, consumer.last_error or "not running"

    return [Check(f"{kind}:{route.handler.name}", probe) for route in consumer.routes]


def identity_replica_ready(replica: IdentityReplica, consumer: IdentityReplicaConsumer) -> Check:
    def probe() -> tuple[bool, str]:
        if not replica.caught_up.is_set():
            return False, consumer.last_error or f"reading {consumer.topic}"
        return True, f"{len(replica.users)} users, {len(replica.keys)} API keys"

    return Check("identity_replica", probe)


def _with_identity_replica(settings: Settings, replica: IdentityReplica, checks: list[Check]):
    """The app's lifespan: the replica of the identity topic is read in a thread of its own
    while the app serves (a process without a broker knows configured keys only)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not settings.kafka_bootstrap_servers:
            yield
            return
        consumer = IdentityReplicaConsumer(settings, replica)
        checks.append(identity_replica_ready(replica, consumer))
        thread = threading.Thread(target=consumer.run, name="identity-replica", daemon=True)
        thread.start()
        try:
            yield
        finally:
            consumer.stop()
            thread.join(timeout=10)

    return lifespan


def create_app(
    *, title: str, process: str, settings: Settings, checks: list[Check], description: str = ""
) -> FastAPI:
    checks = list(checks)
    replica = IdentityReplica()
    app = FastAPI(
        title=title,
        description=description,
        version="1.0",
        lifespan=_with_identity_replica(settings, replica, checks),
    )
    app.state.settings = settings
    app.state.checks = checks  # a process may add the checks of workers it adds later
    app.state.identity = replica
    app.state.api_keys = ApiKeys(
        settings.api_key_grants(),
        replica=replica,
        session_secret=settings.session_signing_secret(),
        key_cache_s=settings.api_key_cache_s,
        process=process,
    )
    problems.install(app)
    openapi.install(app)

    # Outermost last: metrics count the requests the limits refuse too.
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.http_max_body_bytes,
        body_timeout_s=settings.http_body_timeout_s,
    )
    app.add_middleware(RequestMetrics, process=process)
    app.add_middleware(RequestDeadline, seconds=settings.database_timeout_s)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "process": process}

    @app.get(
        "/readyz",
        tags=["operations"],
        responses={
            503: {
                "description": "a dependency is down or a worker is not running",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    def readyz() -> JSONResponse:
        results = {}
        ready = True
        for check in checks:
            ok, detail = check.probe()
            results[check.name] = {"ok": ok, "detail": detail}
            ready = ready and ok
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": results},
            200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def create_service_app(
    *,
    settings: Settings,
    app: ServiceApplication,
    relay: Relay | None,
    routers: list[APIRouter],
    description: str,
    consumers: Sequence[ConsumerRuntime] = (),
) -> FastAPI:
    """The HTTP app of a write-side service: its routers, with the service's application in
    ``state.application``, and readiness that covers its database, broker and relay."""
    checks = [database_reachable(app), broker_reachable(settings)]
    if relay is not None:
        checks.append(relay_running(relay))
    for consumer in consumers:
        checks.extend(consumer_running(consumer, "process_manager"))
    api = create_app(
        title=app.service,
        process=app.service,
        settings=settings,
        checks=checks,
        description=description,
    )
    api.state.application = app
    for router in routers:
        api.include_router(router)
    return api
