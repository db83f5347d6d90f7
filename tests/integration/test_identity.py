"""Users and sign-in over HTTP, with real PostgreSQL and the broker: HQ creates users and
keys in identity; every other process accepts the user's session and keys with exactly the
user's role and scope, and refuses them once the user is disabled or the key revoked,
having learnt it from the identity topic alone."""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager

import psycopg2
import pytest

from projections import bootstrap as query_process
from runtime.http.credentials import parse_api_key
from runtime.settings import DEMO_PASSWORD
from services.finance import bootstrap as finance_process
from services.identity import bootstrap as identity_process
from services.identity.application import IdentityApplication
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from tests.integration.master_data import known_to, organisation
from tests.integration.saga import WULIANGYE, ok
from tests.platform import (
    HQ,
    command,
    command_when_known,
    published,
    register_organisation,
    serving,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.broker]

PASSWORD = "Chengdu-Spring-2026"  # noqa: S105 - test data
WANG_FANG = {
    "username": "cd.clerk.wang",
    "name": "Wang Fang (Chengdu clerk)",
    "role": "branch_clerk",
    "branch": "CD",
    "password": PASSWORD,
}
# Within this many seconds a change in identity reaches every process (through the topic).
PROPAGATION_S = 20


@pytest.fixture(autouse=True)
def organised(settings) -> None:
    """Identity knows the tests' regions and branches (tests/platform.py), as its process
    manager learns them from the orders topic: users of CD and SH may be created at once."""
    app = IdentityApplication(settings)
    known_to(app, *organisation())
    app.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(identity, username: str, password: str):
    return identity.post("/sessions", json={"username": username, "password": password})


@contextmanager
def running(settings, *names: str):
    builders = {
        "identity": identity_process.build,
        "orders": orders_process.build,
        "inventory": inventory_process.build,
        "finance": finance_process.build,
        "query": query_process.build,
    }
    with ExitStack() as stack:
        yield {name: stack.enter_context(serving(builders[name](settings))) for name in names}


def register_dealers(orders) -> None:
    register_organisation(orders)
    for code, branch, region in (("CD-001", "CD", "SOUTHWEST"), ("SH-001", "SH", "EAST")):
        body = {
            "code": code,
            "name": f"Dealer {code}",
            "branch": branch,
            "region": region,
            "grade": "tier1_distributor",
        }
        ok(command(orders, "/dealers", body, headers=HQ))
    product = {"sku": WULIANGYE, "name": "Wuliangye 52% 500ml", "category": "BAIJIU"}
    ok(command(orders, "/products", {**product, "list_price": "1299.00"}, headers=HQ))


def order_for(dealer: str) -> dict:
    return {
        "dealer_code": dealer,
        "business_date": "2026-11-20",
        "lines": [{"sku": WULIANGYE, "quantity": 6}],
    }


