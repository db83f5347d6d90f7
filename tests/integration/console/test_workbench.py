"""The branch workbench beyond orders, in a real browser (headless Chromium, Playwright):
shipments to dispatch and delivery, receipts and credit notes, returns, the branch's
dealers and their statements, and the warehouse clerk's home. What the pages show is
compared with what the APIs answer the same user; forms with bad input write nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from console.i18n import yuan
from tests.integration.console.support import (
    BROWSER_TESTS,
    WULIANGYE,
    serious_violations,
    sign_in,
    token_of,
)
from tests.platform import wait_until

pytestmark = BROWSER_TESTS


def command(platform, service: str, path: str, body: dict, username: str) -> dict:
    headers = {**token_of(platform, username), "Idempotency-Key": str(uuid.uuid4())}
    answer = platform[service].post(path, json=body, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json()


def listed(platform, path: str, username: str = "hq.admin", **params) -> dict:
    answer = platform["query"].get(path, params=params, headers=token_of(platform, username))
    assert answer.status_code == 200, answer.text
    return answer.json()


def approved_order(platform, bottles: int = 6, dealer: str = "CD-001") -> str:
    """An order of the Chengdu clerk for a Chengdu dealer, placed through the API and
    approved."""
    placed = command(
        platform,
        "orders",
        "/orders",
        {"dealer_code": dealer, "lines": [{"sku": WULIANGYE, "quantity": bottles}]},
        "cd.clerk",
    )
    order_id = placed["order_id"]

    def approved():
        items = listed(platform, "/hq/orders", q=order_id)["items"]
        return items and items[0]["status"] == "approved" and items[0]["warehouse_code"]

    wait_until(approved, timeout=30, what="the order approved, its stock at a warehouse")
    return order_id


def shipped_order(platform, bottles: int = 6, dealer: str = "CD-001") -> tuple[str, str]:
    """An order shipped in full by the Chengdu warehouse, through the APIs: its id and the
    shipment's."""
    order_id = approved_order(platform, bottles, dealer)
    lines = [{"sku": WULIANGYE, "quantity": bottles}]
    shipped = command(
        platform, "inventory", "/shipments", {"order_id": order_id, "lines": lines}, "cd.warehouse"
    )
    return order_id, shipped["shipment_id"]


def delivered_order(platform, bottles: int = 6) -> str:
    """An order shipped and confirmed delivered, through the APIs."""
    order_id, shipment_id = shipped_order(platform, bottles)
    command(platform, "inventory", f"/shipments/{shipment_id}/delivery", {}, "cd.clerk")
    return order_id


