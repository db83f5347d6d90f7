"""What can be imported, and how each kind of row becomes a command of the service that owns
it. A row is read by the very schema the HTTP command reads (so the rules, and their 422
reasons, have one source), checked against what the service already knows (an unknown
branch, SKU, dealer, warehouse or rebate policy), and written through the service's
application exactly as the route writes it, under an idempotency key derived from the kind
and the row's natural key (so importing the same file again writes nothing new).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from runtime.eventstore import CommandResult, IdempotencyKey
from runtime.http.auth import Principal
from runtime.http.schemas import Code, IsoDate
from services.finance.api.opening import (
    OpeningCashCreate,
    OpeningInvoiceCreate,
    OpeningRebatePoolCreate,
)
from services.finance.application import (
    RecordOpeningCash,
    RecordOpeningInvoice,
    RecordOpeningRebatePool,
)
from services.inventory.api.opening import OpeningStockCreate
from services.inventory.api.routes import ReceiptLine, WarehouseCreate
from services.inventory.application import RecordOpeningStock, RegisterWarehouse
from services.kernel.dates import business_today
from services.kernel.errors import DomainError
from services.orders.api.deps import actor_of
from services.orders.api.schemas import (
    BranchCreate,
    DealerCreate,
    PriceCreate,
    ProductCreate,
    RegionCreate,
)
from services.orders.application import RegisterDealer, RegisterProduct
from services.orders.domain import DealerGrade, Product, UnknownProduct
from services.organisation.domain import unknown_region


class Lookups:
    """What the service knows, asked once per distinct question during one import (a file
    of 50,000 dealers in 5 branches asks about 5 branches), failures remembered too."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._answers: dict[tuple[str, Any], tuple[Any, DomainError | None]] = {}

    def once(self, question: str, argument: Any, ask: Callable[[], Any]) -> Any:
        if (question, argument) not in self._answers:
            try:
                self._answers[question, argument] = (ask(), None)
            except DomainError as error:
                self._answers[question, argument] = (None, error)
        value, error = self._answers[question, argument]
        if error is not None:
            raise error
        return value


@dataclass(frozen=True)
class Command:
    """One command of an import: the rows it comes from, what it says (its fingerprint),
    the lane it must queue in behind commands changing the same aggregate, and how to run
    it against the application."""

    key: str
    lines: tuple[int, ...]
    payload: dict[str, Any]
    lane: str | None
    run: Callable[[Any, Principal, IdempotencyKey], CommandResult]
    row: Any = None


Row = tuple[int, Any]  # (line, validated row)


@dataclass(frozen=True)
class Kind:
    name: str
    service: str
    row: type[BaseModel]
    key: Callable[[Any], str]
    check: Callable[[Lookups, Any], None] = lambda _lookups, _row: None
    # What the checks need to know about the whole file, asked at once before them.
    prefetch: Callable[[Lookups, list[Any]], None] = lambda _lookups, _rows: None
    # Rows that make one command together (an opening-stock document); None: one per row.
    commands: Callable[[list[Row]], tuple[list[Command], list[tuple[int, str]]]] | None = None
    # Commands of one lane run in file order, one at a time (they change one aggregate);
    # None: any order, concurrently.
    lane: Callable[[Any], str | None] = lambda _row: None
    run: Callable[[Any, Any, Principal, IdempotencyKey], CommandResult] | None = None
    # Many rows' commands in one transaction, all or none (the application's batch
    # method); None: one command at a time.
    batch: Callable[[Any, list[tuple[Any, Principal, IdempotencyKey]]], list] | None = None
    batch_size: int = 200
    description: str = ""

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row.model_fields)

    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.row.model_fields.items() if f.is_required())

    @cached_property
    def integers(self) -> frozenset[str]:
        return frozenset(
            name for name, f in self.row.model_fields.items() if f.annotation in (int, "int")
        )


def _commands_of(kind: Kind, rows: list[Row]) -> list[Command]:
    assert kind.run is not None
    run = kind.run
    return [
        Command(
            key=kind.key(row),
            lines=(line,),
            payload=row.model_dump(mode="json", warnings=False),
            lane=kind.lane(row),
            run=lambda app, principal, k, row=row: run(app, row, principal, k),
            row=row,
        )
        for line, row in rows
    ]


