"""The reference ERP consumer (erp/) beside the running platform: the demo company's business
posted to a balanced ledger that agrees with the platform to the fen, every published event
fitting its exported schema, redelivery and replay posting nothing twice, poison kept aside,
and a missing event reported as a gap. Real PostgreSQL, the real broker, HTTP."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from decimal import Decimal

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from erp.consumer import ErpSettings, post_records, replay, run
from erp.ledger import Ledger
from erp.schemas import Published
from projections import bootstrap as query_process
from runtime.demo import seed_demo_company
from services.finance import bootstrap as finance_process
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from tests.platform import HQ, command, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def erp_settings(settings) -> ErpSettings:
    return ErpSettings(
        database_url=settings.postgres().dsn(),
        bootstrap_servers=settings.bootstrap_servers(),
        namespace=settings.kafka_namespace,
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )


def topic_records(settings, source: str) -> list:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    topic = settings.topic(source)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    records = list(consumer)
    consumer.close()
    return records


class ErpRunning:
    """The ERP consumer in a thread, as `python -m erp run` runs it."""

    def __init__(self, settings) -> None:
        self.settings = erp_settings(settings)
        self.ledger = Ledger(self.settings.database_url, self.settings.schema)
        self.ledger.migrate()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run,
            args=(self.settings, Ledger(self.settings.database_url), Published.load()),
            kwargs={"stop": self.stop},
            daemon=True,
        )

    def __enter__(self) -> ErpRunning:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        self.ledger.close()

    def received(self) -> int:
        return sum(self.ledger.summary()["received"].values())


def ledger_state(ledger: Ledger) -> tuple:
    return (ledger.trial_balance(), ledger.receivables(), ledger.summary())


@pytest.fixture
def demo_company(settings):
    """The demo company of `make run` on the four processes, plus a credit note and cash
    that arrives before anything is owed (it stays on account)."""
    with (
        serving(orders_process.build(settings)) as orders,
        serving(inventory_process.build(settings)) as inventory,
        serving(finance_process.build(settings)) as finance,
        serving(query_process.build(settings)) as query,
        ErpRunning(settings) as erp,
    ):
        seed_demo_company(
            orders_url=str(orders.base_url).rstrip("/"),
            inventory_url=str(inventory.base_url).rstrip("/"),
            finance_url=str(finance.base_url).rstrip("/"),
            api_key="demo-hq-admin",
        )
        account = finance.get("/accounts/CD-001", headers=HQ).json()
        invoice = account["open_invoices"][0]["invoice_id"]
        note = {"invoice_id": invoice, "amount": "388.00", "reason": "two bottles broken"}
        assert command(finance, "/credit-notes", note, headers=HQ).status_code == 201
        cash = {"dealer_code": "SH-001", "amount": "5000.00", "received_on": "2026-11-20"}
        last = command(finance, "/receipts", cash, headers=HQ)
        assert last.status_code == 201, last.text
        yield {"query": query, "inventory": inventory, "erp": erp, "last": last.json()}


def caught_up(settings, erp: ErpRunning) -> None:
    published = sum(len(topic_records(settings, s)) for s in ("finance", "inventory"))
    wait_until(lambda: erp.received() == published, timeout=60, what="the ERP to catch up")


def assert_every_event_fits_its_exported_schema(settings) -> None:
    """What a consumer written only against contracts/schemas sees (erp.schemas imports
    none of the producer's classes)."""
    published = Published.load()
    types = set()
    for source in ("orders", "inventory", "finance"):
        for record in topic_records(settings, source):
            envelope = published.validate(json.loads(record.value))
            types.add(envelope["type"])
    assert {
        "dist.orders.OrderPlaced.v2",
        "dist.inventory.GoodsReceived.v2",
        "dist.inventory.ShipmentDispatched.v2",
        "dist.finance.InvoiceIssued.v1",
        "dist.finance.ReceiptRecorded.v1",
        "dist.finance.CreditNoteIssued.v2",
        "dist.orders.ReturnApproved.v1",
        "dist.inventory.ReturnReceived.v1",
        "dist.finance.RebateAccrued.v1",
        "dist.finance.RebatePolicyDefined.v2",
        "dist.finance.RebateSettled.v1",
        "dist.finance.RebateClaimFiled.v1",
        "dist.finance.RebateCredited.v1",
    } <= types


def test_the_ledger_balances_and_agrees_with_the_platform_to_the_fen(settings, demo_company):
    erp, query = demo_company["erp"], demo_company["query"]
    caught_up(settings, erp)
    platform = query.get(
        "/hq/receivables",
        params={"by": "dealer", "limit": 1000, "min_position": demo_company["last"]["position"]},
        headers=HQ,
    ).json()["items"]

    balance = {row["account"]: row for row in erp.ledger.trial_balance()}
    assert sum(r["debit"] for r in balance.values()) == sum(r["credit"] for r in balance.values())
    ours = erp.ledger.receivables()
    theirs = {row["dealer"]: Decimal(row["receivables"]) for row in platform}
    assert len(theirs) == 20 and set(ours) <= set(theirs)
    assert {dealer: ours.get(dealer, Decimal("0.00")) for dealer in theirs} == theirs
    assert ours["SH-001"] == Decimal("-5000.00")  # cash on account, nothing owed yet
    assert ours["CD-001"] > 0
    invoiced = sum(Decimal(row["invoiced"]) for row in platform)
    assert balance["6001"]["balance"] == invoiced > 0
    # Sales allowances reduce revenue: the test's credit note, and CD-001's demo return of 3
    # bottles credited at the tier-1 price less the 3 % strong-aroma discount.
    credited = sum(Decimal(row["credited"]) for row in platform)
    assert balance["6001.02"]["balance"] == -credited == Decimal("-388.00") - 3 * Decimal("1163.03")
    # The demo's rebates for CD-001 last month were credited: rebates payable paid down by
    # what was credited, what is left payable = accrued - credited (the platform's pool).
    [pool] = query.get("/hq/rebates/pools", params={"by": "nation"}, headers=HQ).json()["items"]
    assert Decimal(pool["credited"]) > 0
    payable = Decimal(pool["accrued"]) - Decimal(pool["credited"])
    assert balance["2241.01"]["balance"] == payable  # a liability: credit - debit
    # Inventory at cost in the ledger = the stock's value in inventory, warehouse by SKU.
    with erp.ledger.conn.cursor() as curs:
        curs.execute(
            "SELECT warehouse_code, sku, sum(debit - credit) FROM erp.journal_lines "
            "WHERE account = '1405' GROUP BY 1, 2"
        )
        at_cost = curs.fetchall()
    erp.ledger.conn.rollback()
    assert at_cost and all(
        demo_company["inventory"].get(f"/stock/{w}/{sku}", headers=HQ).json()["value"]
        == f"{value:.2f}"
        for w, sku, value in at_cost
    )
    summary = erp.ledger.summary()
    assert set(summary["received"]) == {"posted", "nothing_to_post"}
    assert summary["unreadable"] == 0 and summary["unvalued_movements"] == 0
    assert erp.ledger.gaps() == []
    assert_every_event_fits_its_exported_schema(settings)


def test_redelivery_and_replay_post_nothing_twice_and_poison_is_kept_aside(settings, demo_company):
    erp = demo_company["erp"]
    caught_up(settings, erp)
    before = ledger_state(erp.ledger)
    records = [r for s in ("finance", "inventory") for r in topic_records(settings, s)]

    result = post_records(erp.ledger, Published.load(), records)  # all of it, again
    assert result["duplicate"] == len(records) and result["posted"] == 0
    for source, position in (("finance", 1), ("inventory", 1), ("finance", 20)):
        forgotten, tally = replay(
            erp.settings, erp.ledger, Published.load(), source=source, from_position=position
        )
        assert forgotten > 0 and tally.outcomes["posted"] > 0
        assert ledger_state(erp.ledger) == before, (source, position)

    # Poison on the finance topic: not JSON, and an invoice whose data breaks its schema.
    [invoice] = [r for r in records if b".InvoiceIssued." in r.value][:1]
    broken = json.loads(invoice.value)
    broken.update(id=str(uuid.uuid4()), position=broken["position"] + 100_000)
    broken["data"]["total"] = 1299.0  # money as a float
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers())
    topic = settings.topic("finance")
    producer.send(topic, key=b"poison", value=b"{not json")
    producer.send(topic, key=b"poison", value=json.dumps(broken).encode())
    producer.flush()
    producer.close()
    wait_until(
        lambda: (
            erp.ledger.summary()["unreadable"] == 1
            and erp.ledger.summary()["received"].get("rejected") == 1
        ),
        timeout=30,
        what="the poison to be kept aside",
    )
    with erp.ledger.conn.cursor() as curs:
        curs.execute("SELECT reason FROM erp.rejected")
        [(reason,)] = curs.fetchall()
    erp.ledger.conn.rollback()
    assert "total" in reason
    assert erp.ledger.trial_balance() == before[0]