def statement(platform, dealer: str, username: str, **params) -> dict:
    answer = platform["query"].get(
        f"/dealers/{dealer}/statement", params=params, headers=token_of(platform, username)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown_money(page, table: str, field: str) -> tuple[str, str]:
    cell = page.locator(f"#{table} td[data-field='{field}']")
    return cell.get_attribute("data-value"), cell.inner_text()


class TestReceipts:
    def test_a_clerk_records_a_receipt_and_the_statement_falls_by_it_to_the_fen(
        self, page, platform
    ):
        before = statement(platform, "CD-001", "cd.clerk")
        sign_in(page, "cd.clerk")
        page.goto("/dealers")
        page.get_by_label("按编码或名称搜索经销商").fill("CD-001")
        page.get_by_role("button", name="搜索").click()
        page.locator("tr[data-dealer='CD-001']").get_by_role("link", name="对账单").click()
        page.get_by_role("link", name="登记回款").click()
        assert page.get_by_label("经销商").input_value() == "CD-001"
        page.get_by_label("金额").fill("1234.56")
        page.get_by_role("button", name="登记回款").click()
        page.wait_for_load_state()
        # The list is read at the command's position: the receipt is there, marked.
        assert "min_position=finance" in page.url
        row = page.locator("#receipts tr[aria-current='true']")
        assert row.get_attribute("data-dealer") == "CD-001"
        assert row.locator("td.money").first.inner_text() == "¥1,234.56"
        row.get_by_role("link", name="对账单").click()
        page.wait_for_load_state()
        [position] = parse_qs(urlparse(page.url).query)["min_position"]
        after = statement(platform, "CD-001", "cd.clerk", min_position=position)
        assert Decimal(after["received"]) - Decimal(before["received"]) == Decimal("1234.56")
        assert after["invoiced"] == before["invoiced"] and after["credited"] == before["credited"]
        fall = Decimal(before["receivables"]) - Decimal(after["receivables"])
        assert fall == Decimal("1234.56")
        value, text = shown_money(page, "statement", "receivables")
        assert value == after["receivables"] and text == yuan(after["receivables"])
        for bucket, amount in after["aging"].items():
            assert shown_money(page, "aging", bucket) == (amount, yuan(amount)), bucket
        # The buckets are the dealer's row of the branch's receivables aging.
        [aging] = listed(
            platform, "/branches/CD/receivables/aging", "cd.clerk", by="dealer", dealer="CD-001"
        )["items"]
        assert {k: v for k, v in aging.items() if k != "dealer"} == after["aging"]

    def test_a_bad_form_shows_the_apis_error_by_the_field_and_writes_nothing(self, page, platform):
        account = (
            platform["finance"]
            .get("/accounts/CD-001", headers=token_of(platform, "cd.clerk"))
            .json()
        )
        receipts = listed(platform, "/hq/receipts")["total"]
        sign_in(page, "cd.clerk")
        page.goto("/receipts/new")
        page.get_by_label("经销商").fill("CD-001")
        page.get_by_label("金额").fill("12.345")  # not to the fen
        page.get_by_role("button", name="登记回款").click()
        page.wait_for_load_state()
        assert page.locator("#amount-error").is_visible()
        assert page.get_by_label("金额").get_attribute("aria-invalid") == "true"
        assert page.get_by_label("金额").input_value() == "12.345"
        # A dealer the API does not know: the error stands by the dealer.
        page.get_by_label("经销商").fill("CD-999")
        page.get_by_label("金额").fill("100.00")
        page.get_by_role("button", name="登记回款").click()
        page.wait_for_load_state()
        assert page.locator("#dealer_code-error").is_visible()
        assert not page.locator("#amount-error").count()
        # Nothing was written: the account (write side) and the list are as they were.
        again = (
            platform["finance"]
            .get("/accounts/CD-001", headers=token_of(platform, "cd.clerk"))
            .json()
        )
        assert again["receivables"] == account["receivables"]
        assert listed(platform, "/hq/receipts")["total"] == receipts

    def test_credit_notes_are_issued_by_credit_control_from_the_statement(self, page, platform):
        sign_in(page, "credit.controller")
        page.goto("/dealers/CD-001/statement")
        invoice = page.locator("#open-invoices tr[data-invoice]").first
        number = invoice.get_attribute("data-invoice")
        invoice.get_by_role("link", name="开具红字发票").click()
        page.get_by_label("金额").fill("10.00")
        page.get_by_label("原因").fill("破损补偿")
        page.get_by_role("button", name="开具红字发票").click()
        page.wait_for_load_state()
        row = page.locator("#credit-notes tr[aria-current='true']")
        assert row.get_attribute("data-dealer") == "CD-001"
        assert row.locator("td.money").inner_text() == "¥10.00"
        issued = listed(platform, "/hq/credit-notes", q=row.get_attribute("data-credit-note-id"))
        [note] = issued["items"]
        assert note["amount"] == "10.00" and note["reason"] == "破损补偿"
        assert number  # the invoice it credits was one of the dealer's open invoices


class TestShipments:
    def test_the_warehouse_dispatches_an_approved_order_and_the_branch_confirms_delivery(
        self, browser, page, platform
    ):
        order_id = approved_order(platform)
        sign_in(page, "cd.warehouse")
        assert page.url.endswith("/warehouse")
        row = page.locator(f"#to-dispatch tr[data-order-id='{order_id}']")
        assert row.get_attribute("data-status") == "approved"
        assert "已批准" in row.inner_text()
        row.get_by_role("link", name="发货").click()
        page.wait_for_load_state()
        assert page.get_by_label(f"本次发货数量 {WULIANGYE}").input_value() == "6"
        page.get_by_role("button", name="发货").click()
        page.wait_for_load_state()
        shipped = page.locator("#shipments tr[aria-current='true']")
        shipment_id = shipped.get_attribute("data-shipment-id")
        assert shipped.get_attribute("data-order-id") == order_id
        assert shipped.get_attribute("data-status") == "dispatched"
        assert "已出库" in shipped.inner_text()
        # The warehouse clerk may not confirm delivery: no button.
        assert shipped.get_by_role("button", name="确认签收").count() == 0

        clerk = browser.new_context(base_url=platform["console"]).new_page()
        sign_in(clerk, "cd.clerk")
        clerk.goto("/shipments?status=dispatched")
        mine = clerk.locator(f"#shipments tr[data-shipment-id='{shipment_id}']")
        mine.get_by_role("button", name="确认签收").click()
        clerk.wait_for_load_state()
        delivered = clerk.locator(f"#shipments tr[data-shipment-id='{shipment_id}']")
        assert delivered.get_attribute("data-status") == "delivered"
        assert delivered.get_attribute("aria-current") == "true"

        # The shipment's page: its lines and, once finance issued it, its invoice.
        def invoiced():
            clerk.goto(f"/shipments/{shipment_id}")
            return clerk.locator("#shipment-invoice tr[data-invoice]").count() == 1

        wait_until(invoiced, timeout=30, what="the shipment's invoice")
        line = clerk.locator(f"#shipment-lines tr[data-sku='{WULIANGYE}']")
        assert line.locator("td").nth(1).inner_text() == "6"
        [invoice] = listed(platform, "/branches/CD/invoices", "cd.clerk", shipment_id=shipment_id)[
            "items"
        ]
        assert invoice["order_id"] == order_id
        shown = clerk.locator("#shipment-invoice tr[data-invoice]")
        assert shown.get_attribute("data-invoice") == invoice["invoice_number"]
        assert shown.locator("td.money").first.inner_text() == yuan(invoice["total"])
        [listed_shipment] = listed(platform, "/hq/shipments", q=shipment_id)["items"]
        assert listed_shipment["invoice_number"] == invoice["invoice_number"]
        clerk.context.close()


class TestReturns:
    def test_a_return_is_requested_approved_and_received_by_the_warehouse(
        self, browser, page, platform
    ):
        order_id = delivered_order(platform)
        sign_in(page, "cd.clerk")
        page.goto(f"/returns/new?order_id={order_id}")
        page.get_by_label("产品编码 1").fill(WULIANGYE)
        page.get_by_label("数量 1").fill("2")
        page.get_by_label("原因").fill("两瓶封口破损")
        page.get_by_role("button", name="申请退货").click()
        page.wait_for_load_state()
        assert page.locator("#return").get_attribute("data-status") == "requested"
        return_url = page.url
        return_id = return_url.rsplit("/", 1)[1]
        # A clerk may not decide it.
        assert page.get_by_role("button", name="批准").count() == 0

        manager = browser.new_context(base_url=platform["console"]).new_page()
        sign_in(manager, "cd.manager")
        manager.goto(return_url)
        manager.get_by_role("button", name="批准").click()
        manager.wait_for_load_state()
        row = manager.locator(f"#returns tr[data-return-id='{return_id}']")
        assert row.get_attribute("data-status") == "approved"
        assert row.get_attribute("aria-current") == "true"
        manager.context.close()

        warehouse = browser.new_context(base_url=platform["console"]).new_page()
        sign_in(warehouse, "cd.warehouse")

        def to_receive():
            warehouse.goto("/warehouse")
            return warehouse.locator(f"#returns-to-receive tr[data-return-id='{return_id}']")

        wait_until(lambda: to_receive().count() == 1, timeout=30, what="the return to receive")
        to_receive().get_by_role("link", name="退货入库").click()

        def expected():  # inventory hears of the approval from the orders topic
            warehouse.reload()
            return warehouse.get_by_label(f"完好 {WULIANGYE}").count() == 1

        wait_until(expected, timeout=30, what="inventory expecting the return")
        warehouse.get_by_label(f"完好 {WULIANGYE}").fill("1")
        warehouse.get_by_label(f"残损 {WULIANGYE}").fill("1")
        warehouse.get_by_role("button", name="退货入库").click()
        warehouse.wait_for_load_state()
        received = warehouse.locator(f"#returns tr[data-return-id='{return_id}']")
        assert received.get_attribute("data-status") == "received"
        assert "1 / 1" in received.inner_text()
        warehouse.context.close()


class TestScope:
    def test_a_dealer_cannot_open_another_dealers_pages(self, page, platform):
        _, shipment_id = shipped_order(platform, 1, dealer="CD-002")
        foreign = {"shipment_id": shipment_id, "dealer_code": "CD-002"}
        sign_in(page, "dealer.cd001")
        for path in ("/dealers/CD-002/statement", f"/shipments/{foreign['shipment_id']}"):
            response = page.goto(path)
            assert response.status == 403, path
            assert page.locator("#forbidden").is_visible(), path
            main = page.locator("main").inner_text()
            assert "CD-002" not in main and foreign["dealer_code"] not in main, path
            assert foreign["shipment_id"][:8] not in main, path
        # The branch's dealers are not a dealer's to list.
        page.goto("/dealers")
        assert page.locator("#forbidden").is_visible() and page.locator("#dealers").count() == 0
        # Its own lists hold its own documents only.
        page.goto("/shipments")
        dealers = {
            r.get_attribute("data-shipment-id") for r in page.locator("#shipments tr").all()
        } - {None}
        mine = {
            s["shipment_id"] for s in listed(platform, "/hq/shipments", dealer="CD-001")["items"]
        }
        assert dealers <= mine


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        (
            "cd.clerk",
            [
                "/shipments",
                "/shipments/to-dispatch",
                "/receipts",
                "/receipts/new",
                "/credit-notes",
                "/returns",
                "/returns/new",
                "/dealers",
            ],
        ),
        ("cd.warehouse", ["/warehouse", "/shipments"]),
        ("credit.controller", ["/credit-notes/new", "/dealers/CD-001/statement"]),
        ("dealer.cd001", ["/shipments", "/returns"]),
    ],
)
def test_axe_finds_no_serious_violations_on_the_workbench_pages(
    browser, platform, axe_source, username, paths
):
    context = browser.new_context(base_url=platform["console"], bypass_csp=True)
    page = context.new_page()
    sign_in(page, username)
    for path in paths:
        page.goto(path)
        assert serious_violations(page, axe_source) == [], path
    # A shipment's page and a return's, where the list has one.
    page.goto("/shipments")
    link = page.locator("#shipments td a").first
    if link.count():
        link.click()
        page.wait_for_load_state()
        assert serious_violations(page, axe_source) == [], page.url
    context.close()
