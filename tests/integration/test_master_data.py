"""Master data a service does not own: inventory and finance know dealers and products only
from orders (their replica, kept from the orders topic), refuse codes orders never
registered with 404 and publish nothing, and accept the same command once orders has
registered the code and the replica has caught up. Real PostgreSQL, the real broker, HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts import orders as orders_events
from runtime.consumer import Outcome
from runtime.eventstore import Provenance
from runtime.process_manager import ProcessManager
from services.finance.application import POLICIES, FinanceApplication, SetCreditTerms
from services.masterdata.domain import UnknownDealer
from tests.integration.master_data import dealer
from tests.integration.saga import CHENGDU_WAREHOUSE, WULIANGYE, ok, running_company
from tests.platform import HQ, command, command_when_known, envelopes_of, published, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]

HQ_ADMIN = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")
MOUTAI = "MOUTAI-53-500ML"
MOUTAI_PRODUCT = {
    "sku": MOUTAI,
    "name": "Kweichow Moutai 53% 500ml",
    "category": "BAIJIU",
    "list_price": "2999.00",
}
JINNIU = {
    "code": "CD-009",
    "name": "Jinniu Liquor Store",
    "branch": "CD",
    "region": "SOUTHWEST",
    "grade": "tier2_distributor",
}


def refused(response, code: str) -> dict:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert "registered in orders a moment ago" in problem["detail"]
    return problem


def published_at_least(settings, service: str, name: str, count: int) -> list[dict]:
    """The events of a type on a service's topic, once its relay has published ``count``."""
    return wait_until(
        lambda: len(found := published(settings, service, name)) >= count and found,
        what=f"{count} {name} on the {service} topic",
    )


def test_stock_moves_only_for_skus_in_orders_catalogue(settings):
    with running_company(settings, with_finance=False) as company:
        inventory = company.inventory
        company.receive(WULIANGYE, 24)  # inventory has caught up with the catalogue

        line = {"sku": MOUTAI, "quantity": 12, "unit_cost": "2100.00"}
        receipt = {"warehouse_code": "WH-CD", "lines": [line]}
        first = command(
            inventory, "/goods-receipts", receipt, headers=CHENGDU_WAREHOUSE, key="gr-moutai"
        )
        assert refused(first, "unknown_sku")["skus"] == [MOUTAI]
        damage = {"quantity": 1, "reason": "broken seal"}
        refused(
            command(inventory, f"/stock/WH-CD/{MOUTAI}/damage", damage, headers=HQ), "unknown_sku"
        )
        safety = {"quantity": 6}
        path = f"/stock/WH-CD/{MOUTAI}/safety-stock"
        refused(command(inventory, path, safety, headers=HQ), "unknown_sku")
        sheet = {"warehouse_code": "WH-CD", "skus": [WULIANGYE, MOUTAI]}
        refused(command(inventory, "/stocktakes", sheet, headers=HQ), "unknown_sku")
        consignment = {
            "code": "WH-CSG-ZZ-999",
            "name": "Nobody's consignment store",
            "kind": "consignment",
            "branch": "CD",
            "region": "SOUTHWEST",
            "dealer_code": "ZZ-999",
        }
        problem = refused(
            command(inventory, "/warehouses", consignment, headers=HQ), "unknown_dealer"
        )
        assert problem["dealer_code"] == "ZZ-999"
        assert inventory.get("/warehouses/WH-CSG-ZZ-999", headers=HQ).status_code == 404

        # HQ adds Moutai to the catalogue: the same receipt (same key) goes in once the
        # registration has reached inventory.
        ok(command(company.orders, "/products", MOUTAI_PRODUCT, headers=HQ))
        again = command_when_known(
            inventory, "/goods-receipts", receipt, headers=CHENGDU_WAREHOUSE, key="gr-moutai"
        )
        assert again.status_code == 201, again.text
        assert company.stock(MOUTAI)["on_hand"] == 12

        # Published: the two receipts that went in, and nothing for the refused commands.
        received = published_at_least(settings, "inventory", "GoodsReceived", 2)
        assert [e["data"]["lines"][0]["sku"] for e in received] == [WULIANGYE, MOUTAI]
        assert published(settings, "inventory", "StockDamaged") == []
        assert published(settings, "inventory", "SafetyStockSet") == []
        assert [
            e["data"]["code"] for e in published(settings, "inventory", "WarehouseRegistered")
        ] == ["WH-CD"]


