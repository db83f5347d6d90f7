"""The channel-health read model (渠道健康): the rules headquarters set, and every shipment
with its delivery confirmation. A dealer's colour is computed when queried, from these and
the receivables read model's figures, so a change of rules recolours every dealer at once.

Order-free: a delivery confirmation may arrive before its shipment (different aggregates,
different partitions); each fills in its own columns of the shipment's row.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import finance as finance_events
from contracts import inventory as inventory_events
from projections.gathered import gathered
from projections.tracking import Projection

metadata = MetaData()

health_rules = Table(
    "health_rules",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one set of rules
    Column("sequence", Integer, nullable=False),  # the rules aggregate's version
    Column("utilisation_yellow", Numeric(10, 4), nullable=False),
    Column("utilisation_red", Numeric(10, 4), nullable=False),
    Column("over_90_yellow", Numeric(20, 2), nullable=False),
    Column("over_90_red", Numeric(20, 2), nullable=False),
    Column("undelivered_after_days", Integer, nullable=False),
    Column("undelivered_yellow", Integer, nullable=False),
    Column("undelivered_red", Integer, nullable=False),
)

shipments = Table(
    "health_shipments",
    metadata,
    Column("shipment_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("order_id", String, nullable=False),
    Column("ship_date", Date),  # null until the dispatch is seen
    Column("delivered_on", Date),  # null until delivery is confirmed
    # The few shipments not confirmed yet, by ship date; and confirmations by date.
    Index(
        "health_shipments_unconfirmed",
        "ship_date",
        postgresql_where=text("delivered_on IS NULL"),
    ),
    Index("health_shipments_by_delivery", "delivered_on"),
)

channel_health = Projection(
    name="channel_health", metadata=metadata, origins=("inventory", "finance")
)


@channel_health.on(finance_events.ChannelHealthRulesSet)
def rules_set(
    conn: Connection, envelope: Envelope, event: finance_events.ChannelHealthRulesSet
) -> None:
    values = {"sequence": envelope.sequence, **event.model_dump()}
    statement = insert(health_rules).values(id=1, **values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[health_rules.c.id],
            set_=values,
            where=health_rules.c.sequence < statement.excluded.sequence,
        )
    )


# Written once per batch (projections/gathered.py): each event fills in its own columns.
_shipments = gathered(channel_health, shipments)


@channel_health.on(inventory_events.ShipmentDispatched)
def shipment_dispatched(
    conn: Connection, envelope: Envelope, event: inventory_events.ShipmentDispatched
) -> None:
    _shipments.gather(
        conn,
        shipment_id=event.shipment_id,
        dealer_code=event.dealer_code,
        order_id=event.order_id,
        ship_date=event.ship_date,
    )


@channel_health.on(inventory_events.DeliveryConfirmed)
def delivery_confirmed(
    conn: Connection, envelope: Envelope, event: inventory_events.DeliveryConfirmed
) -> None:
    _shipments.gather(
        conn,
        shipment_id=event.shipment_id,
        dealer_code=event.dealer_code,
        order_id=event.order_id,
        delivered_on=event.delivered_on,
    )
