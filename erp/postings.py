"""From a published event to a journal entry: the ERP's posting rules, pure functions.

Money arrives as decimal strings to the fen and stays ``Decimal``. Every entry balances
(debits = credits) or is refused before anything is written. Events that move no money
(orders, reservations, credit decisions, deliveries) post nothing. Stock that moves without
a value (events published before the platform valued stock, v1) is kept as a quantity-only
stock movement and counted in the report of unvalued movements, never guessed at.

The chart of accounts follows the Chinese enterprise accounting standards' numbering;
revenue reductions (credit notes, rebates) post to sub-accounts of revenue, as variable
consideration reduces revenue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from erp.schemas import event_name

ZERO = Decimal("0.00")

# code: (name, kind). Kinds: asset, liability, revenue, expense.
ACCOUNTS: dict[str, tuple[str, str]] = {
    "1002": ("Bank deposits 银行存款", "asset"),
    "1122": ("Accounts receivable 应收账款", "asset"),
    "1405": ("Inventory at cost 库存商品", "asset"),
    "1405.01": ("Inventory in transit between warehouses 库存商品-在途", "asset"),
    "1901": ("Stock gains and losses pending 待处理财产损溢", "asset"),
    "2202.01": ("Goods received, not invoiced 应付账款-暂估", "liability"),
    # Opening balances brought in at the cut-over are credited (stock, receivables) or
    # debited (cash and rebates owed) here; the accountant clears it to equity (期初余额过渡).
    "4199": ("Opening balances clearing 期初余额过渡", "liability"),
    "2203": ("Advances from customers 预收账款", "liability"),
    "2241.01": ("Rebates payable 其他应付款-返利", "liability"),
    "6001": ("Sales revenue 主营业务收入", "revenue"),
    "6001.02": ("Sales allowances (credit notes) 主营业务收入-销售折让", "revenue"),
    "6001.03": ("Sales rebates 主营业务收入-返利", "revenue"),
    "6401": ("Cost of goods sold 主营业务成本", "expense"),
}
RECEIVABLE, ADVANCES = "1122", "2203"


class Unpostable(ValueError):
    """An event whose figures do not add up (it is reported, not posted)."""


@dataclass(frozen=True)
class Line:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    dealer_code: str | None = None
    warehouse_code: str | None = None
    sku: str | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class StockMovement:
    warehouse_code: str
    sku: str
    quantity: int  # + in, - out
    value: Decimal | None  # at cost, signed as the quantity; None: not valued (v1 events)


@dataclass
class Entry:
    """What one event posts: journal lines (balanced) and stock movements."""

    business_date: date | None
    memo: str
    lines: list[Line] = field(default_factory=list)
    movements: list[StockMovement] = field(default_factory=list)

    def debit(self, account: str, amount: Decimal, **where: Any) -> None:
        self._add(account, amount, True, where)

    def credit(self, account: str, amount: Decimal, **where: Any) -> None:
        self._add(account, amount, False, where)

    def _add(self, account: str, amount: Decimal, debit: bool, where: dict[str, Any]) -> None:
        if amount == 0:
            return  # a gift line at zero price, a rebate of nothing
        if amount < 0:  # a negative debit is a credit (a rebate given back)
            amount, debit = -amount, not debit
        side = {"debit": amount} if debit else {"credit": amount}
        self.lines.append(Line(account, **side, **where))

    def check_balanced(self) -> None:
        debits = sum((line.debit for line in self.lines), ZERO)
        credits = sum((line.credit for line in self.lines), ZERO)
        if debits != credits:
            raise Unpostable(f"{self.memo}: debits {debits} != credits {credits}")


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def post(envelope: dict[str, Any]) -> Entry | None:
    """The entry an event posts, or None when it moves no money and no stock."""
    service, name, _version = event_name(envelope["type"])  # the rules read every version
    rule = _RULES.get((service, name))
    if rule is None:
        return None
    entry = rule(envelope["data"])
    entry.check_balanced()
    return entry


def _invoice_issued(data: dict) -> Entry:
    """Dr receivable (the dealer) / Cr revenue per line (its SKU)."""
    total = Decimal(data["total"])
    lines = [(line["sku"], line["quantity"], Decimal(line["amount"])) for line in data["lines"]]
    if sum((amount for *_, amount in lines), ZERO) != total:
        raise Unpostable(f"invoice {data['invoice_number']}: lines do not add up to its total")
    entry = Entry(date.fromisoformat(data["issue_date"]), f"invoice {data['invoice_number']}")
    entry.debit(RECEIVABLE, total, dealer_code=data["dealer_code"])
    for sku, quantity, amount in lines:
        entry.credit("6001", amount, dealer_code=data["dealer_code"], sku=sku, quantity=quantity)
    return entry


def _receipt_recorded(data: dict) -> Entry:
    """Dr bank / Cr receivable for what settled invoices, Cr advances for the rest."""
    amount, unapplied = Decimal(data["amount"]), Decimal(data["unapplied"])
    allocated = sum((Decimal(a["amount"]) for a in data["allocations"]), ZERO)
    if allocated + unapplied != amount:
        raise Unpostable(f"receipt {data['receipt_id']}: allocations + unapplied != amount")
    dealer = data["dealer_code"]
    entry = Entry(date.fromisoformat(data["received_on"]), f"receipt from {dealer}")
    entry.debit("1002", amount, dealer_code=dealer)
    entry.credit(RECEIVABLE, allocated, dealer_code=dealer)
    entry.credit(ADVANCES, unapplied, dealer_code=dealer)
    return entry


def _cash_applied(data: dict) -> Entry:
    """核销: Dr advances from customers / Cr receivable: what was held on account (credited to
    2203 when it arrived) now settles invoices. The dealer's net balance does not move."""
    amount = Decimal(data["amount"])
    allocated = sum((Decimal(a["amount"]) for a in data["allocations"]), ZERO)
    if allocated != amount:
        raise Unpostable(f"cash application {data['application_id']}: allocations != amount")
    dealer = data["dealer_code"]
    entry = Entry(date.fromisoformat(data["applied_on"]), f"cash on account applied for {dealer}")
    entry.debit(ADVANCES, amount, dealer_code=dealer)
    entry.credit(RECEIVABLE, amount, dealer_code=dealer)
    return entry


