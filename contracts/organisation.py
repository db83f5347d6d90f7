"""Integration events of the sales organisation (组织架构): headquarters' regions (大区) and
branch offices (分公司). Published on ``<namespace>.orders.events`` (orders keeps the
organisation), keyed by the organisation's id: one key, so a region reaches every consumer
before the branches and regions that name it.
"""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import IntegrationEvent


class RegionRegistered(IntegrationEvent):
    """A region (大区) was registered. Emitted once per region code."""

    service = "orders"
    event_name = "RegionRegistered"
    version = 1

    region_code: str
    name: str
    parent_region: str | None = Field(description="the larger region it sits in, if any")
    manager: str | None = Field(description="the region's manager, as headquarters names them")


class BranchRegistered(IntegrationEvent):
    """A branch office (分公司) was registered in a region. Emitted once per branch code."""

    service = "orders"
    event_name = "BranchRegistered"
    version = 1

    branch_code: str
    name: str
    region: str = Field(description="the region's code (registered before the branch)")
    manager: str | None = Field(description="the branch's manager, as headquarters names them")
