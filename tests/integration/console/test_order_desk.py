"""The branch workbench's order desk in a real browser: the order form's price preview (the
orders API's quote, and the credit and stock answer from the query API) equals what the order
is then booked at, to the fen; the queue shows orders on credit hold and awaiting a branch
manager's approval, in the user's language, with the decisions each role may take (a credit
controller's override, a manager's approval), and a refusal's error on the page."""

from __future__ import annotations

import uuid
from decimal import Decimal

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


def fill_order(page, dealer: str, quantity: str) -> None:
    page.goto("/orders/new")
    page.get_by_label("经销商").fill(dealer)
    page.get_by_label("产品编码 1").fill(WULIANGYE)
    page.get_by_label("数量 1").fill(quantity)


def preview_rows(page) -> list[dict[str, str]]:
    rows = page.locator("#preview-lines tbody tr")
    return [
        {
            "sku": row.get_attribute("data-sku"),
            "gift": "gift" in (row.get_attribute("class") or ""),
            "cells": [cell.inner_text().strip() for cell in row.locator("td").all()],
        }
        for row in rows.all()
    ]


def booked_as_shown(order: dict) -> list[dict]:
    """The order's lines as the preview shows them (money as ¥1,234.56)."""
    return [
        {
            "sku": line["sku"],
            "gift": line["gift"],
            "cells": [
                yuan(line["list_unit_price"]),
                yuan(line["unit_price"]),
                yuan(line["discount"]),
                yuan(line["amount"]),
            ],
        }
        for line in order["lines"]
    ]


def shown_money(rows: list[dict]) -> list[dict]:
    # Columns: SKU, quantity, grade price, unit price, discount, promotion, amount, stock.
    return [
        {"sku": r["sku"], "gift": r["gift"], "cells": [r["cells"][i] for i in (2, 3, 4, 6)]}
        for r in rows
    ]


