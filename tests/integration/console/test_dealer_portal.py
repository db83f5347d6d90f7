"""The dealer portal in a real browser: a dealer's rebate pool and claims, its demand plan
(submit, revise, and the reason when its branch returns it), and the branch's decisions.
What the pages show is compared with what the query API answers the same user, to the fen."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from runtime.demo import Seeder
from services.finance.domain import Invoice
from services.kernel.dates import business_today
from tests.integration.console.support import (
    BROWSER_TESTS,
    WULIANGYE,
    serious_violations,
    sign_in,
    token_of,
)

pytestmark = BROWSER_TESTS

DEALER = "CD-001"
JIANNANCHUN = "JIANNANCHUN-52-500ML"


@pytest.fixture(scope="module")
def settled_pool(platform) -> Decimal:
    """Rebate CD-001 may claim: a 1 % policy of its own over last month, an order invoiced
    in that month, and the policy settled (the demo's own pool is claimed and credited)."""
    seeder = Seeder(
        {
            name: str(platform[name].base_url).rstrip("/")
            for name in ("orders", "inventory", "finance")
        },
        "demo-hq-admin",
    )
    end = business_today().replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    policy = {
        "policy_code": f"CD001-PORTAL-{start:%Y-%m}",
        "dealer_code": DEALER,
        "rate": "0.0100",
        "valid_from": start.isoformat(),
        "valid_to": end.isoformat(),
    }
    seeder.post("finance", "/rebate-policies", policy, "portal-policy")
    shipped_on = (start + timedelta(days=20)).isoformat()
    lines = [{"sku": WULIANGYE, "quantity": 6}]
    order = seeder.post(
        "orders",
        "/orders",
        {"dealer_code": DEALER, "business_date": shipped_on, "lines": lines},
        "portal-order",
    )
    order_id = order["order_id"]
    seeder.wait_for("inventory", f"/stock/reservations/{order_id}", "status", {"approved"})
    shipment = seeder.post(
        "inventory",
        "/shipments",
        {"order_id": order_id, "ship_date": shipped_on, "lines": lines},
        "portal-shipment",
    )
    invoice_id = Invoice.create_id(shipment["shipment_id"])
    seeder.wait_for("finance", f"/invoices/{invoice_id}", "issue_date", {shipped_on})
    settled = seeder.post(
        "finance",
        f"/rebate-policies/{policy['policy_code']}/settlements",
        {"dealer_code": DEALER},
        "portal-settlement",
    )
    seeder.close()
    assert Decimal(settled["total"]) > 0, settled
    return Decimal(settled["total"])


def statement_pool(platform, username: str = "dealer.cd001") -> dict:
    answer = platform["query"].get(
        f"/dealers/{DEALER}/statement", headers=token_of(platform, username)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["rebate_pool"]


def claims_in_store(platform) -> list[dict]:
    answer = platform["query"].get(
        f"/dealers/{DEALER}/rebate-claims?limit=200", headers=token_of(platform, "dealer.cd001")
    )
    return answer.json()["items"]


def shown_pool(page) -> dict[str, str]:
    return {
        cell.get_attribute("data-field"): cell.get_attribute("data-value")
        for cell in page.locator("#rebate-pool td[data-field]").all()
    }


def test_a_dealer_claims_rebate_and_sees_it_listed_with_the_pool_reduced(
    browser, page, platform, settled_pool
):
    sign_in(page, "dealer.cd001")
    page.get_by_role("link", name="返利").click()
    page.wait_for_load_state()
    before = shown_pool(page)
    assert before == statement_pool(platform)
    assert Decimal(before["available"]) >= settled_pool
    # Per policy, as the statement's rebates say.
    assert (
        page.locator(
            f"#rebates-by-policy tr[data-policy='CD001-PORTAL-"
            f"{(business_today().replace(day=1) - timedelta(days=1)):%Y-%m}']"
        ).count()
        == 1
    )

    amount = (settled_pool / 2).quantize(Decimal("0.01"))
    page.get_by_label("申请金额").fill(str(amount))
    page.get_by_label("备注").fill("portal claim")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    assert "min_position=finance" in page.url
    just = page.locator("#claims tr.just-placed")
    assert just.get_attribute("data-status") == "filed"
    assert Decimal(just.get_attribute("data-amount")) == amount
    after = shown_pool(page)
    assert Decimal(after["available"]) == Decimal(before["available"]) - amount
    assert Decimal(after["claimed"]) == Decimal(before["claimed"]) + amount
    assert after == statement_pool(platform)  # the query API's, to the fen

    # The Chengdu manager sees the claim among its dealers' and approves it: credited.
    context = browser.new_context(base_url=platform["console"], locale="zh-CN")
    manager = context.new_page()
    sign_in(manager, "cd.manager")
    manager.goto("/rebates?status=filed")
    claim_id = just.get_attribute("data-claim-id")
    row = manager.locator(f"#claims tr[data-claim-id='{claim_id}']")
    assert row.get_by_role("button", name="批准").is_visible()
    assert manager.get_by_role("button", name="提交申请").count() == 0  # a manager decides
    row.get_by_role("button", name="批准").click()
    manager.wait_for_load_state()
    decided = manager.locator(f"#claims tr[data-claim-id='{claim_id}']")
    assert decided.get_attribute("data-status") == "credited"
    context.close()
    pool = statement_pool(platform)
    assert Decimal(pool["credited"]) == Decimal(after["credited"]) + amount
    assert pool["available"] == after["available"]


def test_a_claim_over_the_pool_shows_the_apis_error_by_the_amount_and_writes_nothing(
    page, platform, settled_pool
):
    sign_in(page, "dealer.cd001")
    page.goto("/rebates")
    before = claims_in_store(platform)
    available = Decimal(shown_pool(page)["available"])
    page.get_by_label("申请金额").fill(str(available + Decimal("0.01")))
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    assert page.locator("#amount-error").is_visible()
    assert page.get_by_label("申请金额").get_attribute("aria-invalid") == "true"
    page.get_by_label("申请金额").fill("twelve yuan")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    assert page.locator("#amount-error").is_visible()
    assert page.get_by_label("申请金额").input_value() == "twelve yuan"
    assert claims_in_store(platform) == before
    assert shown_pool(page) == statement_pool(platform)


def test_a_dealer_submits_and_revises_its_demand_plan_and_sees_why_it_was_returned(
    browser, page, platform
):
    month = f"{(business_today().replace(day=28) + timedelta(days=7)):%Y-%m}"  # next month
    sign_in(page, "dealer.cd001")
    page.get_by_role("link", name="要货计划").click()
    page.wait_for_load_state()
    page.goto(f"/plans/new?month={month}")
    page.get_by_label("产品编码 1").fill(WULIANGYE)
    page.get_by_label("数量 1").fill("24")
    page.get_by_label("产品编码 2").fill(JIANNANCHUN)
    page.get_by_label("数量 2").fill("48")
    page.get_by_role("button", name="提交计划").click()
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith(f"/plans/{DEALER}/{month}")
    assert "min_position=orders" in page.url
    plan = page.locator("#plan")
    assert (plan.get_attribute("data-status"), plan.get_attribute("data-revision")) == (
        "submitted",
        "1",
    )
    wuliangye = page.locator(f"#plan-lines tr[data-sku='{WULIANGYE}']")
    assert wuliangye.get_attribute("data-quantity") == "24"
    # Plan against orders, from the query API at the command's position.
    assert wuliangye.locator("[data-field=pending_quantity]").inner_text() == "24"

    line = page.locator(
        "#revise-form .line", has=page.locator(f"input[name=sku][value='{WULIANGYE}']")
    )
    line.locator("input[name=quantity]").fill("36")
    page.get_by_role("button", name="修改计划").click()
    page.wait_for_load_state()
    assert page.locator("#plan").get_attribute("data-revision") == "2"
    wuliangye = page.locator(f"#plan-lines tr[data-sku='{WULIANGYE}']")
    assert wuliangye.get_attribute("data-quantity") == "36"
    assert wuliangye.locator("[data-field=pending_quantity]").inner_text() == "36"
    answer = platform["query"].get(
        f"/dealers/{DEALER}/demand-plans?month={month}&by=sku",
        headers=token_of(platform, "dealer.cd001"),
    )
    figures = {row["key"]: row["pending_quantity"] for row in answer.json()["items"]}
    assert figures == {WULIANGYE: 36, JIANNANCHUN: 48}

    # The Chengdu manager returns it, saying why; the dealer sees the reason on its plan.
    context = browser.new_context(base_url=platform["console"], locale="zh-CN")
    manager = context.new_page()
    sign_in(manager, "cd.manager")
    manager.goto(f"/plans?month={month}&status=submitted")
    manager.locator(f"#plans tr[data-dealer='{DEALER}'] a").click()
    manager.wait_for_load_state()
    assert manager.get_by_role("button", name="修改计划").count() == 0  # a manager reviews
    manager.get_by_label("退回原因").fill("五粮液数量超过上月实际订货")
    manager.get_by_role("button", name="退回修改").click()
    manager.wait_for_load_state()
    assert manager.locator("#plan").get_attribute("data-status") == "returned"
    context.close()
    page.goto(f"/plans/{DEALER}/{month}")
    assert page.locator("#plan").get_attribute("data-status") == "returned"
    assert page.locator("#plan-comment").inner_text() == "五粮液数量超过上月实际订货"
    assert page.get_by_role("button", name="修改计划").is_visible()


def test_a_bad_plan_shows_the_apis_error_by_the_line_and_writes_nothing(page, platform):
    month = f"{(business_today().replace(day=28) + timedelta(days=40)):%Y-%m}"
    sign_in(page, "dealer.cd001")
    page.goto(f"/plans/new?month={month}")
    page.get_by_label("产品编码 1").fill(WULIANGYE)
    page.get_by_label("数量 1").fill("0")
    page.get_by_role("button", name="提交计划").click()
    page.wait_for_load_state()
    assert page.locator("#quantity-0-error").is_visible()
    assert page.get_by_label("数量 1").get_attribute("aria-invalid") == "true"
    answer = platform["orders"].get(
        f"/demand-plans/{DEALER}/{month}", headers=token_of(platform, "dealer.cd001")
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        ("dealer.cd001", ["/rebates", "/plans", "/plans/new"]),
        ("cd.manager", ["/rebates", "/plans"]),
    ],
)
def test_axe_finds_no_serious_violations_on_the_portal_pages(
    browser, platform, axe_source, username, paths
):
    context = browser.new_context(base_url=platform["console"], bypass_csp=True)
    page = context.new_page()
    sign_in(page, username)
    month = business_today().strftime("%Y-%m")
    for path in [*paths, f"/plans/{DEALER}/{month}"]:
        page.goto(path)
        assert serious_violations(page, axe_source) == [], path
    context.close()
