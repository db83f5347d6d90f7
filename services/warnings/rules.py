"""The warning rules: what each watches, its threshold and the range HQ may set it within,
its severity, and each level's allowance before the warning escalates.

The catalogue holds the defaults (a rule's version 1); HQ's changes are events of the
``Rule`` aggregate (services/warnings/domain.py), each a new version. A warning keeps the
version, threshold and allowances of the rule in force when it was raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Level(StrEnum):
    """Who a warning sits with, lowest first."""

    BRANCH_MANAGER = "branch_manager"
    REGION = "region"
    HQ_ADMIN = "hq_admin"
    NATIONAL = "national"

    def next(self) -> Level | None:
        ladder = list(Level)
        at = ladder.index(self)
        return ladder[at + 1] if at + 1 < len(ladder) else None


# The role responsible at each level: the region's is the region manager of the warning's
# branch (its inbox, services/warnings/api/routes.py); the national level has no platform
# role yet, and HQ reads its warnings (and the region's, for regions with no manager).
RESPONSIBLE_ROLE = {
    Level.BRANCH_MANAGER: "branch_manager",
    Level.REGION: "region_manager",
    Level.HQ_ADMIN: "hq_admin",
    Level.NATIONAL: "national_sales_director",
}
# The levels that pass a warning on: the national level is the last.
ESCALATING = (Level.BRANCH_MANAGER, Level.REGION, Level.HQ_ADMIN)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class RuleSpec:
    code: str
    title: str
    subject_kind: str  # what a warning of the rule is about: order, rebate_claim, ...
    severity: Severity
    threshold_name: str  # what the threshold means, in the unit it is given in
    threshold: Decimal
    minimum: Decimal
    maximum: Decimal
    # A threshold in hours or days is a delay: the warning is raised once the condition has
    # lasted that long. Otherwise the threshold is a gate on the triggering figures.
    delay_unit: str | None = None

    def in_range(self, value: Decimal) -> bool:
        return self.minimum <= value <= self.maximum


# Minutes each level has before the warning passes up (HQ sets them per rule).
DEFAULT_ALLOWANCES_MIN = {
    Level.BRANCH_MANAGER: 24 * 60,
    Level.REGION: 24 * 60,
    Level.HQ_ADMIN: 48 * 60,
}
MAX_ALLOWANCE_MIN = 30 * 24 * 60

CATALOGUE: dict[str, RuleSpec] = {
    spec.code: spec
    for spec in (
        RuleSpec(
            code="credit_hold",
            title="order on credit hold",
            subject_kind="order",
            severity=Severity.HIGH,
            threshold_name="hours on hold before the warning is raised",
            threshold=Decimal("4"),
            minimum=Decimal("0"),
            maximum=Decimal("720"),
            delay_unit="hours",
        ),
        RuleSpec(
            code="approval_waiting",
            title="order waiting for a branch manager's approval",
            subject_kind="order",
            severity=Severity.MEDIUM,
            threshold_name="hours awaiting approval before the warning is raised",
            threshold=Decimal("8"),
            minimum=Decimal("0"),
            maximum=Decimal("720"),
            delay_unit="hours",
        ),
        RuleSpec(
            code="credit_override",
            title="credit limit overridden",
            subject_kind="order",
            severity=Severity.MEDIUM,
            threshold_name="CNY over the limit from which an override is warned of",
            threshold=Decimal("0.00"),
            minimum=Decimal("0.00"),
            maximum=Decimal("100000000.00"),
        ),
        RuleSpec(
            code="stock_shortage",
            title="order refused for a stock shortage",
            subject_kind="order",
            severity=Severity.HIGH,
            threshold_name="units short from which the warning is raised",
            threshold=Decimal("1"),
            minimum=Decimal("1"),
            maximum=Decimal("1000000"),
        ),
        RuleSpec(
            code="return_above_amount",
            title="return above an amount",
            subject_kind="return",
            severity=Severity.MEDIUM,
            threshold_name="CNY (at the order's prices) from which a return is warned of",
            threshold=Decimal("10000.00"),
            minimum=Decimal("0.00"),
            maximum=Decimal("100000000.00"),
        ),
        RuleSpec(
            code="transfer_short",
            title="transfer arrived short",
            subject_kind="transfer",
            severity=Severity.HIGH,
            threshold_name="units missing or damaged from which the warning is raised",
            threshold=Decimal("1"),
            minimum=Decimal("1"),
            maximum=Decimal("1000000"),
        ),
        RuleSpec(
            code="rebate_claim_waiting",
            title="rebate claim waiting for approval",
            subject_kind="rebate_claim",
            severity=Severity.MEDIUM,
            threshold_name="days waiting before the warning is raised",
            threshold=Decimal("7"),
            minimum=Decimal("0"),
            maximum=Decimal("365"),
            delay_unit="days",
        ),
        # -- routine rules (issue 16): evaluated over the read models as they move and at
        # least daily (services/warnings/routine.py). The condition itself holds the time
        # (days past due, days without an order), so none has a delay: raised when found.
        RuleSpec(
            code="credit_utilisation",
            title="credit utilisation at or above the threshold",
            subject_kind="dealer",
            severity=Severity.HIGH,
            threshold_name="% of the credit limit used (exposure / limit) from which warned",
            threshold=Decimal("90"),
            minimum=Decimal("1"),
            maximum=Decimal("500"),
        ),
        RuleSpec(
            code="receivables_overdue",
            title="receivables overdue beyond the bucket HQ names",
            subject_kind="dealer",
            severity=Severity.HIGH,
            threshold_name="days past due beyond which an open receivable is warned of "
            "(90: the over-90 bucket; 30 or 60: from the next bucket on)",
            threshold=Decimal("90"),
            minimum=Decimal("1"),
            maximum=Decimal("3650"),
        ),
        RuleSpec(
            code="stock_below_safety",
            title="stock below safety stock",
            subject_kind="warehouse_sku",
            severity=Severity.MEDIUM,
            threshold_name="% of the safety stock below which available stock is warned of",
            threshold=Decimal("100"),
            minimum=Decimal("1"),
            maximum=Decimal("100"),
        ),
        RuleSpec(
            code="consignment_slow_turnover",
            title="consignment stock older than N days (slow turnover)",
            subject_kind="warehouse_sku",
            severity=Severity.MEDIUM,
            threshold_name="days in the dealer's consignment stock after which units are "
            "warned of (oldest received first out)",
            threshold=Decimal("90"),
            minimum=Decimal("1"),
            maximum=Decimal("730"),
        ),
        RuleSpec(
            code="shipment_not_delivered",
            title="shipment not confirmed delivered",
            subject_kind="shipment",
            severity=Severity.MEDIUM,
            threshold_name="days after shipping without a delivery confirmation",
            threshold=Decimal("14"),
            minimum=Decimal("1"),
            maximum=Decimal("365"),
        ),
        RuleSpec(
            code="dealer_red",
            title="dealer red in channel health",
            subject_kind="dealer",
            severity=Severity.HIGH,
            threshold_name="channel-health rules at red from which the dealer is warned of",
            threshold=Decimal("1"),
            minimum=Decimal("1"),
            maximum=Decimal("3"),
        ),
        RuleSpec(
            code="dealer_churn",
            title="regular dealer stopped ordering",
            subject_kind="dealer",
            severity=Severity.MEDIUM,
            threshold_name="days without an order, for a dealer that ordered at least 3 "
            "times in the 180 days up to its last order",
            threshold=Decimal("30"),
            minimum=Decimal("1"),
            maximum=Decimal("365"),
        ),
        RuleSpec(
            code="top_dealer_drop",
            title="top-10 dealer's month below its average (TOP10 line)",
            subject_kind="dealer",
            severity=Severity.HIGH,
            threshold_name="% by which a top-10 dealer's last month's net sales fell below "
            "its average of the three months before",
            threshold=Decimal("30"),
            minimum=Decimal("1"),
            maximum=Decimal("100"),
        ),
        RuleSpec(
            code="branch_pace_below_floor",
            title="branch's month-to-date pace below its floor target",
            subject_kind="branch",
            severity=Severity.HIGH,
            threshold_name="day of the month from which the pace (month-to-date net sales "
            "projected to the month's end) is held against the floor",
            threshold=Decimal("15"),
            minimum=Decimal("1"),
            maximum=Decimal("28"),
        ),
        RuleSpec(
            code="demand_plan_deviation",
            title="ordered quantity off the approved demand plan at month end",
            subject_kind="demand_plan",
            severity=Severity.MEDIUM,
            threshold_name="% by which the month's ordered quantity may deviate from the "
            "approved plan (checked once the month has ended)",
            threshold=Decimal("20"),
            minimum=Decimal("1"),
            maximum=Decimal("1000"),
        ),
    )
}