def orders_of(platform, username: str, **params) -> list[dict]:
    answer = platform["query"].get(
        "/hq/orders", params={"limit": 200, **params}, headers=token_of(platform, "hq.admin")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def new_order(platform, known: set[str]) -> str:
    def fresh():
        ids = [o["order_id"] for o in orders_of(platform, "hq.admin") if o["order_id"] not in known]
        return ids[0] if ids else None

    return wait_until(fresh, timeout=30, what="the new order in the list")


def in_queue(page, order_id: str, status: str) -> bool:
    page.goto("/orders/queue")
    row = page.locator(f"tr[data-order-id='{order_id}']")
    return row.count() == 1 and row.get_attribute("data-status") == status


def test_the_clerk_sees_the_preview_the_order_is_then_booked_at(browser, page, platform):
    clerk = token_of(platform, "cd.clerk")

    def stock_at_chengdu() -> list[dict]:
        params = {"warehouse": "WH-CD", "sku": WULIANGYE}
        answer = platform["query"].get("/branches/CD/inventory", params=params, headers=clerk)
        return answer.json()["items"]

    # The demo company's stock, as the read models have it once they caught up with seeding.
    wait_until(stock_at_chengdu, what="the Chengdu warehouse's stock in the query API")
    wait_until(
        lambda: (
            platform["query"]
            .get("/branches/CD/warehouses", params={"kind": "branch"}, headers=clerk)
            .json()["items"]
        ),
        what="the Chengdu warehouse in the lists",
    )
    sign_in(page, "cd.clerk")
    # With script: the preview follows the lines as they are typed. 12 bottles of Wuliangye
    # for a tier-1 dealer: ¥1,199.00 less 3 % (NONGXIANG-3PCT), and one free (SPRING-WLY-10-1).
    fill_order(page, "CD-001", "12")
    page.locator("#preview-total").wait_for()
    wait_until(lambda: len(preview_rows(page)) == 2, timeout=15, what="the gift line")
    with_script = preview_rows(page)
    assert [r["gift"] for r in with_script] == [False, True]
    assert "SPRING-WLY-10-1" in with_script[1]["cells"][5]
    assert "NONGXIANG-3PCT" in with_script[0]["cells"][5]
    total_shown = page.locator("#preview-total").inner_text()
    # 12 x ¥1,163.03 (1,199.00 less 3 %, to the fen); the gift at zero.
    assert total_shown == "¥13,956.36"

    # The credit and stock answer as the query API stands for this user.
    statement = platform["query"].get("/dealers/CD-001/statement", headers=clerk).json()
    available = Decimal(statement["credit_limit"]) - Decimal(statement["exposure"])
    assert page.locator("#preview-available").inner_text() == yuan(available)
    assert page.locator("#preview-credit").get_attribute("data-within") == "true"
    stock = stock_at_chengdu()
    assert [r["cells"][7] for r in with_script] == [str(stock[0]["available"])] * 2

    # Without script: the "preview" button renders the same preview server-side.
    bare = browser.new_context(base_url=platform["console"], java_script_enabled=False)
    no_script = bare.new_page()
    sign_in(no_script, "cd.clerk")
    fill_order(no_script, "CD-001", "12")
    no_script.get_by_role("button", name="价格预览").click()
    no_script.wait_for_load_state()
    assert preview_rows(no_script) == with_script
    assert no_script.locator("#preview-total").inner_text() == total_shown
    # The form kept what was typed; placing it books exactly what the preview showed.
    assert no_script.get_by_label("数量 1").input_value() == "12"
    known = {o["order_id"] for o in orders_of(platform, "hq.admin")}
    no_script.get_by_role("button", name="提交订单").click()
    no_script.wait_for_load_state()
    bare.close()
    order_id = new_order(platform, known)
    booked = platform["orders"].get(f"/orders/{order_id}", headers=clerk).json()
    assert booked_as_shown(booked) == shown_money(with_script)
    assert yuan(booked["total"]) == total_shown
    assert booked["promotions"] == ["NONGXIANG-3PCT", "SPRING-WLY-10-1"]

    # A SKU the API does not know: the preview says so, and nothing is placed.
    page.get_by_label("产品编码 1").fill("MAOTAI-53-500ML")
    page.locator("#preview-error").wait_for()
    assert "MAOTAI-53-500ML" in page.locator("#preview-error").inner_text()


def test_a_held_order_is_overridden_by_the_credit_controller_and_approved(browser, page, platform):
    # CD-004 buys as a group-buy customer with a ¥100,000.00 limit: 90 bottles at the list
    # price less 3 % (¥113,402.70) are over it, and over the approval threshold too.
    sign_in(page, "cd.clerk")
    fill_order(page, "CD-004", "90")
    page.locator("#preview-credit[data-within='false']").wait_for()
    known = {o["order_id"] for o in orders_of(platform, "hq.admin")}
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_load_state()
    order_id = new_order(platform, known)

    manager = browser.new_context(base_url=platform["console"]).new_page()
    sign_in(manager, "cd.manager")
    wait_until(lambda: in_queue(manager, order_id, "credit_hold"), what="the credit hold")
    row = manager.locator(f"tr[data-order-id='{order_id}']")
    assert row.locator("td.status").inner_text() == "信用冻结"
    # Only a credit controller may override credit: the manager has no such button.
    assert row.get_by_role("button", name="信用放行").count() == 0

    controller = browser.new_context(base_url=platform["console"]).new_page()
    sign_in(controller, "credit.controller")
    wait_until(lambda: in_queue(controller, order_id, "credit_hold"), what="HQ's queue")
    controller.locator(f"tr[data-order-id='{order_id}']").get_by_role(
        "button", name="信用放行"
    ).click()
    controller.wait_for_load_state()
    assert "/orders/queue" in controller.url
    # Overridden, and above the threshold: it now waits for the branch manager.
    wait_until(lambda: in_queue(manager, order_id, "awaiting_approval"), what="awaiting approval")
    row = manager.locator(f"tr[data-order-id='{order_id}']")
    assert row.locator("td.status").inner_text() == "待经理审批"
    row.get_by_role("button", name="批准").click()
    manager.wait_for_load_state()
    booked = (
        platform["orders"].get(f"/orders/{order_id}", headers=token_of(platform, "hq.admin")).json()
    )
    assert booked["status"] == "approved" and booked["credit_override"] is True
    assert booked["manager_approval"] is True
    controller.context.close()
    manager.context.close()


def test_an_order_above_the_threshold_awaits_the_managers_approval(browser, page, platform):
    sign_in(page, "cd.clerk")
    fill_order(page, "CD-001", "100")  # 100 x ¥1,163.03 > ¥100,000.00
    page.locator("#preview-total").wait_for()
    known = {o["order_id"] for o in orders_of(platform, "hq.admin")}
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_load_state()
    order_id = new_order(platform, known)
    listed = wait_until(
        lambda: [
            o
            for o in orders_of(platform, "hq.admin", status="awaiting_approval")
            if o["order_id"] == order_id
        ],
        what="awaiting_approval in the query API's list",
    )
    assert listed[0]["status"] == "awaiting_approval"

    manager = browser.new_context(base_url=platform["console"]).new_page()
    sign_in(manager, "cd.manager")
    wait_until(lambda: in_queue(manager, order_id, "awaiting_approval"), what="the queue")
    row = manager.locator(f"tr[data-order-id='{order_id}']")
    assert row.locator("td.status").inner_text() == "待经理审批"
    manager.goto("/orders/queue?lang=en")
    assert (
        manager.locator(f"tr[data-order-id='{order_id}'] td.status").inner_text()
        == "Awaiting approval"
    )
    manager.goto("/orders/queue?lang=zh")
    # Rejecting needs a reason: the API's 422 is shown by the order, nothing changes.
    row = manager.locator(f"tr[data-order-id='{order_id}']")
    row.get_by_role("button", name="驳回").click()
    manager.wait_for_load_state()
    refusal = manager.locator(f"tr[data-refused-order='{order_id}']")
    assert refusal.is_visible() and "驳回" in refusal.inner_text()
    manager.locator(f"tr[data-order-id='{order_id}']").get_by_role("button", name="批准").click()
    manager.wait_for_load_state()
    assert "/orders/queue" in manager.url
    booked = (
        platform["orders"]
        .get(f"/orders/{order_id}", headers=token_of(platform, "cd.manager"))
        .json()
    )
    assert booked["status"] == "approved" and booked["manager_approval"] is True
    manager.context.close()


def test_axe_finds_no_serious_violations_on_the_preview_and_the_queue(
    browser, platform, axe_source
):
    # An order on credit hold, so that the queue has a row with its decisions.
    held = platform["orders"].post(
        "/orders",
        json={"dealer_code": "CD-004", "lines": [{"sku": WULIANGYE, "quantity": 80}]},
        headers={**token_of(platform, "cd.clerk"), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert held.status_code == 201, held.text
    order_id = held.json()["order_id"]
    for username in ("cd.clerk", "cd.manager", "credit.controller"):
        context = browser.new_context(base_url=platform["console"], bypass_csp=True)
        page = context.new_page()
        sign_in(page, username)
        wait_until(lambda page=page: in_queue(page, order_id, "credit_hold"), what="the held order")
        assert serious_violations(page, axe_source) == [], f"{username} /orders/queue"
        if username == "cd.clerk":
            fill_order(page, "CD-001", "12")
            page.get_by_role("button", name="价格预览").click()
            page.wait_for_load_state()
            page.locator("#preview-total").wait_for()
            assert serious_violations(page, axe_source) == [], "the order form's preview"
        context.close()
