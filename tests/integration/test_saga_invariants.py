"""The invariants of order to cash under concurrency, redelivery and a crash (DESIGN.md):

- no stock is reserved beyond what is on hand;
- no approved order takes a dealer past its credit limit without an override;
- every shipped unit is invoiced exactly once;
- per dealer, receivables = invoices - receipts - credit notes, to the fen, and the accrued
  rebate = the policy's rate x net invoiced sales, to the fen.

Real PostgreSQL and the real broker; two members of a service's consumer group make its
process manager decide on different partitions at the same time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import httpx
import psycopg2
import pytest
from kafka import KafkaConsumer, TopicPartition

from runtime.embedded import free_port
from services.inventory import bootstrap as inventory_process
from services.kernel.money import cny
from services.orders import bootstrap as orders_process
from tests.integration.saga import (
    CHENGDU_CLERK,
    CREDIT_CONTROLLER,
    JIANNANCHUN,
    PRICES,
    WULIANGYE,
    Company,
    ok,
    running_company,
)
from tests.platform import HQ, command, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]

DECIDED = ("approved", "rejected", "credit_hold")


def place_concurrently(company: Company, orders: list[tuple[str, dict[str, int]]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        placed = list(pool.map(lambda o: company.place(o[1], dealer=o[0]), orders))
    return [p["order_id"] for p in placed]


def wait_all_decided(company: Company, order_ids: list[str]) -> dict[str, dict]:
    def decided() -> dict[str, dict] | None:
        states = {i: company.order(i) for i in order_ids}
        return states if all(s["status"] in DECIDED for s in states.values()) else None

    return wait_until(decided, timeout=90, what="every order to be decided")


def test_concurrent_orders_for_one_sku_never_reserve_more_than_is_on_hand(settings):
    with running_company(settings, inventory_members=2) as company:
        company.receive(WULIANGYE, 100)
        company.credit_terms("CD-001", "10000000.00")
        order_ids = place_concurrently(company, [("CD-001", {WULIANGYE: 7})] * 50)
        states = wait_all_decided(company, order_ids)

        approved = [s for s in states.values() if s["status"] == "approved"]
        rejected = [s for s in states.values() if s["status"] == "rejected"]
        assert {s["reason"] for s in rejected} == {"insufficient_stock"}
        # All or nothing per order, first come first served: 14 x 7 = 98 of 100.
        assert len(approved) == 14 and len(rejected) == 36
        stock = company.stock(WULIANGYE)
        assert stock == {
            "warehouse_code": "WH-CD",
            "sku": WULIANGYE,
            "on_hand": 100,
            "reserved": 98,
            "available": 2,
            "safety_stock": 0,
            "value": "81200.00",  # 100 at 812.00: reserving moves no value
            "damaged": 0,
            "below_safety": False,
            "in_transit": 0,
            "in_transit_value": "0.00",
        }


def test_concurrent_orders_of_one_dealer_never_pass_its_credit_limit(settings):
    with running_company(settings, finance_members=2) as company:
        company.receive(WULIANGYE, 1000)
        company.credit_terms("CD-002", "50000.00")
        order_ids = place_concurrently(company, [("CD-002", {WULIANGYE: 1})] * 50)
        states = wait_all_decided(company, order_ids)

        approved = [s for s in states.values() if s["status"] == "approved"]
        held = [s for s in states.values() if s["status"] == "credit_hold"]
        # 38 x 1299.00 = 49362.00 fits in 50000.00; a 39th would not.
        assert len(approved) == 38 and len(held) == 12
        assert sum(Decimal(s["total"]) for s in approved) <= Decimal("50000.00")
        account = company.account("CD-002")
        assert account["exposure"] == "49362.00"
        assert len(account["orders_on_credit_hold"]) == 12

        # Only a credit controller's override takes the dealer past its limit, one order.
        override = held[0]["order_id"]
        path = "/accounts/CD-002/credit-overrides"
        ok(command(company.finance, path, {"order_id": override}, headers=CREDIT_CONTROLLER))
        assert company.wait_status(override, "approved")["credit_override"] is True
        assert company.account("CD-002")["exposure"] == "50661.00"


def finance_subprocess(settings, *, batch: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DIST_ENV": "development",
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers(),
        "KAFKA_NAMESPACE": settings.kafka_namespace,
        "KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
        "KAFKA_ENABLE_IDEMPOTENCE": str(settings.kafka_enable_idempotence).lower(),
        "FINANCE_PORT": str(port),
        "CONSUMER_MAX_POLL_RECORDS": str(batch),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "finance"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


@contextmanager
def finance_running(settings, *, batch: int = 500):
    process, url = finance_subprocess(settings, batch=batch)
    try:
        with httpx.Client(base_url=url, timeout=20) as client:
            wait_until(lambda: _answers(client, "/healthz"), timeout=30, what="finance to listen")
            yield process, client
    finally:
        process.kill()
        process.wait(timeout=15)


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def query(settings, sql: str, *args) -> list[tuple]:
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            curs.execute(sql, args)
            return curs.fetchall()
    finally:
        conn.close()


def invoices_by_shipment(settings) -> dict[str, int]:
    rows = query(
        settings,
        "SELECT convert_from(state, 'UTF8')::jsonb->>'shipment_id', count(*) "
        "FROM finance.finance_events WHERE topic LIKE %s GROUP BY 1",
        "%Invoice.Issued",
    )
    return dict(rows)


def shipments_in_topic(settings) -> tuple[int, dict[int, int]]:
    """How many ShipmentDispatched messages the inventory topic holds, and its end offset
    per partition (read from the start, outside any group)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(), enable_auto_commit=False
    )
    try:
        topic = settings.topic("inventory")
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count, ends = 0, {p.partition: 0 for p in partitions}
        while batch := consumer.poll(timeout_ms=1000):
            for tp, records in batch.items():
                ends[tp.partition] = records[-1].offset + 1
                count += sum(b".ShipmentDispatched.v" in r.value for r in records)
        return count, ends
    finally:
        consumer.close()