# -- orders: the organisation, dealers, products, price lists -------------------------------


def _check_region(lookups: Lookups, row: RegionCreate) -> None:
    earlier = lookups.once("regions in file", None, set)
    earlier.add(row.code)
    if row.parent is None:
        return
    # A parent registered before, or on an earlier line of the same file.
    known = lookups.once("organisation", None, lookups.app.organisation).regions
    if row.parent not in known and row.parent not in earlier:
        raise unknown_region(row.parent, " (a parent region comes before its regions)")


REGIONS = Kind(
    name="regions",
    service="orders",
    row=RegionCreate,
    key=lambda row: row.code,
    check=_check_region,
    lane=lambda _row: "organisation",
    run=lambda app, row, principal, k: app.register_region(
        row.code, row.name, row.parent, row.manager, actor=actor_of(principal, k), idempotency=k
    ),
    description="大区: code, name, parent (a region earlier in the file or registered), manager",
)


BRANCHES = Kind(
    name="branches",
    service="orders",
    row=BranchCreate,
    key=lambda row: row.code,
    check=lambda lookups, row: lookups.once(
        "organisation", None, lookups.app.organisation
    ).check_region(row.region),
    lane=lambda _row: "organisation",
    run=lambda app, row, principal, k: app.register_branch(
        row.code, row.name, row.region, row.manager, actor=actor_of(principal, k), idempotency=k
    ),
    description="分公司: code, name, region (registered), manager",
)


def _register_dealer(row: DealerCreate) -> RegisterDealer:
    return RegisterDealer(
        code=row.code, name=row.name, branch=row.branch, region=row.region, grade=row.grade
    )


DEALERS = Kind(
    name="dealers",
    service="orders",
    row=DealerCreate,
    key=lambda row: row.code,
    check=lambda lookups, row: lookups.once(
        "organisation", None, lookups.app.organisation
    ).check_branch(row.branch, row.region),
    run=lambda app, row, principal, k: app.register_dealer(
        _register_dealer(row),
        actor=actor_of(principal, k),
        idempotency=k,
    ),
    batch=lambda app, items: app.register_dealers(
        [(_register_dealer(row), actor_of(principal, k), k) for row, principal, k in items]
    ),
    description="经销商: code, name, branch, region (the branch's), grade",
)


def _register_product(row: ProductCreate) -> RegisterProduct:
    return RegisterProduct(
        sku=row.sku,
        name=row.name,
        category=row.category,
        unit=row.unit,
        list_price=row.list_price,
    )


PRODUCTS = Kind(
    name="products",
    service="orders",
    row=ProductCreate,
    key=lambda row: row.sku,
    run=lambda app, row, principal, k: app.register_product(
        _register_product(row), actor=actor_of(principal, k), idempotency=k
    ),
    # One lane: a batch may add categories to the one category tree.
    lane=lambda _row: "catalogue",
    batch=lambda app, items: app.register_products(
        [(_register_product(row), actor_of(principal, k), k) for row, principal, k in items]
    ),
    description="产品: sku, name, category, unit (default bottle), list_price",
)


def _known_products(lookups: Lookups, skus: list[str]) -> None:
    """Which of the file's SKUs the catalogue has, asked in a few queries, not one each."""
    distinct = sorted(set(skus))
    known = lookups.once("known products", None, set)
    for start in range(0, len(distinct), 5_000):
        chunk = [Product.create_id(sku) for sku in distinct[start : start + 5_000]]
        known.update(product.sku for product in lookups.app.get_many(chunk).values())


def _check_product(lookups: Lookups, sku: str) -> None:
    if sku not in lookups.once("known products", None, set):
        raise UnknownProduct(f"no product with SKU {sku}")


class PriceRow(PriceCreate):
    grade: DealerGrade