def _credit_note_issued(data: dict) -> Entry:
    """Dr sales allowances / Cr receivable for what settled invoices, Cr advances for what a
    return's credit left on account (v2; all of a v1 credit note settled its invoice)."""
    amount, dealer = Decimal(data["amount"]), data["dealer_code"]
    unapplied = Decimal(data.get("unapplied", "0.00"))
    entry = Entry(date.fromisoformat(data["issued_on"]), f"credit note: {data['reason']}")
    entry.debit("6001.02", amount, dealer_code=dealer)
    entry.credit(RECEIVABLE, amount - unapplied, dealer_code=dealer)
    entry.credit(ADVANCES, unapplied, dealer_code=dealer)
    return entry


def _rebate_accrued(data: dict) -> Entry:
    """Dr sales rebates / Cr rebates payable (reversed when a credit note gives it back)."""
    amount, dealer = Decimal(data["amount"]), data["dealer_code"]
    entry = Entry(
        date.fromisoformat(data["business_date"]),
        f"rebate {data['policy_code']} on {data['document_id']}",
    )
    entry.debit("6001.03", amount, dealer_code=dealer)
    entry.credit("2241.01", amount, dealer_code=dealer)
    return entry


def _rebate_credited(data: dict) -> Entry:
    """Dr rebates payable / Cr receivable for what settled invoices, Cr advances for the
    rest held on account (as unapplied cash is). Settlements post nothing: the liability
    was recognised as the rebate accrued."""
    amount, unapplied = Decimal(data["amount"]), Decimal(data["unapplied"])
    allocated = sum((Decimal(a["amount"]) for a in data["allocations"]), ZERO)
    if allocated + unapplied != amount:
        raise Unpostable(f"rebate claim {data['claim_id']}: allocations + unapplied != amount")
    dealer = data["dealer_code"]
    entry = Entry(date.fromisoformat(data["credited_on"]), f"rebate credited to {dealer}")
    entry.debit("2241.01", amount, dealer_code=dealer)
    entry.credit(RECEIVABLE, allocated, dealer_code=dealer)
    entry.credit(ADVANCES, unapplied, dealer_code=dealer)
    return entry


def _goods_received(data: dict) -> Entry:
    """Dr inventory / Cr goods received not invoiced, at each line's value (v2)."""
    warehouse = data["warehouse_code"]
    entry = Entry(date.fromisoformat(data["business_date"]), f"goods receipt at {warehouse}")
    for line in data["lines"]:
        value = money(line.get("value"))  # v1 lines carry no value
        entry.movements.append(StockMovement(warehouse, line["sku"], line["quantity"], value))
        if value is not None:
            where = {"warehouse_code": warehouse, "sku": line["sku"]}
            entry.debit("1405", value, **where, quantity=line["quantity"])
            entry.credit("2202.01", value, **where)
    return entry