def committed(settings, group: str) -> dict[int, int]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        group_id=settings.consumer_group(group),
        enable_auto_commit=False,
    )
    try:
        topic = settings.topic("inventory")
        return {
            p: consumer.committed(TopicPartition(topic, p)) or 0
            for p in consumer.partitions_for_topic(topic)
        }
    finally:
        consumer.close()


def test_every_shipped_unit_is_invoiced_once_despite_duplicates_and_a_crash(settings):
    with serving(orders_process.build(settings)) as orders:
        with serving(inventory_process.build(settings)) as inventory:
            company = Company(orders, inventory, None)
            company.register()
            company.receive(WULIANGYE, 500)
            company.receive(JIANNANCHUN, 500)
            with finance_running(settings) as (_, finance):
                company.finance = finance
                company.credit_terms("CD-001", "10000000.00")
                order_ids = place_concurrently(
                    company, [("CD-001", {WULIANGYE: 10, JIANNANCHUN: 4})] * 12
                )
                for order_id in order_ids:
                    company.wait_status(order_id, "approved")
                    company.wait_shippable(order_id)
            # Finance is down while the warehouse ships. It comes back with tiny batches and
            # is killed while it invoices.
            shipments = []
            for order_id in order_ids:
                shipments.append(ok(company.ship(order_id, {WULIANGYE: 6})))
                shipments.append(ok(company.ship(order_id, {WULIANGYE: 4, JIANNANCHUN: 4})))
            with finance_running(settings, batch=2) as (process, _):
                wait_until(
                    lambda: len(invoices_by_shipment(settings)) >= 4,
                    timeout=60,
                    what="finance to start invoicing",
                )
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            assert len(invoices_by_shipment(settings)) < len(shipments), "killed too late"

        # The inventory relay publishes everything again, as if it had crashed after
        # publishing and before recording its position: every shipment reaches finance twice.
        conn = psycopg2.connect(settings.postgres().dsn())
        with conn, conn.cursor() as curs:
            curs.execute("UPDATE inventory.relay_state SET position = 0, last_published = 0")
            curs.execute("DELETE FROM inventory.relay_subjects")  # saved with the position
        conn.close()
        with serving(inventory_process.build(settings)):
            wait_until(
                lambda: shipments_in_topic(settings)[0] == 2 * len(shipments),
                timeout=60,
                what="the relay to publish every shipment a second time",
            )
            with finance_running(settings) as (_, finance):
                _, ends = shipments_in_topic(settings)
                wait_until(
                    lambda: all(
                        committed(settings, "finance-saga")[p] >= end for p, end in ends.items()
                    ),
                    timeout=90,
                    what="finance to consume the whole inventory topic",
                )
                account = ok(finance.get("/accounts/CD-001", headers=HQ))

    assert invoices_by_shipment(settings) == {s["shipment_id"]: 1 for s in shipments}
    shipped_value = sum(
        PRICES[line["sku"]] * line["quantity"] for s in shipments for line in s["lines"]
    )
    # Each order: 10 x 1299.00 + 4 x 458.50 = 14824.00, all of it shipped and invoiced.
    assert Decimal(account["invoiced"]) == shipped_value == 12 * Decimal("14824.00")
    assert account["reserved"] == "0.00"