PRICE_LISTS = Kind(
    name="price-lists",
    service="orders",
    row=PriceRow,
    key=lambda row: f"{row.grade}/{row.sku}/{row.effective_from or 'today'}",
    check=lambda lookups, row: _check_product(lookups, row.sku),
    prefetch=lambda lookups, rows: _known_products(lookups, [row.sku for _, row in rows]),
    lane=lambda row: f"price list {row.grade}",
    run=lambda app, row, principal, k: app.set_price(
        row.grade,
        row.sku,
        row.unit_price,
        effective_from=row.effective_from,
        today=business_today(),
        actor=actor_of(principal, k),
        idempotency=k,
    ),
    # A lane is one grade's price list: a batch's rows share it, and each batch reads the
    # (growing) list once: fewer, larger batches.
    batch_size=1_000,
    batch=lambda app, items: app.set_prices(
        items[0][0].grade,
        [
            (row.sku, row.unit_price, row.effective_from, actor_of(principal, k), k)
            for row, principal, k in items
        ],
        today=business_today(),
    ),
    description=(
        "价格表: grade, sku (registered), unit_price, effective_from (today or later, or a "
        "past date after the grade's last booked order)"
    ),
)


# -- inventory: warehouses and opening stock ------------------------------------------------


def _check_warehouse(lookups: Lookups, row: WarehouseCreate) -> None:
    app = lookups.app
    if row.dealer_code is not None:
        lookups.once("dealer", row.dealer_code, lambda: app.known_dealer(row.dealer_code))
    lookups.once(
        "organisation",
        (row.branch, row.region),
        lambda: app.check_organisation(branch=row.branch, region=row.region),
    )


WAREHOUSES = Kind(
    name="warehouses",
    service="inventory",
    row=WarehouseCreate,
    key=lambda row: row.code,
    check=_check_warehouse,
    run=lambda app, row, principal, k: app.register_warehouse(
        RegisterWarehouse(row.code, row.name, row.kind, row.branch, row.region, row.dealer_code),
        by=principal.provenance(causation_id=k.key),
        idempotency=k,
    ),
    description="仓库: code, name, kind, branch, region, dealer_code (consignment only)",
)


class OpeningStockRow(ReceiptLine):
    warehouse_code: Code
    document_number: Code
    cut_over_date: IsoDate


def _check_opening_stock(lookups: Lookups, row: OpeningStockRow) -> None:
    app = lookups.app
    lookups.once("warehouse", row.warehouse_code, lambda: app.get_warehouse(row.warehouse_code))
    lookups.once("sku", row.sku, lambda: app.check_skus([row.sku]))


def _opening_stock_documents(rows: list[Row]) -> tuple[list[Command], list[tuple[int, str]]]:
    """Rows of one warehouse and document number are one opening-stock document."""
    documents: dict[tuple[str, str], list[Row]] = {}
    for line, row in rows:
        documents.setdefault((row.warehouse_code, row.document_number), []).append((line, row))
    commands, errors = [], []
    for (warehouse, number), lines in documents.items():
        first = lines[0][1]
        dates = {row.cut_over_date for _, row in lines}
        if len(dates) > 1:
            errors += [
                (line, f"document {number} has more than one cut_over_date")
                for line, row in lines
                if row.cut_over_date != first.cut_over_date
            ]
            continue
        body = {
            "document_number": number,
            "cut_over_date": first.cut_over_date.isoformat(),
            "lines": [
                {"sku": row.sku, "quantity": row.quantity, "unit_cost": f"{row.unit_cost:.2f}"}
                for _, row in lines
            ],
        }
        try:
            document = OpeningStockCreate.model_validate(body)
        except ValueError as error:
            errors += [(line, f"document {number}: {error}") for line, _ in lines]
            continue
        commands.append(
            Command(
                key=f"{warehouse}/{number}",
                lines=tuple(line for line, _ in lines),
                payload={"warehouse_code": warehouse, **body},
                lane=f"warehouse {warehouse}",
                run=lambda app, principal, k, w=warehouse, d=document: app.record_opening_stock(
                    RecordOpeningStock(
                        warehouse_code=w,
                        document_number=d.document_number,
                        cut_over_date=d.cut_over_date,
                        lines={line.sku: line.quantity for line in d.lines},
                        unit_costs={line.sku: line.unit_cost for line in d.lines},
                    ),
                    by=principal.provenance(causation_id=k.key),
                    idempotency=k,
                ),
            )
        )
    return commands, errors


