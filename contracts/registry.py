"""Every integration event type the platform publishes, by its ``type`` string."""

from __future__ import annotations

from typing import Any

from contracts import finance, inventory, orders
from contracts.envelope import Envelope, IntegrationEvent, UnknownEventType

PUBLISHED: tuple[type[IntegrationEvent], ...] = (
    orders.DealerRegistered,
    orders.ProductRegistered,
    orders.OrderPlaced,
    orders.OrderApproved,
    orders.OrderRejected,
    orders.OrderCancelled,
    inventory.WarehouseRegistered,
    inventory.GoodsReceived,
    inventory.StockReserved,
    inventory.StockShortage,
    inventory.StockReleased,
    inventory.ShipmentDispatched,
    inventory.DeliveryConfirmed,
    inventory.SafetyStockSet,
    finance.CreditTermsSet,
    finance.CreditReserved,
    finance.CreditRefused,
    finance.CreditReleased,
    finance.InvoiceIssued,
    finance.ReceiptRecorded,
    finance.CreditNoteIssued,
    finance.RebatePolicyDefined,
    finance.RebateAccrued,
    finance.ChannelHealthRulesSet,
)

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {str(e.event_type()): e for e in PUBLISHED}


def event_type_of(envelope: Envelope) -> type[IntegrationEvent]:
    try:
        return EVENT_TYPES[envelope.type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {envelope.type!r}") from None


def decode_data(envelope: Envelope) -> Any:
    """Validate the envelope's data against its contract (raises pydantic.ValidationError)."""
    return event_type_of(envelope).model_validate(envelope.data)
