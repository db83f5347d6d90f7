"""The HTTP edge every app shares (runtime/http): limits on size and time, NUL characters,
ASCII numbers and dates, problem+json for everything, and an OpenAPI document that says so.

A credit-terms command on an app from create_app, served by the same uvicorn configuration
as every process, over a real socket: the limits live in the server and the middleware, so
nothing short of a connection shows them."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from runtime.embedded import free_port
from runtime.http.app import create_app
from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.schemas import Count, IsoDate, Money
from runtime.http.server import server_config
from runtime.settings import Settings
from tests.platform import running_server

HQ = {"Authorization": "Bearer demo-hq-admin"}
LIMIT = 64 * 1024


class CreditTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_limit: Money
    payment_terms_days: Count = Field(ge=0, le=365)
    effective_from: IsoDate | None = None


accounts = APIRouter(prefix="/accounts", tags=["accounts"])
received: list[CreditTerms] = []


@accounts.post("/{dealer_code}/credit-terms")
def set_credit_terms(
    dealer_code: str, body: CreditTerms, principal: CurrentPrincipal, key: Idempotency
) -> dict:
    received.append(body)
    return {"dealer_code": dealer_code, "credit_limit": str(body.credit_limit)}


@accounts.get("/{dealer_code}/credit-terms")
def get_credit_terms(dealer_code: str, principal: CurrentPrincipal, on: IsoDate | None = None):
    return {"dealer_code": dealer_code, "on": (on or date(2026, 11, 20)).isoformat()}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    settings = Settings(
        dist_env="development",
        http_max_body_bytes=LIMIT,
        http_body_timeout_s=1.0,
        http_header_timeout_s=1.0,
    )
    api = create_app(title="finance", process="finance", settings=settings, checks=[])
    api.include_router(accounts)
    port = free_port()
    server = uvicorn.Server(server_config(api, host="127.0.0.1", port=port, log_level="warning"))
    with running_server(server):
        yield "127.0.0.1", port


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    host, port = server
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
        yield client


def command(client: httpx.Client, body: dict, *, dealer: str = "CD-001") -> httpx.Response:
    headers = {**HQ, "Idempotency-Key": str(uuid.uuid4())}
    return client.post(f"/accounts/{dealer}/credit-terms", json=body, headers=headers)


def raw(server, request: bytes) -> tuple[bytes, float]:
    """Send ``request`` and read until the server closes: its answer and how long it took."""
    started = time.monotonic()
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def problem_of(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), head
    import json

    return int(head.split()[1]), json.loads(body)["code"]


class TestBadInputNeverWrites:
    def test_money_takes_ascii_digits_only(self, client):
        before = len(received)
        for amount in ("１００.00", "١٠٠.00", "100.000", "1e3", " 100.00"):
            answer = command(client, {"credit_limit": amount, "payment_terms_days": 30})
            assert answer.status_code == 422, amount
            assert answer.headers["content-type"] == "application/problem+json"
        assert len(received) == before
        assert command(client, {"credit_limit": "500000.00", "payment_terms_days": 30}).is_success

    def test_a_pattern_the_platform_names_is_explained_in_words(self, client):
        """A clerk who typed "1,299.00" reads what an amount looks like, not a regex."""
        answer = command(client, {"credit_limit": "1,299.00", "payment_terms_days": 30})
        assert answer.status_code == 422
        error = answer.json()["errors"][0]
        assert error["path"] == "body.credit_limit"
        assert error["type"] == "string_pattern_mismatch"
        assert error["message"] == (
            "should be an amount in yuan as a decimal string with at most two places, "
            'e.g. "1299.00"'
        )
        assert "^[0-9]" not in answer.json()["detail"]

    def test_counts_are_json_integers_and_dates_are_iso_days(self, client):
        before = len(received)
        for bad in (
            {"payment_terms_days": False},
            {"payment_terms_days": "30"},
            {"payment_terms_days": 30.5},
            {"effective_from": 0},
            {"effective_from": "0"},
            {"effective_from": "2026-11-20T00:00:00"},
            {"effective_from": "２０２６-11-20"},
        ):
            answer = command(client, {"credit_limit": "1000.00", "payment_terms_days": 30, **bad})
            assert answer.status_code == 422, bad
        assert len(received) == before
        whole = command(client, {"credit_limit": "1000.00", "payment_terms_days": 30.0})
        assert whole.is_success and received[-1].payment_terms_days == 30
        on = client.get("/accounts/CD-001/credit-terms", params={"on": "0"}, headers=HQ)
        assert on.status_code == 422

    def test_a_nul_character_anywhere_is_refused_before_any_route(self, client):
        before = len(received)
        body = {"credit_limit": "1000.00", "payment_terms_days": 30}
        headers = {**HQ, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
        cases = [
            client.get("/accounts/CD-001%00/credit-terms", headers=HQ),
            client.get("/accounts/CD-001/credit-terms?on=2026-11-20%00", headers=HQ),
            client.post(
                "/accounts/CD-001/credit-terms",
                content=b'{"credit_limit": "1000.00", "payment_terms_days": 30, "x": "a\\u0000"}',
                headers=headers,
            ),
            command(client, body, dealer="CD%00"),
        ]
        for answer in cases:
            assert answer.status_code == 422, answer.request.url
            assert answer.json()["code"] == "invalid_request"
        assert cases[1].json()["errors"][0]["path"] == "query.on"
        # An escaped backslash before "u0000" is no NUL.
        literal = client.post(
            "/accounts/CD-001/credit-terms",
            content=b'{"credit_limit": "1000.00", "payment_terms_days": 30}',
            headers={**headers, "Idempotency-Key": "literal-backslash-u0000"},
        )
        assert literal.is_success
        assert len(received) == before + 1


class TestLimits:
    def test_a_body_over_the_limit_is_refused_before_it_is_sent(self, server):
        head = (
            b"POST /accounts/CD-001/credit-terms HTTP/1.1\r\nHost: dist\r\n"
            b"Authorization: Bearer demo-hq-admin\r\nIdempotency-Key: big-1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
        )
        answer, took = raw(server, head)
        assert problem_of(answer) == (413, "request_too_large")
        assert b"connection: close" in answer.lower() and took < 1

    def test_a_chunked_body_is_cut_at_the_limit(self, client):
        def chunks():
            for _ in range(LIMIT // 1024 + 2):
                yield b" " * 1024

        headers = {**HQ, "Idempotency-Key": "chunked-1", "Content-Type": "application/json"}
        answer = client.post("/accounts/CD-001/credit-terms", content=chunks(), headers=headers)
        assert answer.status_code == 413

    def test_a_body_that_trickles_in_is_dropped_with_408(self, server):
        body = b'{"credit_limit": "1000.00", "payment_terms_days": 30}'
        head = (
            b"POST /accounts/CD-001/credit-terms HTTP/1.1\r\nHost: dist\r\n"
            b"Authorization: Bearer demo-hq-admin\r\nIdempotency-Key: slow-1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        before = len(received)
        answer, took = raw(server, head + body[:5])  # and the rest never comes
        assert problem_of(answer) == (408, "request_timeout")
        assert 0.9 < took < 3 and len(received) == before

    def test_headers_that_do_not_arrive_in_time_are_dropped(self, server):
        answer, took = raw(server, b"GET /healthz HTTP/1.1\r\nHost: di")
        assert answer == b"" and 0.9 < took < 3
        connections = [socket.create_connection(server) for _ in range(20)]
        try:
            time.sleep(1.5)
            for sock in connections:
                sock.settimeout(2)
                assert sock.recv(1) == b""  # closed by the server
        finally:
            for sock in connections:
                sock.close()

    def test_a_huge_query_string_is_414_and_huge_headers_431(self, server):
        answer, _ = raw(
            server, b"GET /healthz?q=" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: d\r\n\r\n"
        )
        assert problem_of(answer) == (414, "uri_too_long")
        big = b"GET /healthz HTTP/1.1\r\nHost: d\r\nX-Note: " + b"b" * 20_000 + b"\r\n\r\n"
        assert problem_of(raw(server, big)[0]) == (431, "request_header_fields_too_large")
        assert problem_of(raw(server, b"NOT HTTP\r\n\r\n")[0]) == (400, "invalid_http_request")

    def test_a_kept_alive_connection_still_serves_requests(self, client):
        for _ in range(3):
            assert client.get("/healthz").status_code == 200

    def test_an_idle_connection_is_closed_by_its_client_before_the_server(self):
        """The server waits out an idle kept-alive connection longer than a client's pool
        keeps one, so a request never goes out on a connection the server is closing (CI
        once saw "Server disconnected without sending a response" on a POST: uvicorn and
        httpx both gave up on idle connections after 5 s). What it waits is the setting."""
        assert Settings().http_keep_alive_s > httpx.Limits().keepalive_expiry + 30
        settings = Settings(dist_env="development", http_keep_alive_s=1.0)
        api = create_app(title="finance", process="finance", settings=settings, checks=[])
        port = free_port()
        config = server_config(api, host="127.0.0.1", port=port, log_level="warning")
        request = b"GET /healthz HTTP/1.1\r\nHost: dist\r\n\r\n"
        with (
            running_server(uvicorn.Server(config)),
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        ):
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.5)  # idle, within the setting: the connection still serves
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            idle_from = time.monotonic()
            sock.settimeout(3.0)  # uvicorn's own 5 s would time this out
            assert sock.recv(1) == b""  # closed by the server
            assert 0.9 < time.monotonic() - idle_from < 3.0


class TestOpenApi:
    def test_405_names_every_method_of_the_path(self, client):
        answer = client.request("PUT", "/accounts/CD-001/credit-terms", headers=HQ)
        assert answer.status_code == 405
        assert answer.headers["allow"] == "GET, POST"
        assert answer.headers["content-type"] == "application/problem+json"

    def test_the_document_shows_the_key_the_idempotency_header_and_every_error(self, client):
        document = client.get("/openapi.json").json()
        assert document["components"]["securitySchemes"]["ApiKey"] == {
            "type": "http",
            "scheme": "bearer",
            "description": document["components"]["securitySchemes"]["ApiKey"]["description"],
        }
        assert "HTTPValidationError" not in document["components"]["schemas"]
        post = document["paths"]["/accounts/{dealer_code}/credit-terms"]["post"]
        assert post["security"] == [{"ApiKey": []}]
        (key,) = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header" and key["required"] is True
        assert sorted(post["responses"]) == sorted(
            ["200", "400", "401", "403", "404", "408", "409", "413", "414", "422", "431", "503"]
        )
        for status, response in post["responses"].items():
            if status != "200":
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, status
        health = document["paths"]["/healthz"]["get"]
        # The edge refuses an over-long URL (414) or head (431) before any route is chosen:
        # every operation can answer them (the fuzzer's ST103 on a 9 KB query string).
        assert sorted(health["responses"]) == ["200", "400", "414", "431"]
        metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert list(metrics) == ["text/plain; version=1.0.0; charset=utf-8"]


def test_a_name_is_blank_by_one_rule_in_python_and_in_the_openapi_document():
    """A dealer named "\\x85" was refused as blank although the document's `\\S` (ECMA-262,
    where \\x85 is no space) allowed it: the fuzzer's ST202. Every character str.strip()
    drops must fail the document's pattern too, and every other one must pass it."""
    import re

    from pydantic import TypeAdapter, ValidationError

    from runtime.http.schemas import NOT_BLANK, Name

    names = TypeAdapter(Name)
    document = names.json_schema()["pattern"]
    assert "\\s" not in document.lower()  # a shorthand each regex dialect reads its own way
    for code in range(0x3100):
        character = chr(code)
        blank = not character.strip()
        assert (re.search(document, character) is None) == blank or character == "\ufeff"
        if blank:
            with pytest.raises(ValidationError):
                names.validate_python(character)
    assert names.validate_python(" 成都川西酒业\x85 ") == "成都川西酒业"
    assert re.search(NOT_BLANK, "\ufeff") is None  # ECMA's space; refused by both
