"""Early warning (预警) over HTTP with the saga running: orders, inventory and finance serve
and run their process managers; the warnings process consumes their topics, keeps its board
and escalates on its clock, which the test moves instead of waiting (an injected clock).

A Chengdu order refused credit goes on hold; held longer than the rule's delay, a warning
is raised for the Chengdu branch manager with the figures; ignored through two allowances it
reaches HQ with its history; a cleared condition resolves itself; a restart in the middle of
an allowance still escalates once."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import psycopg2
import pytest

from runtime.clock import ManualClock
from runtime.settings import DEMO_PASSWORD
from services.identity import bootstrap as identity_process
from services.warnings import bootstrap as warnings_process
from tests.integration.saga import (
    CHENGDU_MANAGER,
    CREDIT_CONTROLLER,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import (
    CHENGDU_CLERK,
    HQ,
    SHANGHAI_CLERK,
    command,
    published,
    serving,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.broker]

ALLOWANCES = {"branch_manager": 60, "region": 90, "hq_admin": 120}


@contextmanager
def warnings_running(settings, clock, tick_s: float = 0.05):
    process = warnings_process.build(settings, clock=clock, tick_s=tick_s)
    with serving(process) as client:
        client.keeper = process.api.state.board_keeper  # type: ignore[attr-defined]
        client.deliverer = process.api.state.deliverer  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def platform(settings):
    clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    with ExitStack() as stack:
        # First, as in life: it reads the dealers' registrations before their orders.
        warnings = stack.enter_context(warnings_running(settings, clock))
        company = stack.enter_context(running_company(settings))
        company.credit_terms("CD-001", "20000.00")
        company.receive(WULIANGYE, 100)
        yield company, warnings, clock, stack


def set_rule(warnings, code: str, threshold: str, allowances=ALLOWANCES) -> dict:
    body = {"threshold": threshold, "allowances_minutes": allowances}
    return ok(command(warnings, f"/warning-rules/{code}", body, headers=HQ))


def held_order(company, quantity: int = 20) -> str:
    """A Chengdu order of 20 x 1,299.00 = 25,980.00 against a 20,000.00 limit: credit hold."""
    order = company.place({WULIANGYE: quantity})
    company.wait_status(order["order_id"], "credit_hold")
    return order["order_id"]


def override_the_limit(company, order_id: str) -> None:
    """A credit controller lets CD-001's held order through above its limit."""
    body = {"order_id": order_id}
    ok(
        command(
            company.finance, "/accounts/CD-001/credit-overrides", body, headers=CREDIT_CONTROLLER
        )
    )


def warnings_of(client, headers, **params) -> list[dict]:
    return ok(client.get("/warnings", params=params, headers=headers))["warnings"]


def the_warning(client, order_id: str, *, status: str = "open", headers=HQ) -> dict:
    return wait_until(
        lambda: next(
            (
                w
                for w in warnings_of(client, headers, status=status)
                if w["subject"] == f"order:{order_id}"
            ),
            None,
        ),
        timeout=30,
        what=f"a {status} warning for order {order_id}",
    )


def at_level(client, warning_id: str, level: str, headers=HQ) -> dict:
    return wait_until(
        lambda: (
            (w := ok(client.get(f"/warnings/{warning_id}", headers=headers)))["level"] == level
            and w
        ),
        timeout=30,
        what=f"warning {warning_id} at {level}",
    )


def ticks_later(client, n: int = 3) -> None:
    start = client.keeper.ticks
    wait_until(lambda: client.keeper.ticks >= start + n, timeout=10, what="scheduler ticks")