OPENING_STOCK = Kind(
    name="opening-stock",
    service="inventory",
    row=OpeningStockRow,
    key=lambda row: f"{row.warehouse_code}/{row.document_number}/{row.sku}",
    check=_check_opening_stock,
    commands=_opening_stock_documents,
    description="期初库存: warehouse_code, document_number, cut_over_date, sku, quantity, "
    "unit_cost; the rows of one document number are one document",
)


# -- finance: opening receivables, cash on account, rebate pools ----------------------------


def _check_dealer(lookups: Lookups, row: Any) -> None:
    lookups.once("dealer", row.dealer_code, lambda: lookups.app.known_dealer(row.dealer_code))


class OpeningInvoiceRow(OpeningInvoiceCreate):
    dealer_code: Code


class OpeningCashRow(OpeningCashCreate):
    dealer_code: Code


class OpeningRebatePoolRow(OpeningRebatePoolCreate):
    dealer_code: Code


def _check_rebate_pool(lookups: Lookups, row: OpeningRebatePoolRow) -> None:
    _check_dealer(lookups, row)
    lookups.once("policy", row.policy_code, lambda: lookups.app.get_policy(row.policy_code))


OPENING_INVOICES = Kind(
    name="opening-invoices",
    service="finance",
    row=OpeningInvoiceRow,
    key=lambda row: f"{row.dealer_code}/{row.invoice_number}",
    check=_check_dealer,
    lane=lambda row: f"account {row.dealer_code}",
    run=lambda app, row, principal, k: app.record_opening_invoice(
        RecordOpeningInvoice(
            dealer_code=row.dealer_code,
            number=row.invoice_number,
            issue_date=row.issue_date,
            due_date=row.due_date,
            open_amount=row.open_amount,
            cut_over_date=row.cut_over_date,
        ),
        by=principal.provenance(causation_id=k.key),
        idempotency=k,
    ),
    description="期初应收: dealer_code, invoice_number, issue_date, due_date, open_amount, "
    "cut_over_date",
)

OPENING_CASH = Kind(
    name="opening-cash",
    service="finance",
    row=OpeningCashRow,
    key=lambda row: f"{row.dealer_code}/{row.document_number}",
    check=_check_dealer,
    lane=lambda row: f"account {row.dealer_code}",
    run=lambda app, row, principal, k: app.record_opening_cash(
        RecordOpeningCash(
            dealer_code=row.dealer_code,
            number=row.document_number,
            amount=row.amount,
            cut_over_date=row.cut_over_date,
        ),
        by=principal.provenance(causation_id=k.key),
        idempotency=k,
    ),
    description="期初预收: dealer_code, document_number, amount, cut_over_date",
)

OPENING_REBATE_POOLS = Kind(
    name="opening-rebate-pools",
    service="finance",
    row=OpeningRebatePoolRow,
    key=lambda row: f"{row.dealer_code}/{row.document_number}",
    check=_check_rebate_pool,
    lane=lambda row: f"account {row.dealer_code}",
    run=lambda app, row, principal, k: app.record_opening_rebate_pool(
        RecordOpeningRebatePool(
            dealer_code=row.dealer_code,
            number=row.document_number,
            policy_code=row.policy_code,
            amount=row.amount,
            cut_over_date=row.cut_over_date,
        ),
        by=principal.provenance(causation_id=k.key),
        idempotency=k,
    ),
    description="期初返利池: dealer_code, document_number, policy_code (defined), amount, "
    "cut_over_date",
)


# In the order a company is brought in: each kind refers only to kinds before it.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        REGIONS,
        BRANCHES,
        DEALERS,
        PRODUCTS,
        PRICE_LISTS,
        WAREHOUSES,
        OPENING_STOCK,
        OPENING_INVOICES,
        OPENING_CASH,
        OPENING_REBATE_POOLS,
    )
}


def commands_of(kind: Kind, rows: list[Row]) -> tuple[list[Command], list[tuple[int, str]]]:
    if kind.commands is not None:
        return kind.commands(rows)
    return _commands_of(kind, rows), []
