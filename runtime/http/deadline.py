"""Every request gets a deadline for its database work (runtime.deadline): while the database
is unreachable, it answers 503 ``database_unavailable`` within ``database_timeout_s``."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime import deadline


class RequestDeadline:
    """A plain ASGI middleware (cheaper than BaseHTTPMiddleware, see RequestMetrics). The
    deadline is a context variable, which Starlette copies into the thread a sync route runs
    in."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadline.within(self.seconds):
            await self.app(scope, receive, send)