class TestCreditHold:
    def test_held_longer_than_the_delay_it_warns_the_branch_manager_then_escalates_to_hq(
        self, platform, settings
    ):
        company, warnings, clock, _ = platform
        rule = set_rule(warnings, "credit_hold", "2")
        assert (rule["version"], rule["threshold"]) == (2, "2")
        order_id = held_order(company)

        watched = the_warning(warnings, order_id, status="watching")
        assert watched["level"] is None
        assert warnings_of(warnings, CHENGDU_MANAGER) == [], "nobody is told before 2 hours"

        clock.advance(hours=2)
        raised = the_warning(warnings, order_id, headers=CHENGDU_MANAGER)
        assert raised["warning_id"] == watched["warning_id"]
        assert (raised["level"], raised["responsible_role"]) == ("branch_manager", "branch_manager")
        assert (raised["branch"], raised["dealer"], raised["severity"]) == ("CD", "CD-001", "high")
        assert raised["rule_version"] == 2
        [reason] = raised["reasons"]
        assert reason["figures"] == {
            "order_total": "25980.00",
            "exposure": "0.00",
            "credit_limit": "20000.00",
            "shortfall": "5980.00",
        }
        inbox = ok(warnings.get("/warnings/inbox", headers=CHENGDU_MANAGER))["warnings"]
        assert [w["warning_id"] for w in inbox] == [raised["warning_id"]]
        assert ok(warnings.get("/warnings/inbox", headers=HQ))["warnings"] == []
        assert warnings_of(warnings, SHANGHAI_CLERK) == []

        # Ignored through the branch manager's and the region's allowances: HQ has it.
        clock.advance(minutes=60)
        at_level(warnings, raised["warning_id"], "region")
        clock.advance(minutes=90)
        at_hq = at_level(warnings, raised["warning_id"], "hq_admin")
        assert [s["step"] for s in at_hq["history"]] == [
            "watched",
            "raised",
            "escalated",
            "escalated",
        ]
        inbox = ok(warnings.get("/warnings/inbox", headers=HQ))["warnings"]
        assert [w["warning_id"] for w in inbox] == [raised["warning_id"]]
        counts = ok(warnings.get("/warnings/counts", headers=HQ))
        assert counts["by_level"] == {"hq_admin": 1}
        assert counts["by_severity"] == {"high": 1}

        def on_topic(name: str) -> list[dict]:
            return [e for e in published(settings, "warnings", name) if e["subject"] == wid]

        wid = raised["warning_id"]
        escalations = wait_until(
            lambda: len(found := on_topic("WarningEscalated")) == 2 and found,
            timeout=30,
            what="both escalations on the warnings topic",
        )
        [raised_event] = on_topic("WarningRaised")
        steps = [raised_event, *escalations]
        assert [e["sequence"] for e in steps] == [1, 2, 3]
        assert raised_event["data"]["reasons"] == raised["reasons"]
        assert [(e["data"]["from_level"], e["data"]["to_level"]) for e in escalations] == [
            ("branch_manager", "region"),
            ("region", "hq_admin"),
        ]

    def test_a_cleared_condition_resolves_the_warning_by_itself(self, platform):
        company, warnings, clock, _ = platform
        set_rule(warnings, "credit_hold", "0")
        order_id = held_order(company)
        raised = the_warning(warnings, order_id)
        assert raised["level"] == "branch_manager"

        override_the_limit(company, order_id)

        resolved = the_warning(warnings, order_id, status="resolved")
        assert resolved["warning_id"] == raised["warning_id"]
        assert resolved["resolution"] == "a credit controller overrode the limit"
        assert resolved["history"][-1]["step"] == "auto_resolved"
        # The override itself is warned of (exposure above the limit), once.
        override = wait_until(
            lambda: [w for w in warnings_of(warnings, HQ) if w["rule"] == "credit_override"],
            timeout=30,
            what="the credit override's warning",
        )
        assert len(override) == 1
        assert override[0]["reasons"][0]["figures"]["over_limit"] == "5980.00"
        clock.advance(days=30)
        ticks_later(warnings)
        assert ok(warnings.get(f"/warnings/{raised['warning_id']}", headers=HQ))["status"] == (
            "resolved"
        )


class TestAwaitingApproval:
    def test_an_order_left_waiting_for_the_manager_is_warned_of_and_clears_when_approved(
        self, settings
    ):
        """Orders above 20,000.00 wait for the Chengdu branch manager; waiting longer than
        the rule's 4 hours, the order is warned of; approved, the warning resolves itself."""
        settings = settings.model_copy(update={"order_approval_threshold": Decimal("20000.00")})
        clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
        with (
            warnings_running(settings, clock) as warnings,
            running_company(settings) as company,
        ):
            company.credit_terms("CD-001", "100000.00")
            company.receive(WULIANGYE, 100)
            set_rule(warnings, "approval_waiting", "4")
            order_id = company.place({WULIANGYE: 20})["order_id"]  # 25,980.00
            company.wait_status(order_id, "awaiting_approval")

            watched = the_warning(warnings, order_id, status="watching")
            assert watched["rule"] == "approval_waiting"
            clock.advance(hours=3)
            ticks_later(warnings)
            assert warnings_of(warnings, CHENGDU_MANAGER) == [], "3 hours: nobody is told yet"

            clock.advance(hours=1)
            raised = the_warning(warnings, order_id, headers=CHENGDU_MANAGER)
            assert (raised["level"], raised["severity"]) == ("branch_manager", "medium")
            assert raised["reasons"][0]["figures"] == {
                "order_total": "25980.00",
                "approval_threshold": "20000.00",
            }

            ok(command(company.orders, f"/orders/{order_id}/approval", {}, headers=CHENGDU_MANAGER))
            resolved = the_warning(warnings, order_id, status="resolved")
            assert resolved["warning_id"] == raised["warning_id"]
            assert resolved["resolution"] == "the order was approved"


