"""The sales-target read model: each month's floor / target / stretch for the nation, each
branch and each salesperson; the salesperson registry; which salesperson covered which dealer
from which date. Attainment is not stored: the queries join these rows with the sales read
model's invoiced net sales (invoiced less credit notes, by day x SKU x dealer), attributing
each dealer's day to the salesperson whose assignment was in force on it.

Order-free: attribution happens when queried, so an invoice heard before its dealer's
assignment (another aggregate, another partition) is attributed as soon as the assignment is
in. Levels of one month come from one aggregate in order; a level row is only replaced by a
later event of the month (higher ``sequence``), so a redelivered old event changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Date, Index, Integer, MetaData, Numeric, String, Table
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import planning as planning_events
from projections.tracking import Projection

metadata = MetaData()
MONEY = Numeric(20, 2)

target_levels = Table(
    "target_levels",
    metadata,
    Column("month", String, primary_key=True),
    Column("scope", String, primary_key=True),  # nation | branch | salesperson
    Column("key", String, primary_key=True),  # CN, the branch, the salesperson's code
    Column("branch", String, nullable=True),
    Column("floor", MONEY, nullable=False),
    Column("target", MONEY, nullable=False),
    Column("stretch", MONEY, nullable=False),
    Column("sequence", Integer, nullable=False),
)

target_salespeople = Table(
    "target_salespeople",
    metadata,
    Column("salesperson_code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("branch", String, nullable=False, index=True),
)

target_assignments = Table(
    "target_assignments",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("effective_from", Date, primary_key=True),
    Column("salesperson_code", String, nullable=False),
    Column("branch", String, nullable=False),
    Index("target_assignments_by_salesperson", "salesperson_code"),
)

targets = Projection(name="targets", metadata=metadata, origins=("orders",))


def _levels(
    conn: Connection, envelope: Envelope, event, scope: str, key: str, branch: str | None
) -> None:
    statement = insert(target_levels).values(
        month=event.month,
        scope=scope,
        key=key,
        branch=branch,
        floor=event.floor,
        target=event.target,
        stretch=event.stretch,
        sequence=envelope.sequence,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["month", "scope", "key"],
            set_={
                name: statement.excluded[name]
                for name in ("branch", "floor", "target", "stretch", "sequence")
            },
            where=target_levels.c.sequence < statement.excluded.sequence,
        )
    )


@targets.on(planning_events.NationalTargetSet)
def national_target_set(conn: Connection, envelope: Envelope, event) -> None:
    _levels(conn, envelope, event, "nation", "CN", None)


@targets.on(planning_events.BranchTargetSet)
def branch_target_set(conn: Connection, envelope: Envelope, event) -> None:
    _levels(conn, envelope, event, "branch", event.branch, event.branch)


@targets.on(planning_events.SalespersonTargetSet)
def salesperson_target_set(conn: Connection, envelope: Envelope, event) -> None:
    _levels(conn, envelope, event, "salesperson", event.salesperson_code, event.branch)


@targets.on(planning_events.SalespersonRegistered)
def salesperson_registered(conn: Connection, envelope: Envelope, event) -> None:
    conn.execute(
        insert(target_salespeople)
        .values(salesperson_code=event.salesperson_code, name=event.name, branch=event.branch)
        .on_conflict_do_nothing()
    )


@targets.on(planning_events.DealerAssigned)
def dealer_assigned(conn: Connection, envelope: Envelope, event) -> None:
    # One dealer's assignments come in order (one aggregate): the latest for a date wins.
    statement = insert(target_assignments).values(
        dealer_code=event.dealer_code,
        effective_from=event.effective_from,
        salesperson_code=event.salesperson_code,
        branch=event.branch,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["dealer_code", "effective_from"],
            set_={"salesperson_code": statement.excluded.salesperson_code},
        )
    )
