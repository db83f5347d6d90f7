"""The console's session cookie and CSRF tokens (runtime/http/console_session.py), on a small
app shaped like the console's sign-in and one form (fields sent as JSON here: the console
picks its own form parsing)."""

from __future__ import annotations

import time
from typing import Annotated

import pytest
from fastapi import Body, FastAPI, Request, Response
from fastapi.testclient import TestClient

from runtime.http import problems
from runtime.http.console_session import (
    COOKIE_NAME,
    ConsoleSessions,
    behind_tls,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    set_session_cookie,
)

SECRET = "console-test-secret-of-at-least-32-chars"  # noqa: S105 - test data


def console() -> FastAPI:
    app = FastAPI()
    problems.install(app)
    sessions = ConsoleSessions()

    @app.post("/sign-in")
    def sign_in(
        request: Request, response: Response, username: Annotated[str, Body(embed=True)]
    ) -> dict:
        # The console would post to identity here and keep the token it answers.
        session = sessions.open(
            username=username, token=f"token-of-{username}", expires_at=time.time() + 600
        )
        set_session_cookie(response, session, secure=behind_tls(request))
        return {"csrf": csrf_token(session, secret=SECRET)}

    @app.post("/orders")
    def place(request: Request, csrf_token: Annotated[str | None, Body(embed=True)] = None) -> dict:
        session = sessions.current(request)
        if session is None:
            return {"signed_in": False}
        check_csrf(request, session, csrf_token, secret=SECRET)
        return {"signed_in": True, "bearer": session.token}

    @app.post("/sign-out")
    def sign_out(request: Request, response: Response) -> dict:
        session = sessions.current(request)
        if session is not None:
            sessions.close(session.session_id)
        clear_session_cookie(response, secure=behind_tls(request))
        return {}

    return app


class TestSessionCookie:
    def test_the_cookie_is_httponly_samesite_lax_and_holds_no_token(self):
        client = TestClient(console())
        answer = client.post("/sign-in", json={"username": "cd.clerk"})
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP in development
        assert "token-of-cd.clerk" not in cookie

    def test_behind_tls_the_cookie_is_secure(self):
        client = TestClient(console(), base_url="https://console.example.cn")
        cookie = client.post("/sign-in", json={"username": "cd.clerk"}).headers["set-cookie"]
        assert "Secure" in cookie

    def test_signing_out_forgets_the_session(self):
        client = TestClient(console())
        csrf = client.post("/sign-in", json={"username": "cd.clerk"}).json()["csrf"]
        client.post("/sign-out")
        assert client.post("/orders", json={"csrf_token": csrf}).json() == {"signed_in": False}


class TestCsrf:
    @pytest.fixture
    def client(self) -> TestClient:
        return TestClient(console())

    def test_a_form_with_the_sessions_token_is_accepted(self, client):
        csrf = client.post("/sign-in", json={"username": "cd.clerk"}).json()["csrf"]
        answer = client.post("/orders", json={"csrf_token": csrf})
        assert answer.json() == {"signed_in": True, "bearer": "token-of-cd.clerk"}

    def test_a_form_without_or_with_another_sessions_token_is_refused(self, client):
        other = TestClient(console()).post("/sign-in", json={"username": "sh.clerk"})
        client.post("/sign-in", json={"username": "cd.clerk"})
        for data in ({}, {"csrf_token": other.json()["csrf"]}, {"csrf_token": "0" * 64}):
            answer = client.post("/orders", json=data)
            assert answer.status_code == 403
            assert answer.json()["code"] == "csrf_failed"

    def test_a_post_from_another_site_is_refused_even_with_the_token(self, client):
        csrf = client.post("/sign-in", json={"username": "cd.clerk"}).json()["csrf"]
        answer = client.post(
            "/orders", json={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert answer.status_code == 403
