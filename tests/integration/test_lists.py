"""The lists read model over HTTP: each list filtered, searched, scoped to the caller's branch
or dealer, paged in a stable order with no duplicates or gaps, showing the position it
reflects and honouring ``min_position``; invoices and shipments name each other; the same
events in any arrival order give the same rows (what a rebuild relies on). Real PostgreSQL,
events applied as the projector applies them."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from contracts import Envelope
from contracts import finance as finance_events
from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts import planning as planning_events
from contracts.envelope import event_id
from contracts.types import Line, OrderLine
from projections import bootstrap as query_process
from projections.lists.projection import lists
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine
from tests.integration.saga import (
    CHENGDU_CLERK,
    DEALER_CD001,
    JIANNANCHUN,
    WULIANGYE,
    ok,
    running_company,
)
from tests.integration.test_planning_read_models import published
from tests.platform import HQ, serving, wait_until

pytestmark = pytest.mark.integration

SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}
WAREHOUSE_CLERK = {"Authorization": "Bearer demo-chengdu-warehouse"}
DEALERS = {"CD-001": ("CD", "SOUTHWEST"), "CD-002": ("CD", "SOUTHWEST"), "SH-001": ("SH", "EAST")}


def placed(order_id: str, dealer: str, day: str, quantity: int) -> orders_events.OrderPlaced:
    branch, region = DEALERS[dealer]
    line = orders_events.PlacedLine.at(
        sku=WULIANGYE, category="BAIJIU", quantity=quantity, unit_price=Decimal("1299.00")
    )
    return orders_events.OrderPlaced(
        order_id=order_id,
        dealer_id=f"d-{dealer}",
        dealer_code=dealer,
        branch=branch,
        region=region,
        business_date=day,
        lines=[line],
        total=line.amount,
    )


def shipped(shipment_id: str, order_id: str, dealer: str, day: str, quantity: int, complete=True):
    return inventory_events.ShipmentDispatched(
        shipment_id=shipment_id,
        order_id=order_id,
        dealer_code=dealer,
        warehouse_code="WH-CD",
        ship_date=day,
        lines=[inventory_events.ShippedLine(sku=WULIANGYE, quantity=quantity, cost="812.00")],
        cost="812.00",
        order_complete=complete,
    )


def invoiced(invoice_id: str, number: str, order_id: str, shipment_id: str, dealer: str, day):
    line = OrderLine(
        sku=WULIANGYE,
        category="BAIJIU",
        quantity=1,
        unit_price=Decimal("1299.00"),
        amount=Decimal("1299.00"),
    )
    return finance_events.InvoiceIssued(
        invoice_id=invoice_id,
        invoice_number=number,
        dealer_code=dealer,
        order_id=order_id,
        shipment_id=shipment_id,
        issue_date=day,
        due_date="2026-12-31",
        lines=[line],
        total="1299.00",
    )


def story() -> list[Envelope]:
    return published(story_events())


def story_events() -> list[tuple[str, object]]:
    """Three dealers in two branches; ten orders; shipments, invoices, money, goods."""
    events: list[tuple[str, object]] = []
    for code, (branch, region) in DEALERS.items():
        name = {"CD-001": "成都金樽酒业", "CD-002": "成都蜀香商贸", "SH-001": "上海浦江酒行"}[code]
        registered = orders_events.DealerRegistered(
            dealer_id=f"d-{code}",
            dealer_code=code,
            name=name,
            branch=branch,
            region=region,
            grade="tier1_distributor",
        )
        events.append((f"dealer-{code}", registered))
    for sku, name, price in (
        (WULIANGYE, "五粮液 52度 500ml", "1299.00"),
        (JIANNANCHUN, "剑南春 52度 500ml", "458.50"),
    ):
        product = orders_events.ProductRegistered(
            product_id=f"p-{sku}",
            sku=sku,
            name=name,
            category="BAIJIU",
            unit="bottle",
            list_price=price,
        )
        events.append((f"product-{sku}", product))
    for code, branch, region in (("WH-CD", "CD", "SOUTHWEST"), ("WH-SH", "SH", "EAST")):
        warehouse = inventory_events.WarehouseRegistered(
            warehouse_id=f"w-{code}",
            code=code,
            name=code,
            kind="branch",
            branch=branch,
            region=region,
        )
        events.append((f"warehouse-{code}", warehouse))
    # Ten orders: CD-001 on 1-6 Nov, CD-002 on 3 and 7 Nov, SH-001 on 2 and 8 Nov.
    for n, (dealer, day) in enumerate(
        [("CD-001", f"2026-11-0{d}") for d in range(1, 7)]
        + [("CD-002", "2026-11-03"), ("CD-002", "2026-11-07")]
        + [("SH-001", "2026-11-02"), ("SH-001", "2026-11-08")],
        start=1,
    ):
        events.append((f"order-{n:02}", placed(f"order-{n:02}", dealer, day, n)))
    events += [
        (
            "order-01",
            orders_events.OrderApproved(
                order_id="order-01",
                dealer_code="CD-001",
                branch="CD",
                total="1299.00",
                manager_approval=False,
            ),
        ),
        (
            "order-02",
            orders_events.OrderApproved(
                order_id="order-02",
                dealer_code="CD-001",
                branch="CD",
                total="2598.00",
                manager_approval=False,
            ),
        ),
        (
            "order-03",
            orders_events.OrderRejected(
                order_id="order-03", dealer_code="CD-001", reason="insufficient_stock", detail=""
            ),
        ),
        (
            "order-04",
            orders_events.OrderCancelled(
                order_id="order-04", dealer_code="CD-001", reason="dealer asked"
            ),
        ),
        (
            "order-06",
            orders_events.OrderAwaitingApproval(
                order_id="order-06",
                dealer_code="CD-001",
                branch="CD",
                total="7794.00",
                threshold="5000.00",
            ),
        ),
        (
            "credit-05",
            finance_events.CreditRefused(
                order_id="order-05",
                dealer_code="CD-001",
                amount="6495.00",
                exposure="99000.00",
                credit_limit="100000.00",
                shortfall="5495.00",
            ),
        ),
        ("shipment-1", shipped("shipment-1", "order-01", "CD-001", "2026-11-10", 1)),
        ("shipment-2", shipped("shipment-2", "order-02", "CD-001", "2026-11-11", 1, False)),
        (
            "shipment-1",
            inventory_events.DeliveryConfirmed(
                shipment_id="shipment-1",
                order_id="order-01",
                dealer_code="CD-001",
                delivered_on="2026-11-12",
            ),
        ),
        (
            "invoice-1",
            invoiced(
                "invoice-1", "INV-2026-000001", "order-01", "shipment-1", "CD-001", "2026-11-10"
            ),
        ),
        (
            "receipt-1",
            finance_events.ReceiptRecorded(
                receipt_id="receipt-1",
                dealer_code="CD-001",
                amount="2000.00",
                received_on="2026-11-15",
                allocations=[finance_events.Allocation(invoice_id="invoice-1", amount="1299.00")],
                unapplied="701.00",
            ),
        ),
        (
            "receipt-2",
            finance_events.ReceiptRecorded(
                receipt_id="receipt-2",
                dealer_code="SH-001",
                amount="500.00",
                received_on="2026-11-16",
                allocations=[],
                unapplied="500.00",
            ),
        ),
        (
            "return-1",
            orders_events.ReturnApproved(
                return_id="return-1",
                order_id="order-01",
                dealer_code="CD-001",
                branch="CD",
                warehouse_code="WH-CD",
                business_date="2026-11-13",
                lines=[Line(sku=WULIANGYE, quantity=1)],
                reason="broken seal",
            ),
        ),
        (
            "claim-1",
            finance_events.RebateClaimFiled(
                claim_id="claim-1",
                dealer_code="CD-001",
                amount="300.00",
                salesperson="CD-S01",
                filed_on="2026-11-14",
            ),
        ),
        (
            "claim-2",
            finance_events.RebateClaimFiled(
                claim_id="claim-2",
                dealer_code="SH-001",
                amount="100.00",
                salesperson="SH-S01",
                filed_on="2026-11-14",
            ),
        ),
        (
            "claim-2",
            finance_events.RebateClaimRejected(
                claim_id="claim-2",
                dealer_code="SH-001",
                amount="100.00",
                rejected_on="2026-11-15",
                reason="no pool",
            ),
        ),
        (
            "transfer-1",
            inventory_events.TransferDispatched(
                transfer_id="transfer-1",
                from_warehouse="WH-SH",
                to_warehouse="WH-CD",
                ship_date="2026-11-09",
                lines=[inventory_events.ValuedLine(sku=WULIANGYE, quantity=12, cost="9744.00")],
                cost="9744.00",
            ),
        ),
        (
            "stocktake-1",
            inventory_events.StocktakePosted(
                stocktake_id="stocktake-1",
                warehouse_code="WH-SH",
                count_date="2026-11-30",
                posted_on="2026-11-30",
                lines=[
                    inventory_events.CountedLine(
                        sku=WULIANGYE,
                        book=10,
                        counted=9,
                        variance=-1,
                        value="-812.00",
                        reason="breakage",
                    )
                ],
                value="-812.00",
            ),
        ),
        (
            "plan-CD-001",
            planning_events.DemandPlanSubmitted(
                plan_id="plan-CD-001",
                dealer_code="CD-001",
                branch="CD",
                region="SOUTHWEST",
                month="2026-12",
                revision=1,
                lines=[planning_events.PlanLine(sku=WULIANGYE, quantity=120)],
            ),
        ),
    ]
    return events


def apply(settings, envelopes: list[Envelope], schema: str | None = None) -> None:
    schema = schema or settings.projections_schema
    engine = projections_engine(settings, schema, pool_size=1)
    try:
        create_tables(engine, schema, lists)
        handler = SqlProjectionHandler(engine, lists)
        for envelope in envelopes:  # one poll each
            with handler.open_batch() as batch:
                batch.apply(envelope)
    finally:
        engine.dispose()


def page(client, path: str, headers=HQ, **params) -> dict:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def ids(answer: dict, key: str) -> list[str]:
    return [item[key] for item in answer["items"]]


def every_page(client, path: str, key: str, headers=HQ, **params) -> list[str]:
    seen, cursor = [], None
    while True:
        answer = page(
            client, path, headers, limit=3, **params, **({"cursor": cursor} if cursor else {})
        )
        seen += ids(answer, key)
        cursor = answer["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def query(settings):
    apply(settings, story())
    with serving(query_process.build(settings, with_projectors=False)) as client:
        yield client


class TestOrders:
    def test_newest_first_with_total_and_position(self, query):
        answer = page(query, "/hq/orders")
        assert answer["total"] == 10
        assert ids(answer, "order_id")[:3] == ["order-10", "order-08", "order-06"]
        # Every event of each service the list shows, up to its last.
        assert answer["position"] == {"orders": 22, "inventory": 7, "finance": 7}
        first = {item["order_id"]: item for item in answer["items"]}["order-01"]
        assert first["status"] == "delivered" and first["total"] == "1299.00"
        assert first["dealer_name"] == "成都金樽酒业" and first["branch"] == "CD"

    def test_filters(self, query):
        def listed(**params):
            return sorted(ids(page(query, "/hq/orders", **params), "order_id"))

        statuses = {
            "delivered": ["order-01"],
            "partly_shipped": ["order-02"],
            "rejected": ["order-03"],
            "cancelled": ["order-04"],
            "credit_hold": ["order-05"],
            "awaiting_approval": ["order-06"],
            "placed": ["order-07", "order-08", "order-09", "order-10"],
            "approved": [],
        }
        for status, expected in statuses.items():
            assert listed(status=status) == expected, status
        assert listed(dealer="CD-002") == ["order-07", "order-08"]
        assert listed(branch="SH") == ["order-09", "order-10"]
        assert listed(region="EAST") == ["order-09", "order-10"]
        assert listed(date_from="2026-11-03", date_to="2026-11-04") == [
            "order-03",
            "order-04",
            "order-07",
        ]
        assert listed(q="ORDER-1") == ["order-10"]  # the number, any case
        assert listed(q="蜀香") == ["order-07", "order-08"]  # the dealer's name
        assert listed(q="%") == []  # a wildcard is a character like any other
        assert page(query, "/hq/orders", dealer="CD-002")["total"] == 2

    def test_pages_in_a_stable_order_without_duplicates_or_gaps(self, query):
        whole = ids(page(query, "/hq/orders", limit=200), "order_id")
        assert every_page(query, "/hq/orders", "order_id") == whole
        # Two orders on 3 Nov: ties broken by id, the same way on every page.
        assert whole.index("order-07") < whole.index("order-03")
        assert every_page(query, "/branches/CD/orders", "order_id", CHENGDU_CLERK) == [
            o for o in whole if o not in ("order-09", "order-10")
        ]

    def test_scoped_to_the_branch_and_the_dealer(self, query):
        branch = page(query, "/branches/CD/orders", CHENGDU_CLERK, branch="SH")
        assert branch["total"] == 8 and {i["branch"] for i in branch["items"]} == {"CD"}
        dealer = page(query, "/dealers/CD-001/orders", DEALER_CD001, dealer="CD-002")
        assert dealer["total"] == 6 and {i["dealer_code"] for i in dealer["items"]} == {"CD-001"}
        for path, headers in (
            ("/branches/CD/orders", SHANGHAI_CLERK),
            ("/dealers/CD-002/orders", DEALER_CD001),
            ("/hq/orders", CHENGDU_CLERK),
            ("/branches/CD/orders", WAREHOUSE_CLERK),
        ):
            refused = query.get(path, headers=headers)
            assert refused.status_code == 403, (path, refused.text)

    def test_bad_input_is_422(self, query):
        for params in (
            {"limit": 201},
            {"limit": 0},
            {"status": "lost"},
            {"dealer": "cd-001"},
            {"cursor": "bm90IGEgY3Vyc29y"},
            {"date_from": "2026-11"},
        ):
            response = query.get("/hq/orders", params=params, headers=HQ)
            assert response.status_code == 422, params
        cursor = page(query, "/hq/dealers", limit=1)["next_cursor"]
        foreign = query.get("/hq/orders", params={"cursor": cursor}, headers=HQ)
        assert foreign.status_code == 422 and foreign.json()["code"] == "invalid_cursor"


class TestDocuments:
    def test_invoices_and_shipments_name_each_other(self, query):
        shipments = {i["shipment_id"]: i for i in page(query, "/hq/shipments")["items"]}
        assert shipments["shipment-1"]["invoice_id"] == "invoice-1"
        assert shipments["shipment-1"]["invoice_number"] == "INV-2026-000001"
        assert shipments["shipment-1"]["status"] == "delivered"
        assert shipments["shipment-2"]["invoice_id"] is None
        assert ids(page(query, "/hq/shipments", invoiced=False), "shipment_id") == ["shipment-2"]
        [invoice] = page(query, "/dealers/CD-001/invoices", DEALER_CD001)["items"]
        assert invoice["shipment_id"] == "shipment-1" and invoice["order_id"] == "order-01"
        assert invoice["status"] == "settled" and invoice["open_amount"] == "0.00"
        assert page(query, "/hq/invoices", shipment_id="shipment-1")["total"] == 1

    def test_each_list_filtered_and_scoped(self, query):
        def listed(path, key, headers=HQ, **params):
            return sorted(ids(page(query, path, headers, **params), key))

        assert listed("/hq/receipts", "receipt_id") == ["receipt-1", "receipt-2"]
        assert listed("/branches/CD/receipts", "receipt_id", CHENGDU_CLERK) == ["receipt-1"]
        assert listed("/dealers/CD-001/receipts", "receipt_id", DEALER_CD001) == ["receipt-1"]
        assert listed("/hq/receipts", "receipt_id", region="EAST") == ["receipt-2"]
        assert listed("/hq/rebate-claims", "claim_id", status="rejected") == ["claim-2"]
        assert listed("/branches/SH/rebate-claims", "claim_id") == ["claim-2"]
        assert listed("/dealers/CD-001/rebate-claims", "claim_id", DEALER_CD001) == ["claim-1"]
        assert listed("/hq/returns", "return_id", status="approved") == ["return-1"]
        assert listed("/branches/SH/returns", "return_id") == []
        # A transfer belongs to both ends' branches; a stocktake to its warehouse's.
        assert listed("/branches/CD/transfers", "transfer_id", CHENGDU_CLERK) == ["transfer-1"]
        assert listed("/branches/SH/transfers", "transfer_id") == ["transfer-1"]
        assert listed("/hq/transfers", "transfer_id", status="received") == []
        assert listed("/branches/CD/stocktakes", "stocktake_id", CHENGDU_CLERK) == []
        assert listed("/hq/stocktakes", "stocktake_id", warehouse="WH-SH") == ["stocktake-1"]
        assert listed("/hq/credit-notes", "credit_note_id") == []
        assert listed("/dealers/CD-001/demand-plans/list", "plan_id", DEALER_CD001) == [
            "plan-CD-001"
        ]
        assert listed("/branches/SH/demand-plans/list", "plan_id") == []
        assert listed("/branches/CD/dealers", "dealer_code", CHENGDU_CLERK) == ["CD-001", "CD-002"]
        assert listed("/hq/dealers", "dealer_code", q="浦江") == ["SH-001"]
        assert listed("/dealers/CD-001/products", "sku", DEALER_CD001, q="剑南春") == [JIANNANCHUN]
        assert listed("/branches/SH/warehouses", "code") == ["WH-SH"]


class TestAWarehouse:
    """What touches one warehouse, for its clerk (who reads nothing else), its branch and HQ:
    the orders whose stock it holds (to ship), shipments, returns, transfers at either end,
    stocktakes."""

    @pytest.fixture
    def query(self, settings):
        reserved = [
            (
                f"reservation-{n:02}",
                inventory_events.StockReserved(
                    order_id=f"order-{n:02}",
                    warehouse_code=warehouse,
                    lines=[Line(sku=WULIANGYE, quantity=n)],
                ),
            )
            for n, warehouse in ((1, "WH-CD"), (2, "WH-CD"), (6, "WH-CD"), (9, "WH-SH"))
        ]
        apply(settings, published(story_events() + reserved))
        with serving(query_process.build(settings, with_projectors=False)) as client:
            yield client

    def test_its_clerk_sees_what_touches_it(self, query):
        def listed(name, key, headers=WAREHOUSE_CLERK, **params):
            path = f"/branches/CD/warehouses/WH-CD/{name}"
            return sorted(ids(page(query, path, headers, **params), key))

        assert listed("orders", "order_id") == ["order-01", "order-02", "order-06"]
        # To ship: approved or partly shipped orders whose stock it holds.
        assert listed("orders", "order_id", status="partly_shipped") == ["order-02"]
        assert listed("shipments", "shipment_id") == ["shipment-1", "shipment-2"]
        assert listed("returns", "return_id") == ["return-1"]
        assert listed("transfers", "transfer_id") == ["transfer-1"]  # it receives it
        assert listed("stocktakes", "stocktake_id") == []
        # Its branch and HQ read the same; an order names its warehouse in every list.
        assert listed("orders", "order_id", CHENGDU_CLERK) == ["order-01", "order-02", "order-06"]
        orders = {o["order_id"]: o for o in page(query, "/hq/orders", limit=200)["items"]}
        assert orders["order-09"]["warehouse_code"] == "WH-SH"
        assert orders["order-10"]["warehouse_code"] is None
        assert sorted(ids(page(query, "/hq/orders", warehouse="WH-SH"), "order_id")) == ["order-09"]
        stocktakes = page(query, "/branches/SH/warehouses/WH-SH/stocktakes", HQ)
        assert ids(stocktakes, "stocktake_id") == ["stocktake-1"]

    def test_no_one_else_reads_it_and_its_clerk_reads_nothing_else(self, query):
        for path, headers, status in (
            ("/branches/SH/warehouses/WH-SH/orders", WAREHOUSE_CLERK, 403),
            ("/branches/CD/warehouses/WH-CD/orders", SHANGHAI_CLERK, 403),
            ("/branches/CD/warehouses/WH-CD/shipments", DEALER_CD001, 403),
            # A warehouse under a branch it is not in.
            ("/branches/SH/warehouses/WH-CD/orders", WAREHOUSE_CLERK, 404),
            ("/branches/CD/warehouses/WH-SH/orders", HQ, 404),
            # Money is not the warehouse's.
            ("/branches/CD/warehouses/WH-CD/invoices", WAREHOUSE_CLERK, 404),
            ("/branches/CD/receipts", WAREHOUSE_CLERK, 403),
        ):
            refused = query.get(path, headers=headers)
            assert refused.status_code == status, (path, refused.text)
            assert "items" not in refused.json()


def test_min_position_waits_for_the_read_model(settings):
    envelopes = story()
    later = published(
        [
            (
                f"dealer-{c}",
                orders_events.DealerRegistered(
                    dealer_id=f"d-{c}",
                    dealer_code=c,
                    name="重庆",
                    branch="CQ",
                    region="SOUTHWEST",
                    grade="tier2_distributor",
                ),
            )
            for c in ("CQ-001",)
        ]
    )
    settings = settings.model_copy(update={"read_your_writes_timeout_s": 1})
    apply(settings, envelopes)
    with serving(query_process.build(settings, with_projectors=False)) as query:
        behind = query.get("/hq/dealers", params={"min_position": "orders:23"}, headers=HQ)
        assert behind.status_code == 503 and behind.headers["Retry-After"] == "1"
        # The next orders event (position 23), as the relay would publish it.
        next_event = later[0].model_copy(
            update={"position": 23, "previousposition": 22, "id": event_id("orders", 23)}
        )
        apply(settings, [next_event])
        answer = page(query, "/hq/dealers", min_position="orders:23")
        assert "CQ-001" in ids(answer, "dealer_code") and answer["position"] == {"orders": 23}


def test_the_same_rows_in_any_arrival_order(settings):
    """What a rebuild relies on: partitions deliver the three topics' events interleaved."""
    envelopes = story()
    tables = [t for t in lists.metadata.sorted_tables]

    def rows(schema: str) -> dict[str, list[tuple]]:
        engine = projections_engine(settings, schema, pool_size=1)
        try:
            with engine.connect() as conn:
                return {
                    t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
                    for t in tables
                }
        finally:
            engine.dispose()

    apply(settings, envelopes, "in_order")
    expected = rows("in_order")
    assert len(expected["list_orders"]) == 10 and len(expected["list_invoices"]) == 1
    for seed in range(3):
        shuffled = list(envelopes)
        random.Random(seed).shuffle(shuffled)
        schema = f"shuffled_{seed}"
        apply(settings, shuffled, schema)
        assert rows(schema) == expected, seed
    engine = projections_engine(settings, "in_order", pool_size=1)
    with engine.begin() as conn:
        for schema in ("in_order", *(f"shuffled_{s}" for s in range(3))):
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_a_command_s_position_shows_in_the_lists_of_the_running_platform(settings):
    """The live projector on the real services' topics: a command's `position` as
    `min_position` shows its document in the next list page; the invoice the shipment led to
    names the shipment and the shipment names it."""
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.receive(WULIANGYE, 20)
        company.credit_terms("CD-001", "100000.00", days=30)
        placed_order = company.place({WULIANGYE: 6})
        order_id = placed_order["order_id"]
        mine = page(
            query,
            "/dealers/CD-001/orders",
            DEALER_CD001,
            **{"min_position": placed_order["position"]},
        )
        assert order_id in ids(mine, "order_id")
        assert mine["position"]["orders"] >= int(placed_order["position"].split(":")[1])

        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        shipment = ok(company.ship(order_id, {WULIANGYE: 6}, ship_date="2026-11-21"))
        shipped_list = page(
            query, "/branches/CD/shipments", CHENGDU_CLERK, min_position=shipment["position"]
        )
        assert ids(shipped_list, "shipment_id") == [shipment["shipment_id"]]

        def invoiced() -> dict | None:
            items = page(query, "/hq/invoices", order_id=order_id)["items"]
            return items[0] if items else None

        invoice = wait_until(invoiced, timeout=45, what="the invoice in the list")
        assert invoice["shipment_id"] == shipment["shipment_id"]
        assert invoice["total"] == "7794.00" and invoice["status"] == "open"
        [listed] = wait_until(
            lambda: [s for s in page(query, "/hq/shipments")["items"] if s["invoice_id"]],
            timeout=45,
            what="the shipment's invoice",
        )
        assert listed["invoice_id"] == invoice["invoice_id"]
        assert listed["invoice_number"] == invoice["invoice_number"]
        order = page(query, "/hq/orders", q=order_id[:8])["items"][0]
        assert order["order_id"] == order_id and order["status"] == "shipped"
