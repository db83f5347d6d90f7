"""Translation of the orders service's domain events into its published integration events.

Domain events not listed here stay inside the service.
"""

from __future__ import annotations

from decimal import Decimal

from eventsourcing.domain import DomainEventProtocol

from contracts import orders as published
from contracts import organisation
from contracts.envelope import IntegrationEvent
from services.orders.consignment import ConsignmentSale
from services.orders.domain import Dealer, Order, Product
from services.orders.planning_contract import to_integration_event as planning_event
from services.orders.returns import DealerReturn
from services.organisation.domain import Organisation


def _placed_line(line: dict) -> published.PlacedLine:
    return published.PlacedLine(
        sku=line["sku"],
        category=line["category"],
        quantity=line["quantity"],
        unit_price=line["unit_price"],
        amount=line["amount"],
        # Orders placed before promotions carry neither.
        list_unit_price=line.get("list_unit_price", line["unit_price"]),
        discount=line.get("discount", Decimal("0.00")),
        promotion_code=line.get("promotion"),
        gift=line.get("gift", False),
    )


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, Organisation.RegionRegistered):
        return organisation.RegionRegistered(
            region_code=event.code,
            name=event.name,
            parent_region=event.parent,
            manager=event.manager,
        )
    if isinstance(event, Organisation.BranchRegistered):
        return organisation.BranchRegistered(
            branch_code=event.code, name=event.name, region=event.region, manager=event.manager
        )
    if isinstance(event, Dealer.Registered):
        return published.DealerRegistered(
            dealer_id=str(event.originator_id),
            dealer_code=event.code,
            name=event.name,
            branch=event.branch,
            region=event.region,
            grade=event.grade,
        )
    if isinstance(event, Product.Registered):
        return published.ProductRegistered(
            product_id=str(event.originator_id),
            sku=event.sku,
            name=event.name,
            category=event.category,
            unit=event.unit,
            list_price=event.list_price,
        )
    if isinstance(event, Order.Placed):
        return published.OrderPlaced(
            order_id=str(event.originator_id),
            dealer_id=str(event.dealer_id),
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            business_date=event.business_date,
            lines=[_placed_line(line) for line in event.lines],
            total=event.total,
        )
    if isinstance(event, Order.Approved):
        return published.OrderApproved(
            order_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            branch=event.branch,
            total=event.total,
            manager_approval=event.manager_approval,
        )
    if isinstance(event, Order.AwaitingApproval) and event.dealer_code is not None:
        return published.OrderAwaitingApproval(
            order_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            branch=event.branch,
            total=event.total,
            threshold=event.threshold,
        )
    if isinstance(event, Order.Rejected):
        return published.OrderRejected(
            order_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            reason=event.reason,
            detail=event.detail,
        )
    if isinstance(event, Order.Cancelled):
        return published.OrderCancelled(
            order_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            reason=event.reason,
        )
    if isinstance(event, ConsignmentSale.Priced):
        return published.ConsignmentSaleRecorded(
            sale_id=str(event.originator_id),
            report_id=event.report_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            warehouse_code=event.warehouse_code,
            period_from=event.period_from,
            period_to=event.period_to,
            lines=[_placed_line(line) for line in event.lines],
            total=event.total,
        )
    if isinstance(event, DealerReturn.Approved):
        return published.ReturnApproved(
            return_id=str(event.originator_id),
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            warehouse_code=event.warehouse_code,
            business_date=event.business_date,
            lines=[published.Line(sku=s, quantity=q) for s, q in sorted(event.lines.items())],
            reason=event.reason,
        )
    # Demand plans, sales targets, salespeople: translated by their own module.
    return planning_event(event)