class TestPeopleAct:
    def test_acknowledge_comment_resolve_and_the_usual_refusals(self, platform):
        company, warnings, _, _ = platform
        set_rule(warnings, "credit_hold", "0")
        order_id = held_order(company)
        warning_id = the_warning(warnings, order_id)["warning_id"]
        path = f"/warnings/{warning_id}"

        ok(command(warnings, f"{path}/acknowledgement", {}, headers=CHENGDU_MANAGER))
        answer = ok(
            command(
                warnings, f"{path}/comments", {"text": "Calling the dealer"}, headers=CHENGDU_CLERK
            )
        )
        assert answer["position"].startswith("warnings:")

        outside = command(
            warnings, f"{path}/resolution", {"note": "not mine"}, headers=SHANGHAI_CLERK
        )
        assert (outside.status_code, outside.json()["code"]) == (403, "outside_scope")

        key = "2026-11-23-cd-resolve-1"
        first = command(
            warnings,
            f"{path}/resolution",
            {"note": "Paid 6,000.00"},
            headers=CHENGDU_MANAGER,
            key=key,
        )
        again = command(
            warnings,
            f"{path}/resolution",
            {"note": "Paid 6,000.00"},
            headers=CHENGDU_MANAGER,
            key=key,
        )
        assert first.status_code == again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        twice = command(warnings, f"{path}/resolution", {"note": "again"}, headers=CHENGDU_MANAGER)
        assert (twice.status_code, twice.json()["code"]) == (409, "warning_resolved")

        listed = ok(
            warnings.get(
                "/warnings",
                params={"status": "resolved", "min_position": first.json()["position"]},
                headers=CHENGDU_MANAGER,
            )
        )["warnings"]
        assert [w["warning_id"] for w in listed] == [warning_id]
        assert [s["step"] for s in listed[0]["history"]] == [
            "watched",
            "raised",
            "acknowledged",
            "commented",
            "resolved",
        ]

    def test_rule_thresholds_are_hq_s_and_checked(self, platform):
        _, warnings, _, _ = platform
        unknown = command(warnings, "/warning-rules/no_such_rule", {"threshold": "1"}, headers=HQ)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_rule")
        too_long = command(warnings, "/warning-rules/credit_hold", {"threshold": "721"}, headers=HQ)
        assert (too_long.status_code, too_long.json()["code"]) == (422, "threshold_out_of_range")
        branch = command(
            warnings, "/warning-rules/credit_hold", {"threshold": "1"}, headers=CHENGDU_MANAGER
        )
        assert branch.status_code == 403
        missing = warnings.get("/warnings/7b0d3f4e-2f44-4c36-9d3e-5f0f7a1b2c3d", headers=HQ)
        assert (missing.status_code, missing.json()["code"]) == (404, "unknown_warning")
        rules = ok(warnings.get("/warning-rules", headers=HQ))["rules"]
        assert {r["code"] for r in rules} >= {"credit_hold", "credit_override", "stock_shortage"}


class TestAssignment:
    def test_a_branch_manager_gives_a_warning_to_a_colleague_in_scope_never_outside(
        self, platform, settings
    ):
        company, warnings, _, stack = platform
        identity = stack.enter_context(serving(identity_process.build(settings)))
        set_rule(warnings, "credit_hold", "0")
        order_id = held_order(company)
        warning_id = the_warning(warnings, order_id)["warning_id"]
        path = f"/warnings/{warning_id}/assignment"

        def assign(username: str):
            """Retried while the warnings process has not read the user from identity's
            topic yet (404 ``unknown_user``), as a client would."""
            return wait_until(
                lambda: (
                    (r := command(warnings, path, {"assignee": username}, headers=CHENGDU_MANAGER))
                    and not (r.status_code == 404 and r.json()["code"] == "unknown_user")
                    and r
                ),
                timeout=30,
                what=f"{username} known to the warnings process",
            )

        given = assign("cd.clerk")
        assert given.status_code == 200, given.text
        assert given.json()["assignee"] == "cd.clerk"

        def inbox_of(username: str) -> list[str]:
            session = identity.post(
                "/sessions", json={"username": username, "password": DEMO_PASSWORD}
            )
            assert session.status_code == 201, session.text
            token = {"Authorization": f"Bearer {session.json()['token']}"}
            params = {"min_position": given.json()["position"]}
            answer = ok(warnings.get("/warnings/inbox", params=params, headers=token))
            return [w["warning_id"] for w in answer["warnings"]]

        assert inbox_of("cd.clerk") == [warning_id], "the colleague's inbox shows it"
        assert inbox_of("sh.clerk") == []

        outside = assign("sh.clerk")
        assert (outside.status_code, outside.json()["code"]) == (403, "assignee_outside_scope")
        kept = ok(warnings.get(f"/warnings/{warning_id}", headers=HQ))
        assert kept["assignee"] == "cd.clerk"
        assert kept["version"] == given.json()["version"], "the refusal changed nothing"
        [assigned] = [step for step in kept["history"] if step["step"] == "assigned"]
        assert (assigned["assignee"], assigned["by"]) == ("cd.clerk", "Li Qiang (Chengdu manager)")