def _opening_invoice(data: dict) -> Entry:
    """Dr receivable (the dealer) / Cr opening balances clearing, at what is still open."""
    amount = money(data["open_amount"])
    entry = Entry(
        date.fromisoformat(data["cut_over_date"]),
        f"opening invoice {data['invoice_number']} of {data['dealer_code']}",
    )
    entry.debit(RECEIVABLE, amount, dealer_code=data["dealer_code"])
    entry.credit("4199", amount, dealer_code=data["dealer_code"])
    return entry


def _opening_cash(data: dict) -> Entry:
    """Dr opening balances clearing / Cr advances from customers (the dealer)."""
    amount, dealer = money(data["amount"]), data["dealer_code"]
    entry = Entry(
        date.fromisoformat(data["cut_over_date"]),
        f"opening cash {data['document_number']} of {dealer}",
    )
    entry.debit("4199", amount, dealer_code=dealer)
    entry.credit(ADVANCES, amount, dealer_code=dealer)
    return entry


def _opening_rebate_pool(data: dict) -> Entry:
    """Dr opening balances clearing / Cr rebates payable: the pool the dealer may claim."""
    amount, dealer = money(data["amount"]), data["dealer_code"]
    entry = Entry(
        date.fromisoformat(data["cut_over_date"]),
        f"opening rebate pool {data['document_number']} of {dealer} ({data['policy_code']})",
    )
    entry.debit("4199", amount, dealer_code=dealer)
    entry.credit("2241.01", amount, dealer_code=dealer)
    return entry


def _opening_stock(data: dict) -> Entry:
    """Dr inventory / Cr opening balances clearing, at each line's value."""
    warehouse = data["warehouse_code"]
    entry = Entry(
        date.fromisoformat(data["cut_over_date"]),
        f"opening stock {data['document_number']} at {warehouse}",
    )
    for line in data["lines"]:
        value = money(line["value"])
        entry.movements.append(StockMovement(warehouse, line["sku"], line["quantity"], value))
        where = {"warehouse_code": warehouse, "sku": line["sku"]}
        entry.debit("1405", value, **where, quantity=line["quantity"])
        entry.credit("4199", value, **where)
    return entry


def _shipment_dispatched(data: dict) -> Entry:
    """Dr cost of goods sold / Cr inventory, at each line's cost (v2)."""
    warehouse = data["warehouse_code"]
    entry = Entry(
        date.fromisoformat(data["ship_date"]), f"shipment to {data['dealer_code']} from {warehouse}"
    )
    for line in data["lines"]:
        cost = money(line.get("cost"))  # v1 lines carry no cost
        out = None if cost is None else -cost
        entry.movements.append(StockMovement(warehouse, line["sku"], -line["quantity"], out))
        if cost is not None:
            where = {"warehouse_code": warehouse, "sku": line["sku"]}
            entry.debit("6401", cost, dealer_code=data["dealer_code"], sku=line["sku"])
            entry.credit("1405", cost, **where, quantity=-line["quantity"])
    return entry


def _transfer_dispatched(data: dict) -> Entry:
    """Dr inventory in transit (the destination) / Cr inventory (the source), at cost."""
    source, destination = data["from_warehouse"], data["to_warehouse"]
    entry = Entry(date.fromisoformat(data["ship_date"]), f"transfer {source} -> {destination}")
    for line in data["lines"]:
        cost, sku = Decimal(line["cost"]), line["sku"]
        entry.movements.append(StockMovement(source, sku, -line["quantity"], -cost))
        entry.debit("1405.01", cost, warehouse_code=destination, sku=sku)
        entry.credit("1405", cost, warehouse_code=source, sku=sku, quantity=-line["quantity"])
    return entry


def _transfer_received(data: dict) -> Entry:
    """Dr inventory (the destination) at what arrived / Cr inventory in transit at what
    left; a transit loss Dr (a gain Cr) stock gains and losses."""
    destination = data["to_warehouse"]
    entry = Entry(date.fromisoformat(data["received_on"]), f"transfer received at {destination}")
    for line in data["lines"]:
        sku, value, cost = line["sku"], Decimal(line["value"]), Decimal(line["cost"])
        arrived = line["received"] + line["damaged"]
        where = {"warehouse_code": destination, "sku": sku}
        if arrived:
            entry.movements.append(StockMovement(destination, sku, arrived, value))
        entry.debit("1405", value, **where, quantity=arrived)
        entry.credit("1405.01", cost, **where)
        entry.debit("1901", cost - value, **where)  # a loss; negative (a gain) credits
    return entry


