"""Object-level authorisation, walked over every route (OWASP API1).

The demo company runs on the six HTTP processes. The walk is generated from their OpenAPI
documents: every GET route, filled with a real record of the demo company, is asked by every
role, each with its own scope and with a foreign one. A caller whose scope the record is
outside of must get 403 or 404, never the record; where a route answers a list, a foreign
caller may get 200 only if nothing of the record is in it. Headquarters must get the record
(so that the sample is a real one and the refusals mean something).

Every POST route is tried the same way with a valid command on a Chengdu record, by every
scoped role from outside that scope and by the read-only HQ roles: each must be refused
(403 or 404, never 409, which would say the rule was checked first), and no event store
gains an event.

A route that appears without a sample here fails the test: a new route is covered the day
it is added, by saying whose records it reads or changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

import httpx
import psycopg2
import pytest
from kafka import KafkaConsumer, TopicPartition

from projections import bootstrap as query_process
from runtime.demo import seed_demo_company
from services.finance import bootstrap as finance_process
from services.identity import bootstrap as identity_process
from services.imports.api import PATHS
from services.imports.kinds import KINDS
from services.inventory import bootstrap as inventory_process
from services.kernel.dates import business_today
from services.orders import bootstrap as orders_process
from services.warnings import bootstrap as warnings_process
from tests.platform import query_caught_up, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]


@dataclass(frozen=True)
class Caller:
    key: str
    role: str
    branch: str | None = None
    warehouse: str | None = None
    dealer: str | None = None
    # A region manager's region and its branches there.
    region: str | None = None
    region_branches: frozenset[str] = frozenset()


# Every role, each with its own scope and, beside it, the same role with a foreign one.
HEADQUARTERS = [
    Caller("demo-hq-admin", "hq_admin"),
    Caller("demo-hq-viewer", "hq_viewer"),
    Caller("demo-credit-controller", "credit_controller"),
    Caller("demo-erp", "erp"),
]
SCOPED = [
    Caller("demo-chengdu-manager", "branch_manager", branch="CD"),
    Caller("matrix-shanghai-manager", "branch_manager", branch="SH"),
    Caller("demo-chengdu-clerk", "branch_clerk", branch="CD"),
    Caller("demo-shanghai-clerk", "branch_clerk", branch="SH"),
    Caller("demo-chengdu-warehouse", "warehouse_clerk", warehouse="WH-CD"),
    Caller("matrix-shanghai-warehouse", "warehouse_clerk", warehouse="WH-SH"),
    Caller("demo-dealer-cd001", "dealer", dealer="CD-001"),
    Caller("matrix-dealer-cd002", "dealer", dealer="CD-002"),
    Caller("matrix-dealer-sh001", "dealer", dealer="SH-001"),
    Caller(
        "demo-southwest-manager",
        "region_manager",
        region="SOUTHWEST",
        region_branches=frozenset({"CD", "CQ"}),
    ),
    Caller(
        "matrix-east-manager",
        "region_manager",
        region="EAST",
        region_branches=frozenset({"SH", "HZ"}),
    ),
]
EXTRA_KEYS = {
    c.key: {"name": c.key, "role": c.role, "branch": c.branch, "warehouse": c.warehouse}
    | ({"dealer": c.dealer} if c.dealer else {})
    | ({"region": c.region, "region_branches": sorted(c.region_branches)} if c.region else {})
    for c in SCOPED
    if c.key.startswith("matrix-")
}


@dataclass(frozen=True)
class Owners:
    """Whose a sample record is. ``staff``: every non-dealer principal reads it (national
    terms); ``everyone``: the catalogue, readable by every signed-in caller."""

    branches: frozenset[str] = frozenset()
    dealers: frozenset[str] = frozenset()
    warehouses: frozenset[str] = frozenset()
    staff: bool = False
    everyone: bool = False

    def foreign_to(self, caller: Caller) -> bool:
        if self.everyone:
            return False
        if caller.role == "dealer":
            return caller.dealer not in self.dealers
        if self.staff:
            return False
        if caller.warehouse:
            return caller.warehouse not in self.warehouses
        if caller.role == "region_manager":  # what a manager of one of its branches reads
            return not caller.region_branches & self.branches
        return caller.branch not in self.branches


def owned(*, branches=(), dealers=(), warehouses=(), staff=False, everyone=False) -> Owners:
    return Owners(frozenset(branches), frozenset(dealers), frozenset(warehouses), staff, everyone)


NATIONAL = owned()
CATALOGUE = owned(everyone=True)
CHENGDU_DEALER = owned(branches=["CD"], dealers=["CD-001"])
CHENGDU_ORDER = owned(branches=["CD"], dealers=["CD-001"], warehouses=["WH-CD"])


@dataclass
class Sample:
    params: dict[str, str]
    owners: Owners
    # What of the record a list answer must not show a foreign caller.
    markers: list[str] = field(default_factory=list)
    # For an answer of figures only (counts), where no marker can tell whose they are: is a
    # foreign caller's 200 free of the record? Asked with the client and the caller's headers.
    free_of_record: Callable[[httpx.Client, dict[str, str], httpx.Response], bool] | None = None


def published(settings) -> list[dict]:
    """Every envelope the three services published, as JSON."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(), enable_auto_commit=False
    )
    envelopes = []
    try:
        for service in ("orders", "inventory", "finance"):
            topic = settings.topic(service)
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            end = consumer.end_offsets(partitions)
            while any(consumer.position(p) < end[p] for p in partitions):
                for records in consumer.poll(timeout_ms=1000).values():
                    envelopes.extend(json.loads(r.value) for r in records)
    finally:
        consumer.close()
    return envelopes


