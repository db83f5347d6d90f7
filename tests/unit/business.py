"""The business the unit tests speak of: who acts, and the Chengdu dealer most of them
order for."""

from __future__ import annotations

from runtime.eventstore import Provenance
from services.orders.domain import Dealer

HQ = Provenance(actor="Wang Min", role="hq_admin")


def jinjiang_wine_trading() -> Dealer:
    """CD-001, a tier-1 distributor of the Chengdu branch."""
    return Dealer(
        code="CD-001",
        name="Jinjiang Wine Trading",
        branch="CD",
        region="SOUTHWEST",
        grade="tier1_distributor",
        by=HQ,
    )