def test_finance_acts_only_for_dealers_orders_registered(settings):
    with running_company(settings) as company:
        finance = company.finance
        company.credit_terms("CD-001", "100000.00")  # finance has caught up with the registry

        terms = {"credit_limit": "50000.00", "payment_terms_days": 30}
        path = "/accounts/CD-009/credit-terms"
        first = command(finance, path, terms, headers=HQ, key="terms-cd-009")
        assert refused(first, "unknown_dealer")["dealer_code"] == "CD-009"
        assert finance.get("/accounts/CD-009", headers=HQ).status_code == 404  # none opened
        cash = {"dealer_code": "CD-009", "amount": "8000.00", "received_on": "2026-11-20"}
        refused(
            command(finance, "/receipts", cash, headers=HQ, key="cash-cd-009"), "unknown_dealer"
        )
        policy = {
            "policy_code": "CD009-GROWTH",
            "dealer_code": "CD-009",
            "rate": "0.0200",
            "valid_from": "2026-11-01",
            "valid_to": "2026-11-30",
        }
        refused(command(finance, "/rebate-policies", policy, headers=HQ), "unknown_dealer")
        per_bottle = {
            "policy_code": "MOUTAI-BOTTLE",
            "grade": "tier1_distributor",
            "unit_rebates": [{"sku": MOUTAI, "amount": "8.00"}],
            "valid_from": "2026-11-01",
            "valid_to": "2026-11-30",
        }
        refused(command(finance, "/rebate-policies", per_bottle, headers=HQ), "unknown_sku")
        claim = {"dealer_code": "CD-009", "amount": "10.00"}
        refused(command(finance, "/rebate-claims", claim, headers=HQ), "unknown_dealer")

        # HQ registers Jinniu in orders: the same commands (same keys) go through once
        # finance has heard of it, on an account that knows its branch and grade.
        ok(command(company.orders, "/dealers", JINNIU, headers=HQ))
        account = ok(command_when_known(finance, path, terms, headers=HQ, key="terms-cd-009"))
        assert (account["branch"], account["grade"], account["credit_limit"]) == (
            "CD",
            "tier2_distributor",
            "50000.00",
        )
        paid = ok(command(finance, "/receipts", cash, headers=HQ, key="cash-cd-009"))
        assert paid["unapplied"] == "8000.00"

        terms_set = published_at_least(settings, "finance", "CreditTermsSet", 2)
        assert [e["data"]["dealer_code"] for e in terms_set] == ["CD-001", "CD-009"]
        receipts = published_at_least(settings, "finance", "ReceiptRecorded", 1)
        assert [e["data"]["dealer_code"] for e in receipts] == ["CD-009"]
        assert published(settings, "finance", "RebatePolicyDefined") == []


def test_an_order_heard_before_its_dealers_registration_is_decided_not_refused(settings):
    """Orders places orders only for dealers it registered, but the order and the
    registration travel on different partitions: finance may hear of the order first."""
    finance = FinanceApplication(settings)
    try:
        registration, order = envelopes_of(
            [
                dealer("CD-009", "Jinniu Liquor Store", grade="tier2_distributor"),
                orders_events.OrderPlaced(
                    order_id="order-cd-009-1",
                    dealer_id="dealer-CD-009",
                    dealer_code="CD-009",
                    branch="CD",
                    region="SOUTHWEST",
                    business_date=date(2026, 11, 20),
                    lines=[
                        orders_events.PlacedLine.at(
                            sku=WULIANGYE,
                            category="BAIJIU",
                            quantity=6,
                            unit_price=Decimal("1299.00"),
                        )
                    ],
                    total=Decimal("7794.00"),
                ),
            ]
        )
        manager = ProcessManager(finance, name="finance-saga", policies=POLICIES)
        with manager.open_batch() as batch:
            assert batch.apply(order).outcome == Outcome.APPLIED
        account = finance.get_account("CD-009")
        assert account.held == {"order-cd-009-1": Decimal("7794.00")}  # no terms yet: held
        with pytest.raises(UnknownDealer):
            finance.known_dealer("CD-009")

        with manager.open_batch() as batch:
            assert batch.apply(registration).outcome == Outcome.APPLIED
        assert finance.known_dealer("CD-009").grade == "tier2_distributor"
        assert finance.get_account("CD-009").grade == "tier2_distributor"
        finance.set_credit_terms(
            SetCreditTerms("CD-009", Decimal("50000.00"), 30), by=HQ_ADMIN, idempotency=None
        )
        assert finance.get_account("CD-009").credit_limit == Decimal("50000.00")
    finally:
        finance.close()