def test_a_missing_event_is_reported_as_a_gap_until_it_arrives(settings):
    ledger = Ledger(settings.postgres().dsn(), "erp_gaps")
    ledger.migrate()
    try:
        rebate = {
            "specversion": "1.0",
            "source": "finance",
            "type": "dist.finance.RebateAccrued.v1",
            "subject": "account-CD-001",
            "time": "2026-11-21T02:00:00Z",
            "datacontenttype": "application/json",
            "data": {
                "dealer_code": "CD-001",
                "policy_code": "TIER1-REBATE",
                "document_id": "inv-1",
                "business_date": "2026-11-21",
                "base": "14388.00",
                "amount": "287.76",
            },
        }

        def numbered(sequence: int) -> dict:
            event = copy.deepcopy(rebate)
            event.update(
                id=f"e-{sequence}", sequence=sequence, position=10 + sequence, previousposition=9
            )
            return event

        first = ledger.record([numbered(1), numbered(3)], {})
        assert first["gaps"] == [("finance", "account-CD-001", 2)]
        assert ledger.gaps() == [("finance", "account-CD-001", 2)]
        ledger.record([numbered(2)], {})
        assert ledger.gaps() == []
        balance = {row["account"]: row["balance"] for row in ledger.trial_balance()}
        assert balance["2241.01"] == 3 * Decimal("287.76")
    finally:
        with ledger.conn, ledger.conn.cursor() as curs:
            curs.execute('DROP SCHEMA "erp_gaps" CASCADE')
        ledger.close()
