"""退货: a dealer's return of goods it received, from request to credit.

requested -> approved (a branch manager of the order's branch, or HQ) -> received (the
warehouse counted what came back, good or damaged) -> credited (finance issued the credit
note at the order's prices); or requested -> rejected.

What a dealer may return is bounded by what shipped to it on the order, less what its other
returns (not rejected) already take back: the order keeps that count, so two returns filed
at once meet on the order's version and cannot together return more than shipped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation


class ReturnExceedsShipped(RuleViolation):
    code = "return_exceeds_shipped"


class UnknownReturn(NotFound):
    code = "unknown_return"


class InvalidReturnTransition(RuleViolation):
    code = "invalid_transition"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECEIVED = "received"
    CREDITED = "credited"


class DealerReturn(Aggregate):
    """A dealer's return against one order."""

    class Requested(Aggregate.Created):
        order_id: str
        dealer_code: str
        branch: str
        region: str
        warehouse_code: str
        business_date: date
        lines: dict[str, int]
        reason: str
        by: Provenance

    @event(Requested)
    def __init__(
        self,
        *,
        order_id: str,
        dealer_code: str,
        branch: str,
        region: str,
        warehouse_code: str,
        business_date: date,
        lines: dict[str, int],
        reason: str,
        by: Provenance,
    ) -> None:
        self.order_id = order_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.region = region
        self.warehouse_code = warehouse_code
        self.business_date = business_date
        self.lines = lines
        self.reason = reason
        self.status = ReturnStatus.REQUESTED
        self.decision: str | None = None  # the manager's words on a rejection
        self.received: dict[str, dict[str, int]] = {}  # sku -> {"good", "damaged"}
        self.received_on: date | None = None
        self.credit_note_id: str | None = None
        self.credited: Decimal | None = None
        self.credited_on: date | None = None

    def _must_be(self, *statuses: ReturnStatus) -> None:
        if self.status not in statuses:
            raise InvalidReturnTransition(
                f"return {self.id} is {self.status}, not {' or '.join(statuses)}"
            )

    def approve(self, by: Provenance) -> None:
        self._must_be(ReturnStatus.REQUESTED)
        self._approved(
            order_id=self.order_id,
            dealer_code=self.dealer_code,
            branch=self.branch,
            warehouse_code=self.warehouse_code,
            business_date=self.business_date,
            lines=self.lines,
            reason=self.reason,
            by=by,
        )

    @event("Approved")
    def _approved(
        self,
        order_id: str,
        dealer_code: str,
        branch: str,
        warehouse_code: str,
        business_date: date,
        lines: dict[str, int],
        reason: str,
        by: Provenance,
    ) -> None:
        self.status = ReturnStatus.APPROVED

    def reject(self, reason: str, by: Provenance) -> None:
        self._must_be(ReturnStatus.REQUESTED)
        self._rejected(reason=reason, by=by)

    @event("Rejected")
    def _rejected(self, reason: str, by: Provenance) -> None:
        self.status = ReturnStatus.REJECTED
        self.decision = reason

    # -- what the other services report ------------------------------------------------------
    def record_receipt(self, received: dict[str, dict[str, int]], received_on: date) -> None:
        if self.received_on is not None:
            return  # heard before (a redelivery)
        self._received(received=received, received_on=received_on)

    @event("Received")
    def _received(self, received: dict[str, dict[str, int]], received_on: date) -> None:
        if self.status == ReturnStatus.APPROVED:
            self.status = ReturnStatus.RECEIVED
        self.received = received
        self.received_on = received_on

    def record_credit(self, credit_note_id: str, amount: Decimal, issued_on: date) -> None:
        if self.credit_note_id is not None:
            return
        self._credited(credit_note_id=credit_note_id, amount=amount, issued_on=issued_on)

    @event("Credited")
    def _credited(self, credit_note_id: str, amount: Decimal, issued_on: date) -> None:
        # Finance may be heard before inventory's receipt (they publish on different
        # topics); a credit note is only issued for goods received, so it ends the return.
        self.status = ReturnStatus.CREDITED
        self.credit_note_id = credit_note_id
        self.credited = amount
        self.credited_on = issued_on
