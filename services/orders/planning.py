"""Planning in the orders service: dealers' monthly demand plans (要货计划), the month's sales
targets (销售目标: floor / target / stretch) decomposed from the nation to branches and to
salespeople, the salesperson registry and dealers' assignment to salespeople.

Rules live in the aggregates and ``check_*`` functions and raise named errors; nothing here
does I/O. Kept apart from ``domain.py`` (dealers, catalogue, orders) on purpose.

Decisions (documented in docs/business.md and docs/queries.md):

- A demand plan is one dealer's month: quantities per known SKU, positive integers, each SKU
  once. submitted -> (revised: still submitted) -> approved, or returned with a comment ->
  (revised: submitted again) -> ... An approved plan is final; only a submitted plan can be
  reviewed (a returned one must be resubmitted first).
- A month's targets are one aggregate (few commands a month, and every rule spans levels):
  floor <= target <= stretch at every level; the branches' parts may not exceed the national
  figure level by level (the rest shows as unallocated), nor the salespeople's parts their
  branch's; lowering a figure below what is already allocated under it is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, OutsideScope, RuleViolation
from services.kernel.money import MAX_ORDER_TOTAL, cny
from services.orders.domain import Dealer, InvalidTransition, UnknownProduct

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders:planning")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# A month's national target is bounded like a published money field (16 integer digits).
MAX_TARGET = MAX_ORDER_TOTAL * 1000
LEVELS = ("floor", "target", "stretch")


class InvalidMonth(RuleViolation):
    code = "invalid_month"


class InvalidQuantity(RuleViolation):
    code = "invalid_quantity"


class DuplicateSku(RuleViolation):
    code = "duplicate_sku"


class DemandPlanExists(RuleViolation):
    code = "demand_plan_exists"


class UnknownDemandPlan(NotFound):
    code = "unknown_demand_plan"


class InvalidTargetLevels(RuleViolation):
    code = "invalid_target_levels"


class NationalTargetNotSet(RuleViolation):
    code = "national_target_not_set"


class BranchTargetNotSet(RuleViolation):
    code = "branch_target_not_set"


class AllocationExceedsTarget(RuleViolation):
    code = "allocation_exceeds_target"


class TargetBelowAllocations(RuleViolation):
    code = "target_below_allocations"


class SalespersonAlreadyRegistered(RuleViolation):
    code = "salesperson_already_registered"


class UnknownSalesperson(NotFound):
    code = "unknown_salesperson"


class SalespersonOfOtherBranch(RuleViolation):
    code = "salesperson_of_other_branch"


def check_month(month: str) -> str:
    if not MONTH.match(month):
        raise InvalidMonth(f"a month is YYYY-MM, got {month!r}")
    return month


# -- demand plans -----------------------------------------------------------------------------
def plan_lines(lines: list[tuple[str, int]], known_skus: set[str]) -> dict[str, int]:
    """A plan's quantities by SKU: at least one line, each SKU once, known to the catalogue,
    a positive integer quantity."""
    if not lines:
        raise InvalidQuantity("a demand plan needs at least one line")
    quantities: dict[str, int] = {}
    for sku, quantity in lines:
        if sku in quantities:
            raise DuplicateSku(f"SKU {sku} appears twice: plan each SKU once", sku=sku)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidQuantity(f"quantity of {sku} must be a positive integer, got {quantity}")
        quantities[sku] = quantity
    missing = sorted(set(quantities) - known_skus)
    if missing:
        raise UnknownProduct(f"unknown SKU(s): {', '.join(missing)}", skus=missing)
    return quantities


def check_may_review(dealer: Dealer, *, role: str, branch: str | None) -> None:
    """A plan is reviewed by its dealer's branch manager (or headquarters' admin)."""
    if role == "hq_admin":
        return
    if role != "branch_manager":
        raise OutsideScope(f"role {role} may not review demand plans")
    if dealer.branch != branch:
        raise OutsideScope(f"dealer {dealer.code} belongs to branch {dealer.branch}")


class PlanStatus(StrEnum):
    SUBMITTED = "submitted"  # awaiting the branch's review
    RETURNED = "returned"  # sent back for revision
    APPROVED = "approved"


class DemandPlan(Aggregate):
    """要货计划: a dealer's plan of what it will order in one month, per SKU."""

    @staticmethod
    def create_id(dealer_code: str, month: str) -> UUID:
        return uuid5(_IDS, f"demand-plan:{dealer_code}:{month}")

    class Submitted(Aggregate.Created):
        dealer_code: str
        branch: str
        region: str
        month: str
        lines: dict[str, int]
        by: Provenance

    @event(Submitted)
    def __init__(
        self,
        *,
        dealer_code: str,
        branch: str,
        region: str,
        month: str,
        lines: dict[str, int],
        by: Provenance,
    ) -> None:
        self.dealer_code = dealer_code
        self.branch = branch
        self.region = region
        self.month = month
        self.lines = dict(lines)
        self.revision = 1
        self.status = PlanStatus.SUBMITTED
        self.comment: str | None = None
        self.reviewed_by: str | None = None

    @classmethod
    def submit(
        cls, *, dealer: Dealer, month: str, lines: dict[str, int], by: Provenance
    ) -> DemandPlan:
        return cls(
            dealer_code=dealer.code,
            branch=dealer.branch,
            region=dealer.region,
            month=check_month(month),
            lines=lines,
            by=by,
        )

    def revise(self, lines: dict[str, int], by: Provenance) -> None:
        if self.status == PlanStatus.APPROVED:
            raise InvalidTransition(
                f"the {self.month} plan of {self.dealer_code} is approved: it can no longer "
                "be revised"
            )
        self._revised(**self._identity(), revision=self.revision + 1, lines=dict(lines), by=by)

    def _identity(self) -> dict[str, str]:
        # Carried on every event: the relay publishes each one on its own.
        return {
            "dealer_code": self.dealer_code,
            "branch": self.branch,
            "region": self.region,
            "month": self.month,
        }

    @event("Revised")
    def _revised(
        self,
        dealer_code: str,
        branch: str,
        region: str,
        month: str,
        revision: int,
        lines: dict[str, int],
        by: Provenance,
    ) -> None:
        self.lines = lines
        self.revision = revision
        self.status = PlanStatus.SUBMITTED

    def approve(self, comment: str | None, by: Provenance) -> None:
        self._check_reviewable()
        self._approved(
            **self._identity(), revision=self.revision, lines=self.lines, comment=comment, by=by
        )

    @event("Approved")
    def _approved(
        self,
        dealer_code: str,
        branch: str,
        region: str,
        month: str,
        revision: int,
        lines: dict[str, int],
        comment: str | None,
        by: Provenance,
    ) -> None:
        self.status = PlanStatus.APPROVED
        self.comment = comment
        self.reviewed_by = by.actor

    def return_for_revision(self, comment: str, by: Provenance) -> None:
        self._check_reviewable()
        self._returned(**self._identity(), revision=self.revision, comment=comment, by=by)

    @event("Returned")
    def _returned(
        self,
        dealer_code: str,
        branch: str,
        region: str,
        month: str,
        revision: int,
        comment: str,
        by: Provenance,
    ) -> None:
        self.status = PlanStatus.RETURNED
        self.comment = comment
        self.reviewed_by = by.actor

    def _check_reviewable(self) -> None:
        if self.status != PlanStatus.SUBMITTED:
            raise InvalidTransition(
                f"the {self.month} plan of {self.dealer_code} is {self.status}: only a "
                "submitted plan can be reviewed"
            )


