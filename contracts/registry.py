"""Every integration event type the platform publishes, and every older version it can still
read, by its ``type`` string.

``PUBLISHED`` are the versions producers emit now. ``SUPERSEDED`` are older versions that may
still sit on a topic or in a consumer's store; each knows how to become its next version
(``upcast``), so a consumer decodes any readable version into the current one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TypeVar

from contracts import finance, identity, inventory, orders, organisation, planning, warnings
from contracts.envelope import Envelope, EventType, IntegrationEvent, UnknownEventType

PUBLISHED: tuple[type[IntegrationEvent], ...] = (
    organisation.RegionRegistered,
    organisation.BranchRegistered,
    orders.DealerRegistered,
    orders.ProductRegistered,
    orders.OrderPlaced,
    orders.OrderApproved,
    orders.OrderAwaitingApproval,
    orders.OrderRejected,
    orders.OrderCancelled,
    orders.ReturnApproved,
    orders.ConsignmentSaleRecorded,
    planning.DemandPlanSubmitted,
    planning.DemandPlanApproved,
    planning.DemandPlanReturned,
    planning.SalespersonRegistered,
    planning.DealerAssigned,
    planning.NationalTargetSet,
    planning.BranchTargetSet,
    planning.SalespersonTargetSet,
    inventory.WarehouseRegistered,
    inventory.GoodsReceived,
    inventory.OpeningStockRecorded,
    inventory.StockReserved,
    inventory.StockShortage,
    inventory.StockReleased,
    inventory.ShipmentDispatched,
    inventory.DeliveryConfirmed,
    inventory.SafetyStockSet,
    inventory.TransferDispatched,
    inventory.TransferReceived,
    inventory.StocktakePosted,
    inventory.StockDamaged,
    inventory.DamagedStockWrittenOff,
    inventory.ConsignmentSellThroughReported,
    inventory.ReturnReceived,
    finance.CreditTermsSet,
    finance.CreditReserved,
    finance.CreditRefused,
    finance.CreditReleased,
    finance.InvoiceIssued,
    finance.OpeningInvoiceRecorded,
    finance.OpeningCashRecorded,
    finance.OpeningRebatePoolRecorded,
    finance.ReceiptRecorded,
    finance.CashApplied,
    finance.CreditNoteIssued,
    finance.RebatePolicyDefined,
    finance.RebateAccrued,
    finance.ChannelHealthRulesSet,
    finance.RebateSettled,
    finance.RebateClaimFiled,
    finance.RebateClaimRejected,
    finance.RebateCredited,
    identity.UserCreated,
    identity.UserRoleChanged,
    identity.UserPasswordReset,
    identity.UserDisabled,
    identity.UserEnabled,
    identity.ApiKeyIssued,
    identity.ApiKeyRevoked,
    warnings.WarningRaised,
    warnings.WarningAcknowledged,
    warnings.WarningCommented,
    warnings.WarningAssigned,
    warnings.WarningEscalated,
    warnings.WarningResolved,
    warnings.WarningAutoResolved,
    warnings.WarningRuleChanged,
)

SUPERSEDED: tuple[type[IntegrationEvent], ...] = (
    orders.OrderPlacedV1,
    inventory.GoodsReceivedV1,
    inventory.ShipmentDispatchedV1,
    inventory.WarehouseRegisteredV1,
    identity.UserCreatedV1,
    identity.UserRoleChangedV1,
    finance.RebatePolicyDefinedV1,
    finance.CreditNoteIssuedV1,
)

READABLE = PUBLISHED + SUPERSEDED
T = TypeVar("T")

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {str(e.event_type()): e for e in READABLE}
_CURRENT: dict[tuple[str, str], type[IntegrationEvent]] = {
    (e.service, e.event_name): e for e in PUBLISHED
}


@functools.lru_cache(maxsize=1024)
def _current_type(type_name: str) -> str | None:
    """The ``type`` string of the current version of the event ``type_name`` names (None:
    no such event now); raises UnknownEventType for a type that is not this platform's.
    Cached: parsing and formatting cost more than the rest of routing an event."""
    kind = EventType.parse(type_name)
    current = _CURRENT.get((kind.service, kind.name))
    return str(current.event_type()) if current is not None else None


def handler_for(type_name: str, handlers: Mapping[str, T]) -> T | None:
    """Of ``handlers`` (keyed by current ``type`` strings), the one for any readable version
    of the event ``type_name`` names; None when the event is not handled. A version of a
    handled event that this code cannot read (newer than the current one), or a type that is
    not this platform's, raises UnknownEventType: ignoring it would lose the event."""
    current = _current_type(type_name)
    handler = handlers.get(current) if current is not None else None
    if handler is None:
        return None
    if type_name not in EVENT_TYPES:
        name, version = current.split(".")[2:]
        raise UnknownEventType(f"{type_name}: this code reads {name} up to {version}")
    return handler


def event_type_of(envelope: Envelope) -> type[IntegrationEvent]:
    try:
        return EVENT_TYPES[envelope.type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {envelope.type!r}") from None


def decode_data(envelope: Envelope) -> IntegrationEvent:
    """Validate the envelope's data against the contract of its version, then upcast it to
    the current version (raises pydantic.ValidationError, or UnknownEventType)."""
    event = event_type_of(envelope).model_validate(envelope.data)
    current = _CURRENT[(event.service, event.event_name)]
    while type(event) is not current:
        event = event.upcast()
    return event
