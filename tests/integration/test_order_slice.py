"""The first vertical slice over HTTP and Kafka: a branch places a dealer order in orders,
OrderPlaced travels through the relay and the broker to the sales projection, and HQ sees
it in GET /hq/sales, reading its own write via the command's position."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from projections import bootstrap as query_process
from services.orders import bootstrap as orders_process
from tests.platform import (
    CHENGDU_CLERK,
    HQ,
    SHANGHAI_CLERK,
    command,
    register_organisation,
    serving,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(settings):
    with (
        serving(orders_process.build(settings)) as orders,
        serving(query_process.build(settings)) as query,
    ):
        register_chengdu_company(orders)
        yield orders, query


def register_chengdu_company(orders) -> None:
    register_organisation(orders)
    for dealer in (
        {
            "code": "CD-001",
            "name": "Jinjiang Wine Trading",
            "branch": "CD",
            "region": "SOUTHWEST",
            "grade": "tier1_distributor",
        },
        {
            "code": "SH-001",
            "name": "Pudong Liquor Co.",
            "branch": "SH",
            "region": "EAST",
            "grade": "exclusive_dealer",
        },
    ):
        assert command(orders, "/dealers", dealer, headers=HQ).status_code == 201
    for product in (
        {
            "sku": "WULIANGYE-52-500ML",
            "name": "Wuliangye 52% 500ml",
            "category": "BAIJIU",
            "list_price": "1299.00",
        },
        {
            "sku": "JIANNANCHUN-52-500ML",
            "name": "Jiannanchun 52% 500ml",
            "category": "BAIJIU",
            "list_price": "458.50",
        },
    ):
        assert command(orders, "/products", product, headers=HQ).status_code == 201


def log_size(settings, topic: str = "%") -> int:
    """How many events orders' store holds (of the topics ``topic`` matches)."""
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            curs.execute("SELECT count(*) FROM orders.orders_events WHERE topic LIKE %s", (topic,))
            return curs.fetchone()[0]
    finally:
        conn.close()


PLACED = "%:Order.Placed"  # an order's first event (its booked date may be recorded with it)


ORDER = {
    "dealer_code": "CD-001",
    "business_date": "2026-11-20",
    "lines": [
        {"sku": "WULIANGYE-52-500ML", "quantity": 10},
        {"sku": "JIANNANCHUN-52-500ML", "quantity": 3},
    ],
}


class TestPlaceOrder:
    def test_prices_lines_to_the_fen(self, platform):
        orders, _ = platform
        response = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK)
        assert response.status_code == 201, response.text
        order = response.json()
        assert [line["amount"] for line in order["lines"]] == ["12990.00", "1375.50"]
        assert order["total"] == "14365.50"
        assert order["position"].startswith("orders:")

    def test_hq_reads_its_own_write_in_national_sales(self, platform):
        orders, query = platform
        placed = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK).json()
        sales = query.get(
            "/hq/sales",
            params={"by": "sku", "period": "month", "min_position": placed["position"]},
            headers=HQ,
        )
        assert sales.status_code == 200, sales.text
        items = {item["key"]: item for item in sales.json()["items"]}
        assert items["WULIANGYE-52-500ML"]["ordered_quantity"] == 10
        assert items["WULIANGYE-52-500ML"]["ordered_amount"] == "12990.00"
        assert items["JIANNANCHUN-52-500ML"]["ordered_amount"] == "1375.50"
        assert items["WULIANGYE-52-500ML"]["period_start"] == "2026-11-01"
        nation = query.get("/hq/sales", params={"by": "nation", "period": "week"}, headers=HQ)
        assert nation.status_code == 200, nation.text
        assert [(i["key"], i["ordered_amount"]) for i in nation.json()["items"]] == [
            ("CN", "14365.50")
        ]

    def test_branch_sees_its_own_branch_only(self, platform):
        orders, query = platform
        placed = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK).json()
        own = query.get(
            "/branches/CD/sales",
            params={"by": "dealer", "min_position": placed["position"]},
            headers=CHENGDU_CLERK,
        )
        assert own.status_code == 200
        assert [item["key"] for item in own.json()["items"]] == ["CD-001"]
        other = query.get("/branches/CD/sales", headers=SHANGHAI_CLERK)
        assert other.status_code == 403
        assert other.json()["code"] == "outside_scope"
        national = query.get("/hq/sales", headers=CHENGDU_CLERK)
        assert national.status_code == 403


