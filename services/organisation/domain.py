"""The sales organisation (组织架构): regions (大区) and branch offices (分公司), each with a
code, a name, its parent (a region may sit under a larger one; a branch sits in a region) and
its manager. Headquarters registers them; everything that names a branch or a region (a
dealer, a warehouse, a target, a salesperson) is refused when it names one never registered.

Why one aggregate for the whole organisation (as the category tree): a branch must name a
region already registered, and a region's parent too; one aggregate decides that on one
version, with no race between a region and the branch that names it, and its published
events reach the other services in the order they were registered (one Kafka key). A brand
has tens of regions and a few hundred branches at most, and headquarters registers them
rarely.

Why orders owns it: orders already owns the dealer registry, which names a dealer's branch
and region, and the targets of branches; both are checked in the same service on the same
read. Inventory (warehouses) learns the organisation as it learns dealers and products: from
the orders topic, into its master-data replica (``services/masterdata``).

Nothing here does I/O.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders")


class UnknownRegion(NotFound):
    code = "unknown_region"


class UnknownBranch(NotFound):
    code = "unknown_branch"


class BranchNotInRegion(RuleViolation):
    code = "branch_not_in_region"


class RegionAlreadyRegistered(RuleViolation):
    code = "region_already_registered"


class BranchAlreadyRegistered(RuleViolation):
    code = "branch_already_registered"


def unknown_region(region: str, detail: str = "") -> UnknownRegion:
    return UnknownRegion(f"no region {region} is registered{detail}", region=region)


def unknown_branch(branch: str, detail: str = "") -> UnknownBranch:
    return UnknownBranch(f"no branch {branch} is registered{detail}", branch=branch)


def branch_not_in_region(branch: str, its_region: str, named: str) -> BranchNotInRegion:
    return BranchNotInRegion(
        f"branch {branch} is in region {its_region}, not {named}",
        branch=branch,
        region=its_region,
    )


class Organisation(Aggregate):
    """Headquarters' regions and branches. One for the service."""

    ID = uuid5(_IDS, "organisation")

    @staticmethod
    def create_id() -> UUID:
        return Organisation.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.regions: dict[str, dict] = {}  # code -> {"name", "parent", "manager"}
        self.branches: dict[str, dict] = {}  # code -> {"name", "region", "manager"}

    def register_region(
        self, code: str, name: str, parent: str | None, manager: str | None, by: Provenance
    ) -> None:
        if code in self.regions:
            raise RegionAlreadyRegistered(f"region {code} is already registered", region=code)
        if parent is not None and parent not in self.regions:
            raise unknown_region(parent, " (a parent region is registered before its regions)")
        self._region_registered(code=code, name=name, parent=parent, manager=manager, by=by)

    @event("RegionRegistered")
    def _region_registered(
        self, code: str, name: str, parent: str | None, manager: str | None, by: Provenance
    ) -> None:
        self.regions[code] = {"name": name, "parent": parent, "manager": manager}

    def register_branch(
        self, code: str, name: str, region: str, manager: str | None, by: Provenance
    ) -> None:
        if code in self.branches:
            raise BranchAlreadyRegistered(f"branch {code} is already registered", branch=code)
        self.check_region(region)
        self._branch_registered(code=code, name=name, region=region, manager=manager, by=by)

    @event("BranchRegistered")
    def _branch_registered(
        self, code: str, name: str, region: str, manager: str | None, by: Provenance
    ) -> None:
        self.branches[code] = {"name": name, "region": region, "manager": manager}

    def check_region(self, region: str) -> None:
        if region not in self.regions:
            raise unknown_region(region)

    def check_branch(self, branch: str, region: str | None = None) -> None:
        """The branch is registered and, when a region is named with it, sits in that region."""
        if branch not in self.branches:
            raise unknown_branch(branch)
        if region is None:
            return
        self.check_region(region)
        if self.branches[branch]["region"] != region:
            raise branch_not_in_region(branch, self.branches[branch]["region"], region)


def region_view(organisation: Organisation, code: str) -> dict:
    return {"code": code, **organisation.regions[code]}


def branch_view(organisation: Organisation, code: str) -> dict:
    return {"code": code, **organisation.branches[code]}
