"""The FastAPI app factory every process uses: problem+json errors, request metrics,
/healthz (process up), /readyz (dependencies reachable, workers running), /metrics."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runtime.eventstore import ServiceApplication
from runtime.http import problems
from runtime.http.auth import ApiKeys
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


def create_app(
    *, title: str, process: str, settings: Settings, checks: list[Check], description: str = ""
) -> FastAPI:
    app = FastAPI(title=title, description=description, version="1.0")
    app.state.settings = settings
    app.state.api_keys = ApiKeys(settings.api_key_grants())
    problems.install(app)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(process, request.method, path, response.status_code).inc()
        HTTP_LATENCY.labels(process, request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "process": process}

    @app.get("/readyz", tags=["operations"])
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

    @app.get("/metrics", tags=["operations"])
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
) -> FastAPI:
    """The HTTP app of a write-side service: its routers, with the service's application in
    ``state.application``, and readiness that covers its database, broker and relay."""
    checks = [database_reachable(app), broker_reachable(settings)]
    if relay is not None:
        checks.append(relay_running(relay))
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
