"""What a request may be before any route sees it: a body no larger than the configured limit
(413 before it is read), a body that arrives in time (408, connection closed), and no NUL
character in the path, the query or a JSON string (422: PostgreSQL cannot store one, and
psycopg2 refuses it with a ValueError that would surface as a 500).

A plain ASGI middleware, like RequestMetrics: it reads the body once, within the limits, and
hands it on to the app, which buffers bodies anyway.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.http.problems import Problem, problem_response

# A JSON "\u0000" escape: a backslash not itself escaped, then u0000.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "NUL characters are not allowed"


class ClientGone(Exception):
    """The client disconnected while sending its body: there is no one to answer."""


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_head(scope)
            body = await self._read_body(receive)
            if b"\\u0000" in body and _JSON_NUL.search(body):
                raise _nul(["body"])
        except Problem as problem:
            await problem_response(problem)(scope, receive, send)
            return
        except ClientGone:
            return
        await self.app(scope, _replaying(body, receive), send)

    def _check_head(self, scope: Scope) -> None:
        if "\x00" in scope["path"]:
            raise _nul(["path"])
        query = scope["query_string"]
        if b"%00" in query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            raise _nul([f"query.{name}" for name, value in pairs if "\x00" in name + value])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()

    async def _read_body(self, receive: Receive) -> bytes:
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise Problem(
                    408,
                    "request_timeout",
                    f"the request body did not arrive within {self.body_timeout_s:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:  # sent without a Content-Length (chunked)
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> Problem:
        return Problem(
            413,
            "request_too_large",
            f"the request body is over {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )


def _nul(paths: list[str]) -> Problem:
    errors = [{"path": path, "message": _NUL_MESSAGE, "type": "nul_character"} for path in paths]
    detail = "; ".join(f"{path}: {_NUL_MESSAGE}" for path in paths)
    return Problem(422, "invalid_request", detail, errors=errors)


def _replaying(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
