"""The reference ERP's posting rules (erp/postings.py): each event's journal entry, balanced,
from the published data alone."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from erp.postings import Unpostable, post


def envelope(type_name: str, data: dict) -> dict:
    return {"type": type_name, "data": data}


def lines_of(entry) -> list[tuple]:
    return [(line.account, line.debit, line.credit, line.dealer_code) for line in entry.lines]


D = Decimal


class TestFinance:
    def test_an_invoice_is_owed_by_the_dealer_and_earns_revenue_per_sku(self):
        entry = post(
            envelope(
                "dist.finance.InvoiceIssued.v1",
                {
                    "invoice_id": "inv-1",
                    "invoice_number": "INV-CD-000123",
                    "dealer_code": "CD-001",
                    "order_id": "o-1",
                    "shipment_id": "s-1",
                    "issue_date": "2026-11-21",
                    "due_date": "2026-12-21",
                    "lines": [
                        {
                            "sku": "WULIANGYE-52-500ML",
                            "category": "BAIJIU",
                            "quantity": 12,
                            "unit_price": "1199.00",
                            "amount": "14388.00",
                        },
                        {
                            "sku": "JIANNANCHUN-52-500ML",
                            "category": "BAIJIU",
                            "quantity": 2,
                            "unit_price": "0.00",
                            "amount": "0.00",
                        },  # a gift line posts nothing
                    ],
                    "total": "14388.00",
                },
            )
        )
        assert lines_of(entry) == [
            ("1122", D("14388.00"), D("0.00"), "CD-001"),
            ("6001", D("0.00"), D("14388.00"), "CD-001"),
        ]
        assert str(entry.business_date) == "2026-11-21"

    def test_an_invoice_whose_lines_do_not_add_up_is_not_posted(self):
        data = {
            "invoice_id": "inv-2",
            "invoice_number": "INV-CD-000124",
            "dealer_code": "CD-001",
            "order_id": "o-2",
            "shipment_id": "s-2",
            "issue_date": "2026-11-21",
            "due_date": "2026-12-21",
            "total": "100.00",
            "lines": [
                {
                    "sku": "TSINGTAO-1903-330ML",
                    "category": "BEER",
                    "quantity": 10,
                    "unit_price": "8.80",
                    "amount": "88.00",
                }
            ],
        }
        with pytest.raises(Unpostable, match="do not add up"):
            post(envelope("dist.finance.InvoiceIssued.v1", data))

    def test_cash_settles_invoices_and_the_rest_is_held_on_account(self):
        entry = post(
            envelope(
                "dist.finance.ReceiptRecorded.v1",
                {
                    "receipt_id": "r-1",
                    "dealer_code": "CD-002",
                    "amount": "40000.00",
                    "received_on": "2026-11-25",
                    "allocations": [{"invoice_id": "inv-1", "amount": "34458.00"}],
                    "unapplied": "5542.00",
                },
            )
        )
        assert lines_of(entry) == [
            ("1002", D("40000.00"), D("0.00"), "CD-002"),
            ("1122", D("0.00"), D("34458.00"), "CD-002"),
            ("2203", D("0.00"), D("5542.00"), "CD-002"),
        ]

    def test_a_rebate_given_back_by_a_credit_note_reverses_the_accrual(self):
        accrued = post(
            envelope(
                "dist.finance.RebateAccrued.v1",
                {
                    "dealer_code": "CD-001",
                    "policy_code": "TIER1-REBATE",
                    "document_id": "cn-1",
                    "business_date": "2026-11-26",
                    "base": "-1000.00",
                    "amount": "-20.00",
                },
            )
        )
        assert lines_of(accrued) == [
            ("6001.03", D("0.00"), D("20.00"), "CD-001"),
            ("2241.01", D("20.00"), D("0.00"), "CD-001"),
        ]

    def test_a_rebate_credited_pays_the_payable_off_receivables_and_the_rest_on_account(self):
        credited = post(
            envelope(
                "dist.finance.RebateCredited.v1",
                {
                    "claim_id": "claim-1",
                    "dealer_code": "CD-001",
                    "amount": "622.43",
                    "credited_on": "2027-01-05",
                    "allocations": [{"invoice_id": "inv-1", "amount": "458.50"}],
                    "unapplied": "163.93",
                },
            )
        )
        assert lines_of(credited) == [
            ("2241.01", D("622.43"), D("0.00"), "CD-001"),
            ("1122", D("0.00"), D("458.50"), "CD-001"),
            ("2203", D("0.00"), D("163.93"), "CD-001"),
        ]
        assert str(credited.business_date) == "2027-01-05"

    def test_a_rebate_credited_whose_parts_do_not_add_up_is_not_posted(self):
        data = {
            "claim_id": "claim-2",
            "dealer_code": "CD-001",
            "amount": "600.00",
            "credited_on": "2027-01-05",
            "allocations": [{"invoice_id": "inv-1", "amount": "458.50"}],
            "unapplied": "0.00",
        }
        with pytest.raises(Unpostable):
            post(envelope("dist.finance.RebateCredited.v1", data))

    @pytest.mark.parametrize(
        "type_name",
        [
            "dist.finance.CreditReserved.v1",
            "dist.orders.OrderPlaced.v1",
            "dist.inventory.StockReserved.v1",
            "dist.finance.RebateSettled.v1",  # the payable was recognised as it accrued
            "dist.finance.RebateClaimFiled.v1",
        ],
    )
    def test_events_that_move_no_money_or_stock_post_nothing(self, type_name):
        assert post(envelope(type_name, {})) is None


class TestStock:
    def test_opening_stock_at_cost_against_opening_balances(self):
        entry = post(
            envelope(
                "dist.inventory.OpeningStockRecorded.v1",
                {
                    "opening_id": "ob-1",
                    "document_number": "OB-WH-CD-001",
                    "warehouse_code": "WH-CD",
                    "cut_over_date": "2026-10-31",
                    "lines": [
                        {
                            "sku": "WULIANGYE-52-500ML",
                            "quantity": 100,
                            "unit_cost": "812.35",
                            "value": "81235.00",
                        }
                    ],
                    "value": "81235.00",
                },
            )
        )
        assert entry.business_date.isoformat() == "2026-10-31"
        assert [(line.account, line.debit, line.credit) for line in entry.lines] == [
            ("1405", D("81235.00"), D("0.00")),
            ("4199", D("0.00"), D("81235.00")),
        ]
        [movement] = entry.movements
        assert (movement.quantity, movement.value) == (100, D("81235.00"))

    def test_goods_in_at_cost_against_goods_received_not_invoiced(self):
        entry = post(
            envelope(
                "dist.inventory.GoodsReceived.v2",
                {
                    "receipt_id": "gr-1",
                    "warehouse_code": "WH-CD",
                    "business_date": "2026-11-02",
                    "lines": [
                        {
                            "sku": "WULIANGYE-52-500ML",
                            "quantity": 120,
                            "unit_cost": "865.00",
                            "value": "103800.00",
                        }
                    ],
                    "value": "103800.00",
                },
            )
        )
        assert [
            (line.account, line.debit, line.credit, line.warehouse_code) for line in entry.lines
        ] == [
            ("1405", D("103800.00"), D("0.00"), "WH-CD"),
            ("2202.01", D("0.00"), D("103800.00"), "WH-CD"),
        ]
        [movement] = entry.movements
        assert (movement.quantity, movement.value) == (120, D("103800.00"))

    def test_a_shipment_costs_goods_sold_out_of_inventory(self):
        entry = post(
            envelope(
                "dist.inventory.ShipmentDispatched.v2",
                {
                    "shipment_id": "s-1",
                    "order_id": "o-1",
                    "dealer_code": "CD-001",
                    "warehouse_code": "WH-CD",
                    "ship_date": "2026-11-21",
                    "order_complete": True,
                    "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 30, "cost": "24300.00"}],
                    "cost": "24300.00",
                },
            )
        )
        assert [(line.account, line.debit, line.credit) for line in entry.lines] == [
            ("6401", D("24300.00"), D("0.00")),
            ("1405", D("0.00"), D("24300.00")),
        ]
        [movement] = entry.movements
        assert (movement.quantity, movement.value) == (-30, D("-24300.00"))

    def test_stock_moved_before_it_was_valued_is_a_quantity_only_movement(self):
        entry = post(
            envelope(
                "dist.inventory.GoodsReceived.v1",
                {
                    "receipt_id": "gr-0",
                    "warehouse_code": "WH-CD",
                    "business_date": "2026-06-02",
                    "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 120}],
                },
            )
        )
        assert entry.lines == []
        [movement] = entry.movements
        assert (movement.quantity, movement.value) == (120, None)


def test_the_reference_consumer_imports_nothing_of_the_platform():
    """It is what another team would write: only the exported schemas tie it to us."""
    probe = (
        "import sys, erp.__main__, erp.consumer, erp.ledger, erp.postings, erp.schemas; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'contracts', 'runtime', 'services', 'projections', 'bench'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def accounts(entry) -> list[tuple]:
    return [(line.account, line.debit, line.credit, line.warehouse_code) for line in entry.lines]


class TestStockMovedWithoutAnOrder:
    def test_a_transfer_moves_inventory_into_transit_and_a_shortfall_is_a_transit_loss(self):
        line = {"sku": "WULIANGYE-52-500ML", "quantity": 30, "cost": "25950.00"}
        out = post(
            envelope(
                "dist.inventory.TransferDispatched.v1",
                {
                    "transfer_id": "t-1",
                    "from_warehouse": "WH-CENTRAL",
                    "to_warehouse": "WH-CD-01",
                    "ship_date": "2026-11-20",
                    "lines": [line],
                    "cost": "25950.00",
                },
            )
        )
        assert accounts(out) == [
            ("1405.01", D("25950.00"), D("0.00"), "WH-CD-01"),
            ("1405", D("0.00"), D("25950.00"), "WH-CENTRAL"),
        ]
        arrived = {
            "sku": "WULIANGYE-52-500ML",
            "dispatched": 30,
            "received": 27,
            "damaged": 2,
            "cost": "25950.00",
            "value": "25085.00",
            "difference": "-865.00",
            "reason": "damaged_in_transit",
            "note": None,
        }
        received = post(
            envelope(
                "dist.inventory.TransferReceived.v1",
                {
                    "transfer_id": "t-1",
                    "from_warehouse": "WH-CENTRAL",
                    "to_warehouse": "WH-CD-01",
                    "received_on": "2026-11-22",
                    "lines": [arrived],
                    "cost": "25950.00",
                    "value": "25085.00",
                    "difference": "-865.00",
                },
            )
        )
        assert accounts(received) == [
            ("1405", D("25085.00"), D("0.00"), "WH-CD-01"),
            ("1405.01", D("0.00"), D("25950.00"), "WH-CD-01"),
            ("1901", D("865.00"), D("0.00"), "WH-CD-01"),
        ]
        [movement] = received.movements
        assert (movement.quantity, movement.value) == (29, D("25085.00"))

    def test_a_stocktake_posts_gains_and_losses_and_skips_lines_without_variance(self):
        def counted(sku, variance, value):
            return {
                "sku": sku,
                "book": 100,
                "counted": 100 + variance,
                "variance": variance,
                "value": value,
                "reason": "theft_or_loss" if variance else None,
            }

        entry = post(
            envelope(
                "dist.inventory.StocktakePosted.v1",
                {
                    "stocktake_id": "st-1",
                    "warehouse_code": "WH-CD-01",
                    "count_date": "2026-11-25",
                    "posted_on": "2026-11-26",
                    "lines": [
                        counted("WULIANGYE-52-500ML", -3, "-2595.00"),
                        counted("JIANNANCHUN-52-500ML", 1, "296.40"),
                        counted("TSINGTAO-1903-330ML", 0, "0.00"),
                    ],
                    "value": "-2298.60",
                },
            )
        )
        assert accounts(entry) == [
            ("1405", D("0.00"), D("2595.00"), "WH-CD-01"),
            ("1901", D("2595.00"), D("0.00"), "WH-CD-01"),
            ("1405", D("296.40"), D("0.00"), "WH-CD-01"),
            ("1901", D("0.00"), D("296.40"), "WH-CD-01"),
        ]

    def test_a_write_off_and_a_consignment_sale_take_inventory_at_cost(self):
        written_off = post(
            envelope(
                "dist.inventory.DamagedStockWrittenOff.v1",
                {
                    "warehouse_code": "WH-CD-01",
                    "sku": "WULIANGYE-52-500ML",
                    "quantity": 4,
                    "cost": "3460.00",
                    "document_id": "wo-1",
                    "reason": "labels torn in a leak",
                    "business_date": "2026-11-21",
                },
            )
        )
        assert accounts(written_off) == [
            ("1901", D("3460.00"), D("0.00"), "WH-CD-01"),
            ("1405", D("0.00"), D("3460.00"), "WH-CD-01"),
        ]
        sold = post(
            envelope(
                "dist.inventory.ConsignmentSellThroughReported.v1",
                {
                    "report_id": "r-1",
                    "warehouse_code": "WH-CSG-CD-001",
                    "dealer_code": "CD-001",
                    "branch": "CD",
                    "period_from": "2026-11-01",
                    "period_to": "2026-11-30",
                    "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 10, "cost": "8650.00"}],
                    "cost": "8650.00",
                },
            )
        )
        assert accounts(sold) == [
            ("6401", D("8650.00"), D("0.00"), None),
            ("1405", D("0.00"), D("8650.00"), "WH-CSG-CD-001"),
        ]
