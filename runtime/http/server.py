"""How every process serves its HTTP app: one uvicorn configuration, and a connection
protocol that drops what does not arrive in time and refuses what is too long.

uvicorn 0.54 has a keep-alive timeout (idle between requests) but none for a request's head:
a connection that opens and sends nothing, or sends its headers a byte a second, stays open
for ever. Its httptools protocol has no limit on the request line or headers either, and
answers a parse error with a bare text/plain 400. This subclass adds the three and answers
in application/problem+json; the body's size and time limits live in RequestLimits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from runtime.http.problems import PROBLEM_JSON, Problem, problem_body
from runtime.settings import Settings

log = logging.getLogger(__name__)
LINGER_S = 2.0


class RequestHeadRefused(Exception):
    """Raised from a parser callback to stop parsing; uvicorn then calls send_400_response."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_s: float = 10.0
    max_url_bytes: int = 8192
    max_header_bytes: int = 16384

    @classmethod
    def configured(cls, settings: Settings) -> type[GuardedHttpToolsProtocol]:
        return type(
            cls.__name__,
            (cls,),
            {
                "header_timeout_s": settings.http_header_timeout_s,
                "max_url_bytes": settings.http_max_url_bytes,
                "max_header_bytes": settings.http_max_header_bytes,
            },
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._refusal: Problem | None = None
        self._lingering = False

    # -- the head must arrive in time ------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._drop)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _drop(self) -> None:
        self._header_timer = None
        if self.transport is not None and not self.transport.is_closing():
            log.info("dropped %s: no request head within %ss", self.client, self.header_timeout_s)
            self.transport.close()

    # -- and be of a sensible size ---------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_url_bytes:
            self._refuse(
                414, "uri_too_long", f"the URL is over {self.max_url_bytes} bytes", "URI too long"
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.max_header_bytes:
            self._refuse(
                431,
                "request_header_fields_too_large",
                f"the headers are over {self.max_header_bytes} bytes",
                "Request header fields too large",
            )
        super().on_header(name, value)

    def _refuse(self, status: int, code: str, detail: str, title: str) -> None:
        self._refusal = Problem(status, code, detail, title=title)
        raise RequestHeadRefused(detail)

    def send_400_response(self, msg: str) -> None:
        """Every answer the protocol gives itself (a malformed or refused request head), as
        problem+json; the connection is closed after it, as uvicorn does."""
        self._cancel_header_timer()
        problem = self._refusal or Problem(
            400, "invalid_http_request", msg, title="Invalid HTTP request"
        )
        self._refusal = None
        body = json.dumps(problem_body(problem), separators=(",", ":")).encode()
        head = [
            STATUS_LINE[problem.status],
            *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            f"content-type: {PROBLEM_JSON}\r\n".encode(),
            f"content-length: {len(body)}\r\n".encode(),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self._linger()

    def _linger(self) -> None:
        """Close after the client has read the answer: closing with its request still
        unread (a 200 KB URL) would reset the connection and lose the answer. Further data
        is read and dropped for a moment (as web servers' lingering close does)."""
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = True
        self.loop.call_later(LINGER_S, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if self._lingering:
            self.transport.close()
        return None


class QuietServer(uvicorn.Server):
    """uvicorn's server, looking after itself once a second instead of ten times.

    uvicorn's main loop wakes every 0.1 s to look at its exit flag and refresh the Date
    header: measured, about 0.002 cores per idle process, a sixth of what an idle process
    costs in all. Once a second keeps the Date header as exact as uvicorn keeps it (it
    refreshes it once a second), and a signal ends the wait at once, so the process stops
    as quickly as before. (``should_exit`` set directly is seen within a second.)"""

    _woken: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # uvicorn's counter counts tenths of a second (the Date header on every tenth).
            counter = (counter + 10) % 864000
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=1.0)
            except TimeoutError:
                pass
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


def server_config(api: FastAPI, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration of a platform process (and of the tests' servers)."""
    settings: Settings = api.state.settings
    return uvicorn.Config(
        api,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        http=GuardedHttpToolsProtocol.configured(settings),
        timeout_keep_alive=settings.http_keep_alive_s,  # type: ignore[arg-type]
        # One worker per process: `--workers` loses TCP_NODELAY (INFRA-NOTES); scale by
        # running more processes.
        workers=1,
    )