# -- salespeople ------------------------------------------------------------------------------
class Salesperson(Aggregate):
    """A salesperson of a branch office (e.g. ``SP-CD-01``)."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(_IDS, f"salesperson:{code}")

    class Registered(Aggregate.Created):
        code: str
        name: str
        branch: str
        by: Provenance

    @event(Registered)
    def __init__(self, *, code: str, name: str, branch: str, by: Provenance) -> None:
        self.code = code
        self.name = name
        self.branch = branch


def check_may_manage_branch(branch: str, *, role: str, own_branch: str | None) -> None:
    """Salespeople, their targets and their dealers are managed by the branch's manager (or
    headquarters' admin)."""
    if role == "hq_admin":
        return
    if role != "branch_manager" or own_branch != branch:
        raise OutsideScope(f"branch {branch} is managed by its own manager or headquarters")


class DealerCoverage(Aggregate):
    """Which salesperson covers a dealer, from which business date on: sales are attributed
    to the salesperson whose assignment was in force on the invoice's date."""

    @staticmethod
    def create_id(dealer_code: str) -> UUID:
        return uuid5(_IDS, f"coverage:{dealer_code}")

    class Opened(Aggregate.Created):
        dealer_code: str
        branch: str

    @event(Opened)
    def __init__(self, *, dealer_code: str, branch: str) -> None:
        self.dealer_code = dealer_code
        self.branch = branch
        self.assignments: dict[date, str] = {}  # effective from -> salesperson code

    def assign(self, salesperson: Salesperson, effective_from: date, by: Provenance) -> None:
        if salesperson.branch != self.branch:
            raise SalespersonOfOtherBranch(
                f"{salesperson.code} works for branch {salesperson.branch}, dealer "
                f"{self.dealer_code} belongs to {self.branch}"
            )
        if self.assignments.get(effective_from) == salesperson.code:
            return  # already so: nothing to record
        self._assigned(
            dealer_code=self.dealer_code,
            branch=self.branch,
            salesperson_code=salesperson.code,
            effective_from=effective_from,
            by=by,
        )

    @event("Assigned")
    def _assigned(
        self,
        dealer_code: str,
        branch: str,
        salesperson_code: str,
        effective_from: date,
        by: Provenance,
    ) -> None:
        self.assignments[effective_from] = salesperson_code

    def salesperson_on(self, day: date) -> str | None:
        in_force = [start for start in self.assignments if start <= day]
        return self.assignments[max(in_force)] if in_force else None