class TestIdempotency:
    def test_retried_post_returns_the_first_answer_and_writes_nothing(self, platform, settings):
        orders, _ = platform
        key = str(uuid.uuid4())
        first = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK, key=key)
        written = log_size(settings)
        retry = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK, key=key)
        assert retry.status_code == 201
        assert retry.json() == first.json()
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert log_size(settings) == written

    def test_a_retried_registration_returns_its_first_answer(self, platform, settings):
        orders, _ = platform
        dealer = {
            "code": "CQ-001",
            "name": "Yuzhong Spirits Co.",
            "branch": "CQ",
            "region": "SOUTHWEST",
            "grade": "tier2_distributor",
        }
        first = command(orders, "/dealers", dealer, headers=HQ, key="reg-cq-001")
        retry = command(orders, "/dealers", dealer, headers=HQ, key="reg-cq-001")
        assert (first.status_code, retry.status_code) == (201, 201)
        assert retry.json() == first.json()

    def test_same_key_with_another_body_is_refused(self, platform, settings):
        orders, _ = platform
        key = str(uuid.uuid4())
        command(orders, "/orders", ORDER, headers=CHENGDU_CLERK, key=key)
        written = log_size(settings)
        changed = {**ORDER, "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 11}]}
        response = command(orders, "/orders", changed, headers=CHENGDU_CLERK, key=key)
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_reused"
        assert log_size(settings) == written

    def test_concurrent_retries_with_one_key_place_one_order(self, platform, settings):
        orders, _ = platform
        key = str(uuid.uuid4())
        written = log_size(settings, PLACED)
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(
                pool.map(
                    lambda _: command(orders, "/orders", ORDER, headers=CHENGDU_CLERK, key=key),
                    range(12),
                )
            )
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["order_id"] for a in answers}) == 1
        assert log_size(settings, PLACED) == written + 1

    def test_concurrent_registrations_of_one_code_let_exactly_one_in(self, platform):
        orders, _ = platform
        dealer = {
            "code": "CD-050",
            "name": "Qingyang Banquet Supplies",
            "branch": "CD",
            "region": "SOUTHWEST",
            "grade": "group_buy",
        }
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(lambda _: command(orders, "/dealers", dealer, headers=HQ), range(8))
            )
        assert sorted(a.status_code for a in answers) == [201] + [409] * 7
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {
            "dealer_already_registered"
        }

    def test_a_command_without_a_key_is_refused(self, platform):
        orders, _ = platform
        response = orders.post("/orders", json=ORDER, headers=CHENGDU_CLERK)
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_required"


def _order(**changes):
    return {**ORDER, **changes}


BAD_ORDERS = [
    ("unknown dealer", _order(dealer_code="CD-999"), 404, "unknown_dealer"),
    ("unknown SKU", _order(lines=[{"sku": "MAOTAI-FAKE-1L", "quantity": 1}]), 404, "unknown_sku"),
    (
        "zero quantity",
        _order(lines=[{"sku": "WULIANGYE-52-500ML", "quantity": 0}]),
        422,
        "invalid_request",
    ),
    (
        "negative quantity",
        _order(lines=[{"sku": "WULIANGYE-52-500ML", "quantity": -5}]),
        422,
        "invalid_request",
    ),
    (
        "fractional quantity",
        _order(lines=[{"sku": "WULIANGYE-52-500ML", "quantity": 1.5}]),
        422,
        "invalid_request",
    ),
    ("no lines", _order(lines=[]), 422, "invalid_request"),
    ("missing dealer", {"lines": ORDER["lines"]}, 422, "invalid_request"),
    ("bad date", _order(business_date="2026-13-45"), 422, "invalid_request"),
    ("unexpected field", _order(discount="50%"), 422, "invalid_request"),
]