def _stocktake_posted(data: dict) -> Entry:
    """A count gain Dr inventory / Cr stock gains and losses; a loss the other way."""
    warehouse = data["warehouse_code"]
    entry = Entry(date.fromisoformat(data["posted_on"]), f"stocktake at {warehouse}")
    for line in data["lines"]:
        if not line["variance"]:
            continue
        value, where = Decimal(line["value"]), {"warehouse_code": warehouse, "sku": line["sku"]}
        entry.movements.append(StockMovement(warehouse, line["sku"], line["variance"], value))
        entry.debit("1405", value, **where, quantity=line["variance"])
        entry.credit("1901", value, **where)
    return entry


def _damaged_written_off(data: dict) -> Entry:
    """Dr stock gains and losses / Cr inventory, at cost."""
    warehouse, sku, cost = data["warehouse_code"], data["sku"], Decimal(data["cost"])
    entry = Entry(date.fromisoformat(data["business_date"]), f"write-off: {data['reason']}")
    entry.movements.append(StockMovement(warehouse, sku, -data["quantity"], -cost))
    entry.debit("1901", cost, warehouse_code=warehouse, sku=sku)
    entry.credit("1405", cost, warehouse_code=warehouse, sku=sku, quantity=-data["quantity"])
    return entry


def _consignment_sold(data: dict) -> Entry:
    """Dr cost of goods sold / Cr inventory (the dealer's consignment warehouse), at cost.
    The revenue is posted when finance invoices the sale."""
    warehouse, dealer = data["warehouse_code"], data["dealer_code"]
    entry = Entry(date.fromisoformat(data["period_to"]), f"consignment sold by {dealer}")
    for line in data["lines"]:
        cost, sku = Decimal(line["cost"]), line["sku"]
        entry.movements.append(StockMovement(warehouse, sku, -line["quantity"], -cost))
        entry.debit("6401", cost, dealer_code=dealer, sku=sku)
        entry.credit("1405", cost, warehouse_code=warehouse, sku=sku, quantity=-line["quantity"])
    return entry


def _return_received(data: dict) -> Entry:
    """Dr inventory / Cr cost of goods sold: goods a dealer returned are stock again, at what
    they cost when they shipped (good or damaged alike; a write-off posts the loss later).
    The revenue side is finance's credit note."""
    warehouse, dealer = data["warehouse_code"], data["dealer_code"]
    entry = Entry(date.fromisoformat(data["received_on"]), f"return from {dealer} into {warehouse}")
    for line in data["lines"]:
        value, sku = Decimal(line["value"]), line["sku"]
        quantity = line["good"] + line["damaged"]
        entry.movements.append(StockMovement(warehouse, sku, quantity, value))
        entry.debit("1405", value, warehouse_code=warehouse, sku=sku, quantity=quantity)
        entry.credit("6401", value, dealer_code=dealer, sku=sku)
    return entry


_RULES = {
    ("finance", "InvoiceIssued"): _invoice_issued,
    ("finance", "ReceiptRecorded"): _receipt_recorded,
    ("finance", "CreditNoteIssued"): _credit_note_issued,
    ("finance", "RebateAccrued"): _rebate_accrued,
    ("finance", "RebateCredited"): _rebate_credited,
    ("inventory", "GoodsReceived"): _goods_received,
    ("inventory", "OpeningStockRecorded"): _opening_stock,
    ("finance", "OpeningInvoiceRecorded"): _opening_invoice,
    ("finance", "OpeningCashRecorded"): _opening_cash,
    ("finance", "CashApplied"): _cash_applied,
    ("finance", "OpeningRebatePoolRecorded"): _opening_rebate_pool,
    ("inventory", "ShipmentDispatched"): _shipment_dispatched,
    ("inventory", "TransferDispatched"): _transfer_dispatched,
    ("inventory", "TransferReceived"): _transfer_received,
    ("inventory", "StocktakePosted"): _stocktake_posted,
    ("inventory", "DamagedStockWrittenOff"): _damaged_written_off,
    ("inventory", "ConsignmentSellThroughReported"): _consignment_sold,
    ("inventory", "ReturnReceived"): _return_received,
}