# -- sales targets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Levels:
    """Floor, target and stretch of one scope, CNY to the fen."""

    floor: Decimal
    target: Decimal
    stretch: Decimal

    @classmethod
    def of(cls, floor: Decimal, target: Decimal, stretch: Decimal) -> Levels:
        levels = cls(floor, target, stretch)
        for name in LEVELS:
            value = getattr(levels, name)
            if value < 0 or cny(value) != value or value > MAX_TARGET:
                raise InvalidTargetLevels(f"{name} must be an amount to the fen, not {value}")
        if not floor <= target <= stretch:
            raise InvalidTargetLevels(
                f"levels must rise: floor {floor} <= target {target} <= stretch {stretch}"
            )
        return levels

    def __add__(self, other: Levels) -> Levels:
        return Levels(*(getattr(self, n) + getattr(other, n) for n in LEVELS))

    def exceeded_by(self, other: Levels) -> list[str]:
        """The levels at which ``other`` is more than this."""
        return [n for n in LEVELS if getattr(other, n) > getattr(self, n)]

    def as_dict(self) -> dict[str, Decimal]:
        return {n: getattr(self, n) for n in LEVELS}


ZERO = Levels(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def _sum(levels) -> Levels:
    total = ZERO
    for item in levels:
        total = total + item
    return total


class MonthTargets(Aggregate):
    """销售目标 of one month: the national figures, their parts per branch, and each branch's
    parts per salesperson."""

    @staticmethod
    def create_id(month: str) -> UUID:
        return uuid5(_IDS, f"targets:{month}")

    class Opened(Aggregate.Created):
        month: str

    @event(Opened)
    def __init__(self, *, month: str) -> None:
        self.month = check_month(month)
        self.national: Levels | None = None
        self.branches: dict[str, Levels] = {}
        self.salespeople: dict[str, tuple[str, Levels]] = {}  # code -> (branch, levels)

    def allocated_to_branches(self, *, except_branch: str | None = None) -> Levels:
        return _sum(v for b, v in self.branches.items() if b != except_branch)

    def allocated_in(self, branch: str, *, except_salesperson: str | None = None) -> Levels:
        return _sum(
            levels
            for code, (of_branch, levels) in self.salespeople.items()
            if of_branch == branch and code != except_salesperson
        )

    def set_national(self, levels: Levels, by: Provenance) -> None:
        below = levels.exceeded_by(self.allocated_to_branches())
        if below:
            raise TargetBelowAllocations(
                f"the branches already hold more than the new national {', '.join(below)}",
                levels=below,
            )
        self._national_set(month=self.month, **levels.as_dict(), by=by)

    @event("NationalSet")
    def _national_set(
        self, month: str, floor: Decimal, target: Decimal, stretch: Decimal, by: Provenance
    ) -> None:
        self.national = Levels(floor, target, stretch)

    def allocate_branch(self, branch: str, levels: Levels, by: Provenance) -> None:
        if self.national is None:
            raise NationalTargetNotSet(f"set the national target of {self.month} first")
        over = self.national.exceeded_by(self.allocated_to_branches(except_branch=branch) + levels)
        if over:
            raise AllocationExceedsTarget(
                f"branches would hold more than the national {', '.join(over)} of {self.month}",
                levels=over,
            )
        below = levels.exceeded_by(self.allocated_in(branch))
        if below:
            raise TargetBelowAllocations(
                f"branch {branch}'s salespeople already hold more than its new {', '.join(below)}",
                levels=below,
            )
        self._branch_set(month=self.month, branch=branch, **levels.as_dict(), by=by)

    @event("BranchSet")
    def _branch_set(
        self,
        month: str,
        branch: str,
        floor: Decimal,
        target: Decimal,
        stretch: Decimal,
        by: Provenance,
    ) -> None:
        self.branches[branch] = Levels(floor, target, stretch)

    def allocate_salesperson(
        self, salesperson: Salesperson, levels: Levels, by: Provenance
    ) -> None:
        branch = salesperson.branch
        if branch not in self.branches:
            raise BranchTargetNotSet(f"branch {branch} has no target for {self.month} yet")
        others = self.allocated_in(branch, except_salesperson=salesperson.code)
        over = self.branches[branch].exceeded_by(others + levels)
        if over:
            raise AllocationExceedsTarget(
                f"salespeople of {branch} would hold more than the branch's "
                f"{', '.join(over)} of {self.month}",
                levels=over,
            )
        self._salesperson_set(
            month=self.month,
            salesperson_code=salesperson.code,
            branch=branch,
            **levels.as_dict(),
            by=by,
        )

    @event("SalespersonSet")
    def _salesperson_set(
        self,
        month: str,
        salesperson_code: str,
        branch: str,
        floor: Decimal,
        target: Decimal,
        stretch: Decimal,
        by: Provenance,
    ) -> None:
        self.salespeople[salesperson_code] = (branch, Levels(floor, target, stretch))