class TestBadInput:
    @pytest.mark.parametrize(("case", "body", "status", "code"), BAD_ORDERS, ids=lambda c: c)
    def test_bad_order_gets_a_clear_error_and_writes_nothing(
        self, platform, settings, case, body, status, code
    ):
        orders, _ = platform
        written = log_size(settings)
        response = command(orders, "/orders", body, headers=CHENGDU_CLERK)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
        assert log_size(settings) == written

    @pytest.mark.parametrize(
        "price", ["12.345", "-1.00", "1,299.00", "abc", "1e3", "", "NaN"], ids=repr
    )
    def test_malformed_money_is_refused(self, platform, settings, price):
        orders, _ = platform
        written = log_size(settings)
        product = {
            "sku": "LUZHOU-1573-500ML",
            "name": "Guojiao 1573",
            "category": "BAIJIU",
            "list_price": price,
        }
        response = command(orders, "/products", product, headers=HQ)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["path"] == "body.list_price"
        assert log_size(settings) == written

    def test_an_order_too_large_for_the_books_is_a_409(self, platform, settings):
        orders, _ = platform
        huge = {
            "sku": "MOUTAI-1935-CASK",
            "name": "Moutai 1935 cask",
            "category": "BAIJIU",
            "list_price": "9999999999.99",
        }
        assert command(orders, "/products", huge, headers=HQ).status_code == 201
        written = log_size(settings)
        body = _order(lines=[{"sku": "MOUTAI-1935-CASK", "quantity": 1_000_000}])
        response = command(orders, "/orders", body, headers=CHENGDU_CLERK)
        assert response.status_code == 409
        assert response.json()["code"] == "order_too_large"
        assert log_size(settings) == written

    def test_malformed_json_is_a_422(self, platform):
        orders, _ = platform
        response = orders.post(
            "/orders",
            content=b"{not json",
            headers={**CHENGDU_CLERK, "Idempotency-Key": "k1", "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"

    def test_dealer_code_registered_twice_is_a_conflict(self, platform):
        orders, _ = platform
        dealer = {
            "code": "CD-001",
            "name": "Someone Else",
            "branch": "CD",
            "region": "SOUTHWEST",
            "grade": "group_buy",
        }
        response = command(orders, "/dealers", dealer, headers=HQ)
        assert response.status_code == 409
        assert response.json()["code"] == "dealer_already_registered"


class TestScope:
    def test_branch_clerk_cannot_order_for_another_branchs_dealer(self, platform, settings):
        orders, _ = platform
        written = log_size(settings)
        response = command(orders, "/orders", _order(dealer_code="SH-001"), headers=CHENGDU_CLERK)
        assert response.status_code == 403
        assert response.json()["code"] == "outside_scope"
        assert log_size(settings) == written

    @pytest.mark.parametrize(
        "key", ["demo-credit-controller", "demo-chengdu-manager", "demo-hq-viewer", "demo-erp"]
    )
    def test_only_the_branch_clerk_the_dealer_and_hq_place_orders(self, platform, settings, key):
        """Least privilege, as README's table says: credit control overrides a hold, a
        branch manager decides, neither places orders; nor plans a dealer's month."""
        orders, _ = platform
        written = log_size(settings)
        caller = {"Authorization": f"Bearer {key}"}
        response = command(orders, "/orders", _order(), headers=caller)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden_role"
        plan = {
            "dealer_code": "CD-001",
            "month": "2026-12",
            "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 20}],
        }
        response = command(orders, "/demand-plans", plan, headers=caller)
        assert response.status_code == 403, response.text
        revision = {"lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 30}]}
        path = "/demand-plans/CD-001/2026-12/revision"
        assert command(orders, path, revision, headers=caller).status_code == 403
        assert log_size(settings) == written
        dealer = {"Authorization": "Bearer demo-dealer-cd001"}
        assert command(orders, "/orders", _order(), headers=dealer).status_code == 201

    def test_no_key_or_a_bad_key_is_a_401(self, platform):
        orders, _ = platform
        assert orders.post("/orders", json=ORDER).status_code == 401
        bad = orders.post("/orders", json=ORDER, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json()["code"] == "invalid_api_key"


class TestSalesQuery:
    def test_pages_follow_the_cursor_to_the_end(self, platform):
        orders, query = platform
        placed = command(orders, "/orders", ORDER, headers=CHENGDU_CLERK).json()
        params = {"by": "sku", "limit": 1, "min_position": placed["position"]}
        first = query.get("/hq/sales", params=params, headers=HQ).json()
        assert [item["key"] for item in first["items"]] == ["JIANNANCHUN-52-500ML"]
        second = query.get(
            "/hq/sales", params={**params, "cursor": first["next_cursor"]}, headers=HQ
        ).json()
        assert [item["key"] for item in second["items"]] == ["WULIANGYE-52-500ML"]
        assert second["next_cursor"] is None

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"cursor": "not-a-cursor"}, "invalid_cursor"),
            ({"min_position": "42"}, "invalid_request"),
            ({"by": "planet"}, "invalid_request"),
            ({"limit": 0}, "invalid_request"),
            ({"min_position": "inventory:1"}, "invalid_request"),  # sales follows no inventory
        ],
        ids=lambda value: str(value),
    )
    def test_bad_query_parameters_get_a_clear_error(self, platform, params, code):
        _, query = platform
        response = query.get("/hq/sales", params=params, headers=HQ)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code

    def test_a_position_not_reached_in_time_is_a_503_with_retry_after(self, platform, settings):
        impatient = settings.model_copy(update={"read_your_writes_timeout_s": 0.5})
        with serving(query_process.build(impatient)) as query:
            response = query.get("/hq/sales", params={"min_position": "orders:999999"}, headers=HQ)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json()["code"] == "read_model_behind"
