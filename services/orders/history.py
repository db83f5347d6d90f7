"""What orders have booked, per dealer grade: how far back a price or a promotion may be dated.

A brand loading its history dates its prices and promotions in the past. One may take effect
on any day from today on (orders of today booked before it keep what they were booked at,
as always); before today, only after the last order booked in its scope, the dealer grades
it prices: no order already booked may find its price or its promotions changed underneath
it.

``BookedDates`` keeps, per grade, the latest business date of an order booked, and is saved
in the same transaction as the order that moves it on. Why this is exact under concurrency
(optimistic concurrency on the one aggregate both sides write):

- placing an order reads the price lists, the promotion book and ``BookedDates`` in one
  query (one snapshot of the store); if its business date is after its grade's latest, it
  records its date, and so writes ``BookedDates`` at the version it read;
- a price or promotion dated before today checks ``BookedDates`` and writes it too (an
  ``Amended`` event) in the same transaction as the price list or promotion book.

An order and a backdated price that overlap (the order's date on or after the price's) both
write ``BookedDates`` at the version they read, so only one of them commits; the other
decides again on fresh state (the HTTP edge retries it): the order is then priced at the new
price, or the price is refused. An order dated on or before its grade's latest writes nothing
and needs not: a price dated on or before that latest is refused anyway, and a later one
does not apply to it. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders")


class BookedDates(Aggregate):
    """Per dealer grade, the latest business date of an order booked. One for the service."""

    ID = uuid5(_IDS, "booked-dates")

    @staticmethod
    def create_id() -> UUID:
        return BookedDates.ID

    class Opened(Aggregate.Created):
        latest: dict[str, str]

    @event(Opened)
    def __init__(self, *, latest: dict[str, str]) -> None:
        """``latest``: what the orders booked before this record existed had reached (the
        service's own event store, read once when it is opened)."""
        self.latest: dict[str, str] = dict(latest)  # grade -> ISO business date

    def last_booked(self, grades: Iterable[str]) -> date | None:
        found = [self.latest[grade] for grade in grades if grade in self.latest]
        return date.fromisoformat(max(found)) if found else None

    def book(self, grade: str, business_date: date) -> bool:
        """An order of ``grade`` is booked on ``business_date``. True: the grade's latest
        date moved on (the order is saved with this record's new version)."""
        latest = self.last_booked([grade])
        if latest is not None and business_date <= latest:
            return False
        self._booked(grade=str(grade), business_date=business_date)
        return True

    @event("Booked")
    def _booked(self, grade: str, business_date: date) -> None:
        self.latest[grade] = business_date.isoformat()

    def check_may_take_effect(
        self,
        grades: Iterable[str],
        on: date,
        *,
        today: date,
        refuse: type[RuleViolation],
        what: str,
    ) -> bool:
        """Whether ``what``, pricing orders of ``grades``, may take effect ``on``: from today
        on, yes; before, only after the last order booked of those grades, else ``refuse``.
        True when it changes history (``on`` is before today): the caller then records
        ``amend`` with the change, in the same transaction."""
        if on >= today:
            return False
        grades = list(grades)
        last = self.last_booked(grades)
        if last is not None and last >= on:
            raise refuse(
                f"{what} takes effect on {on} only if no order of {', '.join(grades)} is "
                f"booked on or after that day, and one is booked on {last}: orders already "
                "booked keep what they were booked at",
                last_booked=last.isoformat(),
            )
        return True

    def amend(self, grades: Iterable[str], on: date, *, what: str, by: Provenance) -> None:
        """History from ``on`` changes for orders of ``grades``: recorded so that an order
        of those grades booked meanwhile conflicts with it (see the module's docstring)."""
        self._amended(grades=sorted(grades), on=on, what=what, by=by)

    @event("Amended")
    def _amended(self, grades: list[str], on: date, what: str, by: Provenance) -> None:
        pass
