"""Who a record belongs to: the branches, dealers and warehouses it is attached to.

Every service describes each record it lets callers read with an ``Ownership``, and one rule
(``runtime.http.auth.Principal.check_reads``) decides from it who may read the record, the
same rule for every service and the one commands are checked by: headquarters reads
everything, a branch what belongs to its branch, a warehouse clerk what touches its
warehouse, a dealer what is its own. Knowing a record's id is never enough to read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _codes(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(value for value in values if value)


@dataclass(frozen=True)
class Ownership:
    what: str  # names the record in a refusal: "order 6f1c…", "warehouse WH-SH"
    branches: frozenset[str] = frozenset()
    dealers: frozenset[str] = frozenset()
    warehouses: frozenset[str] = frozenset()
    every_branch: bool = False  # national terms (a grade's rebate policy): any branch reads

    @classmethod
    def of(
        cls,
        what: str,
        *,
        branches: Iterable[str | None] = (),
        dealers: Iterable[str | None] = (),
        warehouses: Iterable[str | None] = (),
    ) -> Ownership:
        return cls(what, _codes(branches), _codes(dealers), _codes(warehouses))

    def joined(self, *others: Ownership) -> Ownership:
        """This record's owners and those of the records it is made of (a transfer's two
        warehouses, a shipment's warehouse and its dealer)."""
        owners = [self, *others]
        return Ownership(
            self.what,
            frozenset().union(*(o.branches for o in owners)),
            frozenset().union(*(o.dealers for o in owners)),
            frozenset().union(*(o.warehouses for o in owners)),
            any(o.every_branch for o in owners),
        )
