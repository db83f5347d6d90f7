"""What the web console needs to keep people signed in safely: a session cookie and CSRF
tokens. The console is one more HTTP client: at sign-in it posts the user name and password
to identity (``POST /sessions``), keeps the session token it gets *server-side*, and gives
the browser only an opaque session id in a cookie that is HttpOnly (no script reads it),
SameSite=Lax (no other site's form or fetch sends it on a POST) and Secure behind TLS.
Every form it renders carries a CSRF token bound to that session; every POST it accepts is
checked against it (and against the Origin header when the browser sends one).

The token the console keeps is the bearer credential it sends on the user's behalf, so the
user sees and does exactly what the APIs allow the user's role and scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from runtime.http.problems import Problem

COOKIE_NAME = "dist_session"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    username: str
    token: str  # identity's session token: the bearer credential sent to the APIs
    expires_at: float  # seconds since the epoch, as identity's token says

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


class ConsoleSessions:
    """The console's signed-in sessions, by the opaque id in the cookie (in memory: a
    restart signs everyone out, which is safe; several console replicas need sticky
    sessions or a shared store)."""

    def __init__(self, *, max_sessions: int = 10_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def open(self, *, username: str, token: str, expires_at: float) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), username, token, expires_at)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                self._sessions = {k: s for k, s in self._sessions.items() if not s.expired}
            if len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.expires_at)
                del self._sessions[oldest.session_id]
            self._sessions[session.session_id] = session
        return session

    def find(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None or session.expired:
            self.close(session_id)
            return None
        return session

    def close(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def current(self, request: Request) -> ConsoleSession | None:
        return self.find(request.cookies.get(COOKIE_NAME))


def behind_tls(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (uvicorn sets the scheme from
    X-Forwarded-Proto when the proxy is trusted)."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, session: ConsoleSession, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE_NAME,
        session.session_id,
        max_age=max(0, int(session.expires_at - time.time())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=secure)


def csrf_token(session: ConsoleSession, *, secret: str) -> str:
    """The token every form of this session carries: an HMAC of the session id, so it needs
    no storage, differs per session and cannot be made without the secret."""
    return hmac.new(secret.encode(), session.session_id.encode(), hashlib.sha256).hexdigest()


def check_csrf(
    request: Request, session: ConsoleSession, submitted: str | None, *, secret: str
) -> None:
    """Refuse (403 ``csrf_failed``) a state-changing request whose form token is missing or
    wrong, or whose Origin is another site's."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
            raise Problem(403, "csrf_failed", "the request came from another site")
    expected = csrf_token(session, secret=secret)
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise Problem(403, "csrf_failed", "the form is stale or forged: reload the page")