@contextmanager
def warned_of_a_held_order(settings, clock):
    """A company whose Chengdu order is on credit hold, and a warnings process (the credit
    hold rule at 0 hours) that has warned of it. ``stop()`` ends that process, as a restart
    would; the company runs on."""
    first = ExitStack()
    warnings = first.enter_context(warnings_running(settings, clock))
    with first, running_company(settings) as company:
        company.credit_terms("CD-001", "20000.00")
        company.receive(WULIANGYE, 100)
        set_rule(warnings, "credit_hold", "0")
        order_id = held_order(company)
        warning_id = the_warning(warnings, order_id)["warning_id"]
        yield SimpleNamespace(
            company=company,
            warnings=warnings,
            order_id=order_id,
            warning_id=warning_id,
            stop=first.close,
        )


class TestRestart:
    def test_a_restart_during_an_allowance_still_escalates_once(self, settings):
        clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
        with warned_of_a_held_order(settings, clock) as held:
            clock.advance(minutes=30)  # half the branch manager's allowance
            ticks_later(held.warnings)
            held.stop()  # the warnings process stops; nothing arrives meanwhile
            clock.advance(minutes=45)  # the allowance runs out while it is down
            with warnings_running(settings, clock) as warnings:
                escalated = at_level(warnings, held.warning_id, "region")
                ticks_later(warnings, 5)
                again = ok(warnings.get(f"/warnings/{held.warning_id}", headers=HQ))
        assert again["version"] == escalated["version"]
        assert [s["step"] for s in again["history"]].count("escalated") == 1

    def test_catching_up_it_resolves_by_what_happened_first(self, settings):
        """Down while a credit controller overrode the limit and the order was then approved,
        the warnings process reads both on its return. Finance's override came first, so
        that is the warning's resolution, not the approval that followed it."""
        clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
        with warned_of_a_held_order(settings, clock) as held:
            held.stop()
            override_the_limit(held.company, held.order_id)
            held.company.wait_status(held.order_id, "approved")
            with warnings_running(settings, clock) as warnings:
                resolved = the_warning(warnings, held.order_id, status="resolved")
        assert resolved["warning_id"] == held.warning_id
        assert resolved["resolution"] == "a credit controller overrode the limit"