def first(envelopes: list[dict], event: str, **match: str) -> dict:
    for envelope in envelopes:
        if envelope["type"].split(".")[2] == event and all(
            envelope["data"].get(k) == v for k, v in match.items()
        ):
            return envelope["data"]
    raise AssertionError(f"the demo company published no {event} with {match}")


def demo_records(envelopes: list[dict]) -> tuple[str, ...]:
    """Chengdu's records in the demo company (and Shanghai's stocktake), by their ids:
    an order, a shipment, a transfer, a stocktake, a return, an invoice, a rebate claim,
    a rebate policy and a salesperson."""
    return (
        first(envelopes, "OrderPlaced", dealer_code="CD-001")["order_id"],
        first(envelopes, "ShipmentDispatched", dealer_code="CD-001")["shipment_id"],
        first(envelopes, "TransferDispatched", to_warehouse="WH-CD")["transfer_id"],
        first(envelopes, "StocktakePosted", warehouse_code="WH-SH")["stocktake_id"],
        first(envelopes, "ReturnApproved", dealer_code="CD-001")["return_id"],
        first(envelopes, "InvoiceIssued", dealer_code="CD-001")["invoice_id"],
        first(envelopes, "RebateClaimFiled", dealer_code="CD-001")["claim_id"],
        first(envelopes, "RebatePolicyDefined", dealer_code="CD-001")["policy_code"],
        first(envelopes, "SalespersonRegistered", branch="CD")["salesperson_code"],
    )


def samples(envelopes: list[dict]) -> dict[tuple[str, str], Sample]:
    """A real record of the demo company for every route, and whose it is."""
    month = business_today().strftime("%Y-%m")
    order, shipment, transfer, stocktake, dealer_return, invoice, claim, policy, salesperson = (
        demo_records(envelopes)
    )
    return {
        # orders :8101
        ("orders", "/dealers/{code}"): Sample({"code": "CD-001"}, CHENGDU_DEALER),
        ("orders", "/dealers/{dealer_code}/salesperson"): Sample(
            {"dealer_code": "CD-001"}, CHENGDU_DEALER
        ),
        ("orders", "/products/categories"): Sample({}, CATALOGUE),
        # The organisation chart: every signed-in caller reads it.
        ("orders", "/organisation/regions"): Sample({}, CATALOGUE),
        # An import's columns: a description every signed-in caller may read.
        **{(service, path): Sample({}, CATALOGUE) for service, path in IMPORT_PATHS},
        ("orders", "/organisation/branches"): Sample({}, CATALOGUE),
        ("orders", "/products/{sku}"): Sample({"sku": "WULIANGYE-52-500ML"}, CATALOGUE),
        ("orders", "/promotions"): Sample({}, CATALOGUE),
        ("orders", "/promotions/{code}"): Sample({"code": "SPRING-WLY-10-1"}, CATALOGUE),
        # A grade's prices: staff, and the dealers of that grade (CD-002 is tier 2).
        ("orders", "/price-lists/{grade}"): Sample(
            {"grade": "tier2_distributor"}, owned(dealers=["CD-002"], staff=True)
        ),
        ("orders", "/orders/{order_id}"): Sample({"order_id": order}, CHENGDU_DEALER),
        ("orders", "/returns/{return_id}"): Sample({"return_id": dealer_return}, CHENGDU_DEALER),
        ("orders", "/demand-plans/{dealer_code}/{month}"): Sample(
            {"dealer_code": "CD-001", "month": month}, CHENGDU_DEALER
        ),
        ("orders", "/targets/salespeople/{code}"): Sample(
            {"code": salesperson}, owned(branches=["CD"])
        ),
        # The month's decomposition: a branch sees its own part, no one else's.
        ("orders", "/targets/{month}"): Sample(
            {"month": month}, owned(branches=["CD"]), markers=[salesperson, '"branch":"CD"']
        ),
        # inventory :8102
        ("inventory", "/warehouses/{code}"): Sample(
            {"code": "WH-CD"}, owned(branches=["CD"], warehouses=["WH-CD"])
        ),
        ("inventory", "/stock/{warehouse_code}/{sku}"): Sample(
            {"warehouse_code": "WH-CD", "sku": "WULIANGYE-52-500ML"},
            owned(branches=["CD"], warehouses=["WH-CD"]),
        ),
        ("inventory", "/stock/reservations/{order_id}"): Sample({"order_id": order}, CHENGDU_ORDER),
        ("inventory", "/shipments/{shipment_id}"): Sample({"shipment_id": shipment}, CHENGDU_ORDER),
        ("inventory", "/goods-receipts/returns/{return_id}"): Sample(
            {"return_id": dealer_return}, CHENGDU_ORDER
        ),
        ("inventory", "/transfers/{transfer_id}"): Sample(
            {"transfer_id": transfer}, owned(branches=["CD"], warehouses=["WH-CD", "WH-CENTRAL"])
        ),
        ("inventory", "/stocktakes/{stocktake_id}"): Sample(
            {"stocktake_id": stocktake}, owned(branches=["SH"], warehouses=["WH-SH"])
        ),
        # finance :8103
        ("finance", "/accounts/health-rules"): Sample({}, NATIONAL),
        ("finance", "/accounts/{dealer_code}"): Sample({"dealer_code": "CD-001"}, CHENGDU_DEALER),
        ("finance", "/invoices/{invoice_id}"): Sample({"invoice_id": invoice}, CHENGDU_DEALER),
        ("finance", "/rebate-policies"): Sample({}, CHENGDU_DEALER, markers=[policy]),
        ("finance", "/rebate-policies/{policy_code}"): Sample(
            {"policy_code": policy}, CHENGDU_DEALER
        ),
        ("finance", "/rebate-claims/{claim_id}"): Sample({"claim_id": claim}, CHENGDU_DEALER),
        # identity :8104: users and keys are headquarters' administrators' alone.
        ("identity", "/users"): Sample({}, NATIONAL, markers=["cd.clerk"]),
        ("identity", "/users/{username}"): Sample({"username": "cd.clerk"}, NATIONAL),
        ("identity", "/users/{username}/history"): Sample({"username": "cd.clerk"}, NATIONAL),
        ("identity", "/api-keys"): Sample({}, NATIONAL, markers=["key_id"]),
    }