def test_receivables_and_rebates_add_up_to_the_fen(settings):
    with running_company(settings) as company:
        company.receive(JIANNANCHUN, 100)
        company.credit_terms("CD-001", "1000000.00", days=45)
        policy = {
            "policy_code": "TIER1-2026",
            "grade": "tier1_distributor",
            "rate": "0.0150",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        }
        ok(command(company.finance, "/rebate-policies", policy, headers=HQ))
        invoices = []
        for quantity in (1, 1, 1, 3, 7):  # 458.50 x 1.5% = 6.8775: roundings that would drift
            order_id = company.place({JIANNANCHUN: quantity})["order_id"]
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
            ok(company.ship(order_id, {JIANNANCHUN: quantity}))
        account = company.wait_account(lambda a: len(a["open_invoices"]) == 5, what="five invoices")
        invoices = [i["invoice_id"] for i in account["open_invoices"]]

        receipts = [Decimal("1000.00"), Decimal("333.33")]
        for amount in receipts:
            body = {"dealer_code": "CD-001", "amount": str(amount), "received_on": "2026-12-01"}
            ok(command(company.finance, "/receipts", body, headers=CHENGDU_CLERK))
        notes = [Decimal("458.50"), Decimal("12.34")]
        for invoice_id, amount in zip(invoices[-2:], notes, strict=True):
            body = {"invoice_id": invoice_id, "amount": str(amount), "reason": "damaged in transit"}
            ok(command(company.finance, "/credit-notes", body, headers=HQ))

        account = company.account()
        totals = [
            Decimal(ok(company.finance.get(f"/invoices/{i}", headers=HQ))["total"])
            for i in invoices
        ]
        invoiced = sum(totals)
        assert invoiced == 13 * Decimal("458.50")
        assert Decimal(account["receivables"]) == invoiced - sum(receipts) - sum(notes)
        net_sales = invoiced - sum(notes)
        assert Decimal(account["rebate_accrued"]["TIER1-2026"]) == cny(
            net_sales * Decimal("0.0150")
        )
        # An over-large credit note or an over-allocated receipt changes nothing.
        too_big = command(
            company.finance,
            "/credit-notes",
            {"invoice_id": invoices[0], "amount": "99999.00", "reason": "typo"},
            headers=HQ,
        )
        assert too_big.status_code == 409
        assert too_big.json()["code"] == "credit_note_exceeds_open_balance"
        over = command(
            company.finance,
            "/receipts",
            {
                "dealer_code": "CD-001",
                "amount": "10.00",
                "allocations": [{"invoice_id": invoices[0], "amount": "20.00"}],
            },
            headers=CHENGDU_CLERK,
        )
        assert over.status_code == 409 and over.json()["code"] == "over_allocation"
        assert company.account() == account