class Receiver:
    """A webhook receiver (an OA system, say) that fails its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/warnings"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestWebhooks:
    def test_a_receiver_that_fails_twice_gets_the_delivery_on_the_third_try_once(self, platform):
        company, warnings, clock, stack = platform
        receiver = Receiver(failures=2)
        stack.callback(receiver.close)
        secret = "oa-shared-secret-2026"  # noqa: S105 - test data
        hook = {"url": receiver.url, "secret": secret, "levels": ["branch_manager"]}
        registered = command(warnings, "/webhooks", hook, headers=HQ)
        assert registered.status_code == 201, registered.text
        webhook_id = registered.json()["webhook_id"]
        set_rule(warnings, "credit_hold", "0")
        held_order(company)

        wait_until(lambda: len(receiver.requests) == 1, timeout=30, what="the first try")
        clock.advance(seconds=2)  # the back-off after one failure
        wait_until(lambda: len(receiver.requests) == 2, timeout=30, what="the second try")
        clock.advance(seconds=4)
        wait_until(lambda: len(receiver.requests) == 3, timeout=30, what="the third try")
        clock.advance(hours=1)
        start = warnings.deliverer.ticks
        wait_until(lambda: warnings.deliverer.ticks >= start + 3, timeout=10, what="ticks")
        assert len(receiver.requests) == 3, "delivered once: never again after the 2xx"

        ids = {headers["X-Dist-Delivery"] for headers, _ in receiver.requests}
        assert len(ids) == 1, "the same delivery, retried"
        headers, body = receiver.requests[-1]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Dist-Signature"] == expected
        payload = json.loads(body)
        assert payload["type"] == "dist.warnings.WarningRaised.v1"
        assert payload["data"]["reasons"][0]["figures"]["shortfall"] == "5980.00"

        [delivery] = ok(warnings.get(f"/webhooks/{webhook_id}/deliveries", headers=HQ))[
            "deliveries"
        ]
        assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
            "delivered",
            3,
            204,
        )

    def test_a_new_warning_is_sent_at_once_not_at_the_next_tick(self, settings):
        """The deliverer's tick is for back-offs coming due; a delivery the board has just
        queued rings it (a tick of a minute here, so only the bell can be in time)."""
        clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
        receiver = Receiver(failures=0)
        with (
            warnings_running(settings, clock, tick_s=60.0) as warnings,
            running_company(settings) as company,
        ):
            try:
                company.credit_terms("CD-001", "20000.00")
                company.receive(WULIANGYE, 100)
                hook = {
                    "url": receiver.url,
                    "secret": "oa-shared-secret-2026",
                    "levels": ["branch_manager"],
                }
                assert command(warnings, "/webhooks", hook, headers=HQ).status_code == 201
                set_rule(warnings, "credit_hold", "0")
                order_id = held_order(company)
                the_warning(warnings, order_id)
                seen = time.monotonic()
                wait_until(lambda: receiver.requests, timeout=30, what="the delivery")
                assert time.monotonic() - seen < 5.0
            finally:
                receiver.close()


class TestBoardConnections:
    def test_the_board_keeps_its_postgresql_sessions_and_replaces_one_that_was_dropped(
        self, settings
    ):
        """Each tick and each inbox read used to open a PostgreSQL session (fork and
        authentication) and close it. They are kept; one the server dropped is replaced."""
        from services.warnings.board import Board

        board = Board(settings, app=None)
        board.pool.idle_check_s = 0.0  # check every kept connection before use

        def backend() -> int:
            with board.connection() as conn, conn.cursor() as curs:
                curs.execute("SELECT pg_backend_pid()")
                pid = curs.fetchone()[0]
                conn.commit()
            return pid

        try:
            first = backend()
            assert backend() == first, "the same session, kept"
            with psycopg2.connect(settings.postgres().dsn()) as admin, admin.cursor() as curs:
                curs.execute("SELECT pg_terminate_backend(%s)", (first,))
            wait_until(lambda: not _backend_alive(settings, first), what="the session dropped")
            replaced = backend()
            assert replaced != first
            assert backend() == replaced
        finally:
            board.close()


def _backend_alive(settings, pid: int) -> bool:
    with psycopg2.connect(settings.postgres().dsn()) as conn, conn.cursor() as curs:
        curs.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return curs.fetchone()[0] == 1


class TestLatency:
    ORDERS = 20

    def test_every_event_driven_warning_reaches_the_inbox_and_its_lag_is_printed(self, settings):
        """From finance's CreditRefused (its domain time) to the warning in the branch
        manager's inbox, through finance's relay, the broker, the warnings process manager
        and the board, with the production tick (1 s) and the system clock. Every one
        arrives; the lag is printed, not asserted: a figure for the benchmark (issue 16's
        1 s p99 goal), which a shared machine's load would make a flaky test."""
        from runtime.clock import SystemClock

        with (
            warnings_running(settings, SystemClock(), tick_s=1.0) as warnings,
            running_company(settings) as company,
        ):
            company.credit_terms("CD-001", "1000.00")
            company.receive(WULIANGYE, 100)
            set_rule(warnings, "credit_hold", "0")
            for _ in range(self.ORDERS):
                company.place({WULIANGYE: 1})
            seen: dict[str, float] = {}
            deadline = time.monotonic() + 60
            while len(seen) < self.ORDERS and time.monotonic() < deadline:
                inbox = warnings.get(
                    "/warnings/inbox", params={"limit": 200}, headers=CHENGDU_MANAGER
                ).json()["warnings"]
                for warning in inbox:
                    seen.setdefault(warning["subject"].removeprefix("order:"), time.time())
                time.sleep(0.02)  # the poll's interval: part of what is measured
            refused = {
                e["data"]["order_id"]: datetime.fromisoformat(e["time"]).timestamp()
                for e in published(settings, "finance", "CreditRefused")
            }
        lags = sorted(seen[order] - refused[order] for order in seen)
        assert len(lags) == self.ORDERS
        p50 = statistics.median(lags)
        print(f"event -> inbox over {len(lags)} warnings: p50 {p50:.3f}s, max {lags[-1]:.3f}s")