def warning_samples(warning_id: str, webhook_id: str) -> dict[tuple[str, str], Sample]:
    """The demo's Chengdu credit-hold warning: Chengdu's staff and HQ read it, no one else
    (warehouses and dealers are not told of warnings)."""
    chengdu = owned(branches=["CD"])

    def counts_free_of_it(client, headers, answer) -> bool:
        """The caller's counts count what its own list shows (other branches may have
        warnings of their own: the demo's Shanghai approval), and that list has not it."""
        listed = client.get("/warnings", params={"limit": 200}, headers=headers).json()
        ids = [w["warning_id"] for w in listed["warnings"]]
        return warning_id not in ids and answer.json()["total"] == len(ids)

    return {
        ("warnings", "/warnings"): Sample({}, chengdu, markers=[warning_id]),
        ("warnings", "/warnings/inbox"): Sample({}, chengdu, markers=[warning_id]),
        ("warnings", "/warnings/counts"): Sample({}, chengdu, free_of_record=counts_free_of_it),
        ("warnings", "/warnings/{warning_id}"): Sample({"warning_id": warning_id}, chengdu),
        ("warnings", "/warning-rules"): Sample({}, NATIONAL),
        ("warnings", "/warning-rules/{code}"): Sample({"code": "credit_hold"}, NATIONAL),
        ("warnings", "/webhooks"): Sample({}, NATIONAL),
        ("warnings", "/webhooks/{webhook_id}/deliveries"): Sample(
            {"webhook_id": webhook_id}, NATIONAL
        ),
    }


def warning_commands(warning_id: str) -> dict[tuple[str, str], Command]:
    chengdu = owned(branches=["CD"])
    on = {"warning_id": warning_id}
    return {
        ("warnings", "/warnings/{warning_id}/acknowledgement"): Command(on, {}, chengdu),
        ("warnings", "/warnings/{warning_id}/comments"): Command(
            on, {"text": "Called the dealer"}, chengdu
        ),
        ("warnings", "/warnings/{warning_id}/assignment"): Command(
            on, {"assignee": "cd.clerk"}, chengdu
        ),
        ("warnings", "/warnings/{warning_id}/resolution"): Command(
            on, {"note": "Dealer paid"}, chengdu
        ),
        ("warnings", "/warning-rules/{code}"): Command(
            {"code": "credit_hold"}, {"threshold": "0"}, NATIONAL
        ),
        ("warnings", "/webhooks"): Command(
            {},
            {"url": "http://127.0.0.1:9/oa/warnings", "secret": "matrix-secret-2026-0001"},
            NATIONAL,
        ),
    }