class TestSignIn:
    def test_a_chengdu_clerk_signs_in_and_orders_for_chengdu_dealers_only(self, settings):
        with running(settings, "identity", "orders") as p:
            identity, orders = p["identity"], p["orders"]
            register_dealers(orders)
            created = ok(command(identity, "/users", WANG_FANG, headers=HQ))
            assert created["role"] == "branch_clerk" and created["branch"] == "CD"
            assert created["modified_by"] == "Wang Min (HQ admin)"
            assert "password" not in json.dumps(created)

            session = sign_in(identity, "cd.clerk.wang", PASSWORD)
            assert session.status_code == 201, session.text
            token = session.json()["token"]

            placed = command(orders, "/orders", order_for("CD-001"), headers=bearer(token))
            assert placed.status_code == 201, placed.text
            order = ok(orders.get(f"/orders/{placed.json()['order_id']}", headers=HQ))
            assert order["dealer_code"] == "CD-001"
            refused = command(orders, "/orders", order_for("SH-001"), headers=bearer(token))
            assert refused.status_code == 403, refused.text

    def test_a_wrong_password_and_an_unknown_user_get_the_same_401(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            wrong = sign_in(identity, "cd.clerk.wang", "not-the-password")
            unknown = sign_in(identity, "nobody.here", PASSWORD)
            assert wrong.status_code == unknown.status_code == 401
            assert wrong.headers["content-type"] == "application/problem+json"
            assert wrong.json() == unknown.json()
            assert wrong.json()["code"] == "invalid_credentials"

    def test_five_wrong_passwords_lock_the_user_name_for_a_while(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            for _ in range(settings.sign_in_max_failures):
                assert sign_in(identity, "cd.clerk.wang", "Chengdu-guess-1").status_code == 401
            locked = sign_in(identity, "cd.clerk.wang", PASSWORD)  # even the right one
            assert locked.status_code == 429, locked.text
            assert locked.json()["code"] == "too_many_sign_in_attempts"
            assert 0 < int(locked.headers["Retry-After"]) <= settings.sign_in_window_s
            assert sign_in(identity, "dealer.cd001", DEMO_PASSWORD).status_code == 201

    def test_demo_users_sign_in_with_the_documented_password_in_development(self, settings):
        with running(settings, "identity") as p:
            answer = sign_in(p["identity"], "dealer.cd001", DEMO_PASSWORD)
            assert answer.status_code == 201, answer.text
            assert answer.json()["dealer"] == "CD-001"


class TestDisabling:
    def test_a_disabled_users_session_and_keys_are_refused_by_orders(self, settings):
        with running(settings, "identity", "orders") as p:
            identity, orders = p["identity"], p["orders"]
            register_dealers(orders)
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            token = sign_in(identity, "cd.clerk.wang", PASSWORD).json()["token"]
            key = ok(
                command(
                    identity,
                    "/api-keys",
                    {"username": "cd.clerk.wang", "label": "scanner"},
                    headers=HQ,
                )
            )["api_key"]

            def answers(credential: str) -> int:
                return orders.get("/dealers/CD-001", headers=bearer(credential)).status_code

            wait_until(lambda: answers(key) == 200, timeout=PROPAGATION_S, what="key accepted")
            assert answers(token) == 200

            disabled = command(
                identity, "/users/cd.clerk.wang/disable", {"reason": "left"}, headers=HQ
            )
            assert ok(disabled)["disabled"] is True
            wait_until(
                lambda: answers(token) == 401 and answers(key) == 401,
                timeout=PROPAGATION_S,
                what="orders refusing the disabled user",
            )
            assert sign_in(identity, "cd.clerk.wang", PASSWORD).status_code == 401

            ok(command(identity, "/users/cd.clerk.wang/enable", {}, headers=HQ))
            wait_until(lambda: answers(key) == 200, timeout=PROPAGATION_S, what="key again")
            # A session from before the user was disabled stays ended.
            assert answers(token) == 401
            fresh = sign_in(identity, "cd.clerk.wang", PASSWORD).json()["token"]
            assert answers(fresh) == 200


class TestApiKeys:
    def test_an_issued_key_works_everywhere_until_revoked(self, settings):
        with running(settings, "identity", "inventory", "finance", "query") as p:
            identity = p["identity"]
            analyst = {"username": "hq.analyst.zhou", "name": "Zhou Yu", "role": "hq_viewer"}
            ok(command(identity, "/users", analyst, headers=HQ))
            issued = ok(
                command(
                    identity,
                    "/api-keys",
                    {"username": "hq.analyst.zhou", "label": "BI dashboard"},
                    headers=HQ,
                )
            )
            key = issued["api_key"]
            assert key.startswith(f"dk_{issued['key_id']}_")
            reads = {
                "inventory": "/warehouses/WH-CD",
                "finance": "/accounts/health-rules",
                "query": "/hq/sales?by=region&period=month",
            }

            def statuses() -> dict[str, int]:
                return {
                    name: p[name].get(path, headers=bearer(key)).status_code
                    for name, path in reads.items()
                }

            wait_until(
                lambda: 401 not in statuses().values(), timeout=PROPAGATION_S, what="key known"
            )
            assert statuses() == {"inventory": 404, "finance": 200, "query": 200}
            # A hq_viewer reads but never commands.
            body = {"code": "WH-XA", "name": "Xi'an DC", "kind": "branch", "branch": "XA"}
            assert (
                command(
                    p["inventory"],
                    "/warehouses",
                    {**body, "region": "NORTHWEST"},
                    headers=bearer(key),
                ).status_code
                == 403
            )

            listed = ok(identity.get("/api-keys", headers=HQ))["api_keys"]
            assert [k["key_id"] for k in listed] == [issued["key_id"]]
            assert "api_key" not in json.dumps(listed)
            revoked = command(identity, f"/api-keys/{issued['key_id']}/revocation", {}, headers=HQ)
            assert ok(revoked)["revoked"] is True
            wait_until(
                lambda: set(statuses().values()) == {401},
                timeout=PROPAGATION_S,
                what="every process refusing the revoked key",
            )

    def test_a_replayed_issue_never_shows_the_secret_again(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            body = {"username": "hq.admin", "label": "ERP bridge"}
            first = command(identity, "/api-keys", body, headers=HQ, key="issue-erp-bridge")
            again = command(identity, "/api-keys", body, headers=HQ, key="issue-erp-bridge")
            assert first.status_code == again.status_code == 201
            assert first.json()["api_key"]
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json().get("api_key") is None
            assert again.json()["key_id"] == first.json()["key_id"]


class TestRecords:
    def test_secrets_are_never_stored_or_published_in_clear(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            new_password = "Wuliangye-Autumn-2026"  # noqa: S105 - test data
            reset = {"password": new_password}
            ok(command(identity, "/users/cd.clerk.wang/password", reset, headers=HQ))
            key = ok(
                command(
                    identity, "/api-keys", {"username": "cd.clerk.wang", "label": "pos"}, headers=HQ
                )
            )["api_key"]
            # The secret is URL-safe base64 and may hold "_" itself: split as the services do
            # (the last "_" once left a one-character tail, found in any stored row).
            _key_id, secret = parse_api_key(key)
            assert sign_in(identity, "cd.clerk.wang", PASSWORD).status_code == 401
            assert sign_in(identity, "cd.clerk.wang", new_password).status_code == 201

            topic = wait_until(
                lambda: len(found := _topic(settings)) >= 3 and found,
                what="identity's events on its topic",
            )
            stored = _identity_rows(settings)
            assert "$argon2id$" in stored and "$argon2id$" in topic
            for clear in (PASSWORD, new_password, secret, key):
                assert clear not in stored
                assert clear not in topic

    def test_user_changes_are_published_with_who_and_when(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            ok(command(identity, "/users/cd.clerk.wang/disable", {"reason": "left"}, headers=HQ))
            [created] = wait_until(
                lambda: [
                    e
                    for e in published(settings, "identity", "UserCreated")
                    if e["data"]["username"] == "cd.clerk.wang"
                ],
                what="UserCreated",
            )
            [disabled] = wait_until(
                lambda: published(settings, "identity", "UserDisabled"), what="UserDisabled"
            )
            for envelope in (created, disabled):
                assert envelope["actor"] == "Wang Min (HQ admin)"
                assert envelope["actorrole"] == "hq_admin"
                assert envelope["time"].startswith("20")
            assert created["data"]["role"] == "branch_clerk" and created["data"]["branch"] == "CD"
            assert disabled["data"] == {"username": "cd.clerk.wang", "reason": "left"}

    def test_a_users_history_lists_every_change_with_who_and_when_for_hq_only(self, settings):
        with running(settings, "identity") as p:
            identity = p["identity"]
            ok(command(identity, "/users", WANG_FANG, headers=HQ))
            reset = {"password": "Chengdu-Autumn-2026"}
            ok(command(identity, "/users/cd.clerk.wang/password", reset, headers=HQ))
            ok(command(identity, "/users/cd.clerk.wang/disable", {"reason": "left"}, headers=HQ))
            answer = identity.get("/users/cd.clerk.wang/history", headers=HQ)
            assert answer.status_code == 200, answer.text
            changes = answer.json()["changes"]
            assert [c["change"] for c in changes] == ["created", "password_reset", "disabled"]
            assert {c["by"] for c in changes} == {"Wang Min (HQ admin)"}
            assert changes[0]["role"] == "branch_clerk" and changes[-1]["reason"] == "left"
            assert "Autumn" not in answer.text and "argon2" not in answer.text
            clerk = sign_in(identity, "cd.clerk", DEMO_PASSWORD)
            refused = identity.get(
                "/users/cd.clerk.wang/history", headers=bearer(clerk.json()["token"])
            )
            assert refused.status_code == 403
            unknown = identity.get("/users/no.such.user/history", headers=HQ)
            assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_user"


def _identity_rows(settings) -> str:
    """Every row identity's schema holds (events, snapshots, idempotency answers), as text."""
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            curs.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity'"
            )
            texts = []
            for (table,) in curs.fetchall():
                curs.execute(f'SELECT t::text FROM identity."{table}" t')  # noqa: S608
                texts.extend(row[0] for row in curs.fetchall())
            # Event states are bytea: decode them too.
            curs.execute("SELECT convert_from(state, 'UTF8') FROM identity.identity_events")
            texts.extend(row[0] for row in curs.fetchall())
            return "\n".join(texts)
    finally:
        conn.close()


def _topic(settings) -> str:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    topic = settings.topic("identity")
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    records = [record.value.decode() for record in consumer]
    consumer.close()
    return "\n".join(records)


class TestProductionMode:
    def test_no_demo_user_exists_and_sessions_need_the_configured_secret(self, settings):
        admin_key = "prod-hq-admin-key-0123456789abcdef"
        production = settings.model_copy(
            update={
                "dist_env": "production",
                "api_keys": json.dumps(
                    {admin_key: {"name": "HQ administrator", "role": "hq_admin"}}
                ),
                "session_secret": "production-session-secret-0123456789abcdef",
            }
        )
        with running(production, "identity") as p:
            identity = p["identity"]
            assert ok(identity.get("/users", headers=bearer(admin_key))) == {"users": []}
            assert sign_in(identity, "hq.admin", DEMO_PASSWORD).status_code == 401
            assert identity.get("/users", headers=bearer("demo-hq-admin")).status_code == 401


class TestBranches:
    def test_a_user_of_a_branch_the_organisation_does_not_have_is_refused(self, settings):
        lanzhou = {**WANG_FANG, "username": "lz.clerk.ma", "name": "Ma Jun", "branch": "LZ"}
        with running(settings, "identity", "orders") as p:
            identity, orders = p["identity"], p["orders"]
            refused = command(identity, "/users", lanzhou, headers=HQ)
            assert refused.status_code == 404, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "unknown_branch"
            assert identity.get("/users/lz.clerk.ma", headers=HQ).status_code == 404

            # Orders registers Lanzhou; identity learns it from the orders topic.
            register_organisation(orders)
            branch = {"code": "LZ", "name": "Lanzhou Branch", "region": "NORTHWEST"}
            ok(command(orders, "/organisation/branches", branch, headers=HQ))
            created = ok(command_when_known(identity, "/users", lanzhou, headers=HQ))
            assert created["branch"] == "LZ"

            moved = command(
                identity,
                "/users/lz.clerk.ma/role",
                {"role": "branch_manager", "branch": "XN"},
                headers=HQ,
            )
            assert moved.status_code == 404 and moved.json()["code"] == "unknown_branch"
            kept = ok(identity.get("/users/lz.clerk.ma", headers=HQ))
            assert (kept["role"], kept["branch"]) == ("branch_clerk", "LZ")