def query_sample(path: str) -> Sample | None:
    """The query API's audiences: the nation, one branch, one dealer, one warehouse."""
    if path.startswith("/hq/"):
        return Sample({}, NATIONAL)
    if path.startswith("/branches/{branch_id}/warehouses/{warehouse_code}/"):
        params = {"branch_id": "CD", "warehouse_code": "WH-CD"}
        return Sample(params, owned(branches=["CD"], warehouses=["WH-CD"]))
    if path.startswith("/branches/{branch_id}/"):
        return Sample({"branch_id": "CD"}, owned(branches=["CD"]))
    if path.startswith("/dealers/{dealer_id}/"):
        return Sample({"dealer_id": "CD-001"}, CHENGDU_DEALER)
    return None


@dataclass
class Command:
    params: dict[str, str]
    body: dict
    owners: Owners
    # An upload (bulk import): the file posted instead of a JSON body.
    files: dict | None = None

    def post(self, client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
        if self.files is not None:
            return client.post(path, files=self.files, headers=headers)
        return client.post(path, json=self.body, headers=headers)


def commands(envelopes: list[dict], api_key_id: str) -> dict[tuple[str, str], Command]:
    """A valid command for every POST route, on a record of the demo company, and whose
    record it changes (NATIONAL: headquarters' alone)."""
    month = business_today().strftime("%Y-%m")
    today = business_today().isoformat()
    order, shipment, transfer, stocktake, dealer_return, invoice, claim, _, salesperson = (
        demo_records(envelopes)
    )
    wuliangye = "WULIANGYE-52-500ML"
    one_bottle = [{"sku": wuliangye, "quantity": 1}]
    levels = {"floor": "100000.00", "target": "120000.00", "stretch": "150000.00"}
    chengdu_stock = owned(branches=["CD"], warehouses=["WH-CD"])
    return import_commands() | {
        # orders :8101
        ("orders", "/dealers"): Command(
            {},
            {
                "code": "CD-099",
                "name": "Wenjiang Liquor",
                "branch": "CD",
                "region": "SOUTHWEST",
                "grade": "group_buy",
            },
            NATIONAL,
        ),
        ("orders", "/products"): Command(
            {},
            {
                "sku": "FENJIU-53-500ML",
                "name": "Fenjiu 53% 500ml",
                "category": "BAIJIU-QINGXIANG",
                "list_price": "398.00",
            },
            NATIONAL,
        ),
        ("orders", "/organisation/regions"): Command(
            {}, {"code": "NORTHWEST", "name": "Northwest Region"}, NATIONAL
        ),
        ("orders", "/organisation/branches"): Command(
            {}, {"code": "XN", "name": "Xining Branch", "region": "SOUTHWEST"}, NATIONAL
        ),
        ("orders", "/products/categories"): Command(
            {}, {"code": "BAIJIU-JIANGXIANG", "name": "Sauce-aroma baijiu"}, NATIONAL
        ),
        ("orders", "/price-lists/{grade}/prices"): Command(
            {"grade": "tier1_distributor"}, {"sku": wuliangye, "unit_price": "1299.00"}, NATIONAL
        ),
        ("orders", "/promotions"): Command(
            {},
            {
                "kind": "category_discount",
                "code": "QINGXIANG-5PCT",
                "name": "5 % off",
                "category": "BAIJIU-NONGXIANG",
                "discount_rate": "0.05",
                "valid_from": today,
                "valid_to": today,
            },
            NATIONAL,
        ),
        ("orders", "/promotions/{code}/end"): Command(
            {"code": "SPRING-WLY-10-1"}, {"on": today}, NATIONAL
        ),
        ("orders", "/orders"): Command(
            {}, {"dealer_code": "CD-001", "lines": one_bottle}, CHENGDU_DEALER
        ),
        # A price preview writes nothing, but is refused outside the scope as placing is.
        ("orders", "/orders/quote"): Command(
            {}, {"dealer_code": "CD-001", "lines": one_bottle}, CHENGDU_DEALER
        ),
        ("orders", "/orders/{order_id}/approval"): Command({"order_id": order}, {}, CHENGDU_DEALER),
        ("orders", "/orders/{order_id}/rejection"): Command(
            {"order_id": order}, {"reason": "price dispute"}, CHENGDU_DEALER
        ),
        ("orders", "/orders/{order_id}/cancellation"): Command(
            {"order_id": order}, {"reason": "ordered twice"}, CHENGDU_DEALER
        ),
        ("orders", "/returns"): Command(
            {},
            {"order_id": order, "lines": one_bottle, "reason": "label damaged"},
            CHENGDU_DEALER,
        ),
        ("orders", "/returns/{return_id}/approval"): Command(
            {"return_id": dealer_return}, {}, CHENGDU_DEALER
        ),
        ("orders", "/returns/{return_id}/rejection"): Command(
            {"return_id": dealer_return}, {"reason": "past the window"}, CHENGDU_DEALER
        ),
        ("orders", "/demand-plans"): Command(
            {}, {"dealer_code": "CD-001", "month": month, "lines": one_bottle}, CHENGDU_DEALER
        ),
        ("orders", "/demand-plans/{dealer_code}/{month}/revision"): Command(
            {"dealer_code": "CD-001", "month": month}, {"lines": one_bottle}, CHENGDU_DEALER
        ),
        ("orders", "/demand-plans/{dealer_code}/{month}/approval"): Command(
            {"dealer_code": "CD-001", "month": month}, {}, CHENGDU_DEALER
        ),
        ("orders", "/demand-plans/{dealer_code}/{month}/return"): Command(
            {"dealer_code": "CD-001", "month": month}, {"comment": "too high"}, CHENGDU_DEALER
        ),
        ("orders", "/dealers/{dealer_code}/salesperson"): Command(
            {"dealer_code": "CD-001"},
            {"salesperson_code": salesperson, "effective_from": f"{month}-01"},
            CHENGDU_DEALER,
        ),
        ("orders", "/targets/salespeople"): Command(
            {}, {"code": "SP-CD-09", "name": "Liu Fang", "branch": "CD"}, owned(branches=["CD"])
        ),
        ("orders", "/targets/{month}"): Command({"month": month}, levels, NATIONAL),
        ("orders", "/targets/{month}/branches/{branch}"): Command(
            {"month": month, "branch": "CD"}, levels, owned(branches=["CD"])
        ),
        ("orders", "/targets/{month}/salespeople/{code}"): Command(
            {"month": month, "code": salesperson}, levels, owned(branches=["CD"])
        ),
        # inventory :8102
        ("inventory", "/warehouses"): Command(
            {},
            {
                "code": "WH-CD-2",
                "name": "Chengdu second warehouse",
                "kind": "branch",
                "branch": "CD",
                "region": "SOUTHWEST",
            },
            NATIONAL,
        ),
        # Opening stock and the cut-over are headquarters' alone (WH-CD has moved: 409).
        ("inventory", "/warehouses/{code}/opening-stock"): Command(
            {"code": "WH-CD"},
            {
                "document_number": "OB-WH-CD-MATRIX",
                "cut_over_date": today,
                "lines": [{"sku": wuliangye, "quantity": 1, "unit_cost": "812.00"}],
            },
            NATIONAL,
        ),
        ("inventory", "/warehouses/{code}/cut-over/reopening"): Command(
            {"code": "WH-CD"}, {}, NATIONAL
        ),
        ("inventory", "/warehouses/{code}/sell-through"): Command(
            {"code": "WH-CSG-CD-001"},
            {"period_from": today, "period_to": today, "lines": one_bottle},
            owned(branches=["CD"], dealers=["CD-001"], warehouses=["WH-CSG-CD-001"]),
        ),
        ("inventory", "/goods-receipts"): Command(
            {},
            {"warehouse_code": "WH-CD", "lines": [{**one_bottle[0], "unit_cost": "820.00"}]},
            chengdu_stock,
        ),
        ("inventory", "/goods-receipts/returns/{return_id}"): Command(
            {"return_id": dealer_return},
            {"lines": [{"sku": wuliangye, "good": 1, "damaged": 0}]},
            CHENGDU_ORDER,
        ),
        ("inventory", "/stock/{warehouse_code}/{sku}/safety-stock"): Command(
            {"warehouse_code": "WH-CD", "sku": wuliangye}, {"quantity": 50}, chengdu_stock
        ),
        ("inventory", "/stock/{warehouse_code}/{sku}/damage"): Command(
            {"warehouse_code": "WH-CD", "sku": wuliangye},
            {"quantity": 1, "reason": "broken"},
            chengdu_stock,
        ),
        ("inventory", "/stock/{warehouse_code}/{sku}/write-off"): Command(
            {"warehouse_code": "WH-CD", "sku": wuliangye},
            {"quantity": 1, "reason": "broken"},
            chengdu_stock,
        ),
        ("inventory", "/shipments"): Command(
            {}, {"order_id": order, "lines": one_bottle}, CHENGDU_ORDER
        ),
        ("inventory", "/shipments/{shipment_id}/delivery"): Command(
            {"shipment_id": shipment}, {}, CHENGDU_ORDER
        ),
        ("inventory", "/transfers"): Command(
            {},
            {"from_warehouse": "WH-CD", "to_warehouse": "WH-CENTRAL", "lines": one_bottle},
            chengdu_stock,
        ),
        ("inventory", "/transfers/{transfer_id}/receipt"): Command(
            {"transfer_id": transfer},
            {"lines": [{"sku": wuliangye, "received": 1}]},
            chengdu_stock,
        ),
        ("inventory", "/stocktakes"): Command(
            {}, {"warehouse_code": "WH-CD", "skus": [wuliangye]}, chengdu_stock
        ),
        ("inventory", "/stocktakes/{stocktake_id}/counts"): Command(
            {"stocktake_id": stocktake},
            {"lines": [{"sku": wuliangye, "counted": 1}]},
            owned(branches=["SH"], warehouses=["WH-SH"]),
        ),
        ("inventory", "/stocktakes/{stocktake_id}/posting"): Command(
            {"stocktake_id": stocktake}, {}, owned(branches=["SH"], warehouses=["WH-SH"])
        ),
        # finance :8103
        ("finance", "/accounts/health-rules"): Command({}, {"utilisation_red": "0.95"}, NATIONAL),
        ("finance", "/accounts/{dealer_code}/credit-terms"): Command(
            {"dealer_code": "CD-001"},
            {"credit_limit": "2500000.00", "payment_terms_days": 45},
            CHENGDU_DEALER,
        ),
        ("finance", "/accounts/{dealer_code}/credit-overrides"): Command(
            {"dealer_code": "CD-001"}, {"order_id": order}, CHENGDU_DEALER
        ),
        ("finance", "/accounts/{dealer_code}/cash-applications"): Command(
            {"dealer_code": "CD-001"},
            {"allocations": [{"invoice_id": invoice, "amount": "1.00"}]},
            CHENGDU_DEALER,
        ),
        ("finance", "/accounts/{dealer_code}/cash-application-setting"): Command(
            {"dealer_code": "CD-001"}, {"auto_apply": True}, CHENGDU_DEALER
        ),
        ("finance", "/receipts"): Command(
            {}, {"dealer_code": "CD-001", "amount": "1000.00"}, CHENGDU_DEALER
        ),
        ("finance", "/credit-notes"): Command(
            {}, {"invoice_id": invoice, "amount": "10.00", "reason": "late"}, CHENGDU_DEALER
        ),
        # Opening balances and the cut-over are headquarters' alone (CD-001 has business: 409).
        ("finance", "/accounts/{dealer_code}/opening-invoices"): Command(
            {"dealer_code": "CD-001"},
            {
                "invoice_number": "INV-MATRIX-0001",
                "issue_date": today,
                "due_date": today,
                "open_amount": "100.00",
                "cut_over_date": today,
            },
            NATIONAL,
        ),
        ("finance", "/accounts/{dealer_code}/opening-cash"): Command(
            {"dealer_code": "CD-001"},
            {"document_number": "OB-CASH-MATRIX", "amount": "100.00", "cut_over_date": today},
            NATIONAL,
        ),
        ("finance", "/accounts/{dealer_code}/opening-rebate-pools"): Command(
            {"dealer_code": "CD-001"},
            {
                "document_number": "OB-REBATE-MATRIX",
                "policy_code": "TIER1-REBATE",
                "amount": "100.00",
                "cut_over_date": today,
            },
            NATIONAL,
        ),
        ("finance", "/accounts/{dealer_code}/cut-over/reopening"): Command(
            {"dealer_code": "CD-001"}, {}, NATIONAL
        ),
        ("finance", "/rebate-policies"): Command(
            {},
            {
                "policy_code": "CD001-EXTRA",
                "dealer_code": "CD-001",
                "rate": "0.0100",
                "valid_from": today,
                "valid_to": today,
            },
            NATIONAL,
        ),
        ("finance", "/rebate-policies/{policy_code}/settlements"): Command(
            {"policy_code": "TIER1-REBATE"}, {"dealer_code": "CD-001"}, NATIONAL
        ),
        ("finance", "/rebate-claims"): Command(
            {}, {"dealer_code": "CD-001", "amount": "1.00"}, CHENGDU_DEALER
        ),
        ("finance", "/rebate-claims/{claim_id}/approval"): Command(
            {"claim_id": claim}, {}, CHENGDU_DEALER
        ),
        ("finance", "/rebate-claims/{claim_id}/rejection"): Command(
            {"claim_id": claim}, {"reason": "no proof"}, CHENGDU_DEALER
        ),
        # identity :8104
        ("identity", "/users"): Command(
            {},
            {
                "username": "cd.clerk.new",
                "name": "Zhang Wei (Chengdu clerk)",
                "role": "branch_clerk",
                "branch": "CD",
                "password": "Matrix-Password-2026",
            },
            NATIONAL,
        ),
        ("identity", "/users/{username}/password"): Command(
            {"username": "sh.clerk"}, {"password": "Matrix-Password-2026"}, NATIONAL
        ),
        ("identity", "/users/{username}/role"): Command(
            {"username": "sh.clerk"}, {"role": "branch_manager", "branch": "SH"}, NATIONAL
        ),
        ("identity", "/users/{username}/disable"): Command(
            {"username": "sh.clerk"}, {"reason": "left"}, NATIONAL
        ),
        ("identity", "/users/{username}/enable"): Command({"username": "sh.clerk"}, {}, NATIONAL),
        ("identity", "/api-keys"): Command(
            {}, {"username": "hq.viewer", "label": "BI dashboard"}, NATIONAL
        ),
        ("identity", "/api-keys/{key_id}/revocation"): Command(
            {"key_id": api_key_id}, {}, NATIONAL
        ),
    }


# Sign-in asks for no credential: it is the same for every caller (tests/integration/
# test_identity.py).
PUBLIC_COMMANDS = {("identity", "/sessions")}

# The bulk imports (services/imports/api.py): a good file of each kind on the demo company
# (headquarters' answer is 200, or 409 where the demo's business closed the cut-over).
IMPORT_FILES = {
    "regions": "code,name\nNORTHEAST,Northeast Region\n",
    "branches": "code,name,region\nMY,Mianyang Branch,SOUTHWEST\n",
    "dealers": "code,name,branch,region,grade\nCD-098,Pixian Liquor,CD,SOUTHWEST,group_buy\n",
    "products": "sku,name,category,list_price\nXIJIU-53-500ML,Xijiu 53% 500ml,BAIJIU,368.00\n",
    "price-lists": "grade,sku,unit_price\ntier2_distributor,WULIANGYE-52-500ML,1188.00\n",
    "warehouses": "code,name,kind,branch,region\nWH-CD-EAST,Chengdu East DC,branch,CD,SOUTHWEST\n",
    "opening-stock": "warehouse_code,document_number,cut_over_date,sku,quantity,unit_cost\n"
    "WH-CD,OB-MATRIX-1,2026-01-01,WULIANGYE-52-500ML,1,812.00\n",
    "opening-invoices": "dealer_code,invoice_number,issue_date,due_date,open_amount,"
    "cut_over_date\nCD-001,INV-MATRIX-1,2026-01-01,2026-01-31,100.00,2026-01-01\n",
    "opening-cash": "dealer_code,document_number,amount,cut_over_date\n"
    "CD-001,OB-CASH-MATRIX-1,100.00,2026-01-01\n",
    "opening-rebate-pools": "dealer_code,document_number,policy_code,amount,cut_over_date\n"
    "CD-001,OB-REBATE-MATRIX-1,TIER1-REBATE,100.00,2026-01-01\n",
}
IMPORT_PATHS = [(KINDS[kind].service, PATHS[kind]) for kind in IMPORT_FILES]


def import_commands() -> dict[tuple[str, str], Command]:
    return {
        (KINDS[kind].service, PATHS[kind]): Command(
            {}, {}, NATIONAL, files={"file": (f"{kind}.csv", text.encode(), "text/csv")}
        )
        for kind, text in IMPORT_FILES.items()
    }


# Headquarters' read-only roles change nothing anywhere.
READ_ONLY = [c for c in HEADQUARTERS if c.role in ("hq_viewer", "erp")]


def stored_events(settings) -> dict[str, int]:
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            counts = {}
            for service in ("orders", "inventory", "finance", "identity"):
                curs.execute(f"SELECT count(*) FROM {service}.{service}_events")
                counts[service] = curs.fetchone()[0]
            # People's steps and HQ's rule changes only: the demo's warnings escalate on
            # their own (minute-long allowances) while the matrix runs.
            curs.execute(
                "SELECT count(*) FROM warnings.warnings_events WHERE topic ~ "
                "'[.](Acknowledged|Commented|Assigned|Resolved|Changed|Registered)$'"
            )
            counts["warnings"] = curs.fetchone()[0]
            return counts
    finally:
        conn.close()


OPERATIONS = {"/healthz", "/readyz", "/metrics"}
# Required query parameters, by name, filled the same way for every route.
QUERY_SAMPLES = {"month": lambda: business_today().strftime("%Y-%m"), "as_of": date.today}


@pytest.fixture
def platform(settings) -> Iterator[dict[str, httpx.Client]]:
    settings = settings.model_copy(update={"api_keys": json.dumps(EXTRA_KEYS)})
    with (
        serving(orders_process.build(settings)) as orders,
        serving(inventory_process.build(settings)) as inventory,
        serving(finance_process.build(settings)) as finance,
        serving(identity_process.build(settings)) as identity,
        serving(warnings_process.build(settings)) as warnings,
        serving(query_process.build(settings)) as query,
    ):
        seeded: dict[str, int] = {}
        seed_demo_company(
            orders_url=str(orders.base_url).rstrip("/"),
            inventory_url=str(inventory.base_url).rstrip("/"),
            finance_url=str(finance.base_url).rstrip("/"),
            warnings_url=str(warnings.base_url).rstrip("/"),
            api_key="demo-hq-admin",
            positions=seeded,
        )
        # HQ must get every sampled record: the read models first hold the whole seed.
        query_caught_up(query, seeded, business_today().strftime("%Y-%m"))
        chengdu_hold = wait_until(
            lambda: warnings.get(
                "/warnings",
                params={"rule": "credit_hold", "branch": "CD"},
                headers=_bearer("demo-hq-admin"),
            ).json()["warnings"],
            what="the demo's Chengdu credit-hold warning",
        )
        webhook = warnings.post(
            "/webhooks",
            json={"url": "http://127.0.0.1:9/hq/warnings", "secret": "matrix-secret-2026-0000"},
            headers={**_bearer("demo-hq-admin"), "Idempotency-Key": "matrix-webhook"},
        )
        assert webhook.status_code == 201, webhook.text
        issued = identity.post(
            "/api-keys",
            json={"username": "erp.integration", "label": "ERP bridge"},
            headers={**_bearer("demo-hq-admin"), "Idempotency-Key": "matrix-api-key"},
        )
        assert issued.status_code == 201, issued.text
        yield {
            "orders": orders,
            "inventory": inventory,
            "finance": finance,
            "identity": identity,
            "warnings": warnings,
            "query": query,
            "api_key_id": issued.json()["key_id"],
            "warning_id": chengdu_hold[0]["warning_id"],
            "webhook_id": webhook.json()["webhook_id"],
            "envelopes": published(settings),
            "settings": settings,
        }


def test_no_route_shows_a_record_to_a_caller_outside_its_scope(platform) -> None:
    known = samples(platform["envelopes"]) | warning_samples(
        platform["warning_id"], platform["webhook_id"]
    )
    tried = 0
    leaks: list[str] = []
    unsampled: list[str] = []
    for service in ("orders", "inventory", "finance", "identity", "warnings", "query"):
        client = platform[service]
        document = client.get("/openapi.json").json()
        for template, operations in document["paths"].items():
            if "get" not in operations or template in OPERATIONS:
                continue
            sample = query_sample(template) if service == "query" else None
            sample = sample or known.get((service, template))
            if sample is None:
                unsampled.append(f"{service} GET {template}")
                continue
            path = template.format(**sample.params)
            query = {
                p["name"]: str(QUERY_SAMPLES[p["name"]]())
                for p in operations["get"].get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            anonymous = client.get(path, params=query)
            assert anonymous.status_code == 401, f"{service} {path} without a key"
            answer = client.get(path, params=query, headers=_bearer("demo-hq-admin"))
            assert answer.status_code == 200, f"HQ: {service} {path}: {answer.text[:300]}"
            for caller in HEADQUARTERS + SCOPED:
                tried += 1
                response = client.get(path, params=query, headers=_bearer(caller.key))
                assert response.status_code < 500, f"{caller.key} {path}: {response.text}"
                if caller in HEADQUARTERS or not sample.owners.foreign_to(caller):
                    continue
                if response.status_code in (403, 404):
                    continue
                if response.status_code == 200 and sample.free_of_record:
                    if sample.free_of_record(client, _bearer(caller.key), response):
                        continue
                body = response.text.replace(" ", "")
                if response.status_code == 200 and sample.markers:
                    shown = [m for m in sample.markers if m.replace(" ", "") in body]
                    if not shown:
                        continue
                leaks.append(
                    f"{caller.key} ({caller.role}) {service} GET {path}: "
                    f"{response.status_code} {response.text[:160]}"
                )
    assert not unsampled, "routes with no sample (say whose records they read): " + ", ".join(
        unsampled
    )
    assert not leaks, f"{len(leaks)} leaks in {tried} tries:\n" + "\n".join(leaks)
    print(f"scope matrix: {tried} route x caller tries, 0 leaks")


def test_no_command_changes_a_record_for_a_caller_outside_its_scope(platform) -> None:
    known = commands(platform["envelopes"], platform["api_key_id"]) | warning_commands(
        platform["warning_id"]
    )
    written = stored_events(platform["settings"])
    tried = 0
    wrong: list[str] = []
    unsampled: list[str] = []
    for service in ("orders", "inventory", "finance", "identity", "warnings"):
        client = platform[service]
        for template, operations in client.get("/openapi.json").json()["paths"].items():
            if "post" not in operations or (service, template) in PUBLIC_COMMANDS:
                continue
            sample = known.get((service, template))
            if sample is None:
                unsampled.append(f"{service} POST {template}")
                continue
            path = template.format(**sample.params)
            for caller in SCOPED + READ_ONLY:
                if caller in SCOPED and not sample.owners.foreign_to(caller):
                    continue
                tried += 1
                headers = {**_bearer(caller.key), "Idempotency-Key": str(uuid.uuid4())}
                response = sample.post(client, path, headers)
                if response.status_code not in (403, 404):
                    wrong.append(
                        f"{caller.key} ({caller.role}) {service} POST {path}: "
                        f"{response.status_code} {response.text[:200]}"
                    )
    assert not unsampled, "routes with no sample command: " + ", ".join(unsampled)
    assert not wrong, f"{len(wrong)} of {tried} foreign commands not refused:\n" + "\n".join(wrong)
    assert stored_events(platform["settings"]) == written
    # The samples are real: headquarters' answer to each is never 404 nor 422 (a refusal
    # above meant the scope, not a wrong id or a bad body).
    for (service, template), sample in known.items():
        headers = {**_bearer("demo-hq-admin"), "Idempotency-Key": str(uuid.uuid4())}
        path = template.format(**sample.params)
        response = sample.post(platform[service], path, headers)
        assert response.status_code not in (404, 422), f"HQ: {path}: {response.text[:300]}"
    print(f"scope matrix: {tried} foreign commands, all refused, nothing written")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
