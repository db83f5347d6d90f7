"""A process's start-up heap is moved out of the cyclic collector's way once it has started."""

import gc
import weakref

import pytest

from runtime import heap


class Ledger:
    """Anything a process builds at start-up (a route, a schema, a dealer's terms)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.other: Ledger | None = None


@pytest.fixture
def thawed():
    yield
    gc.unfreeze()


def test_what_lives_at_start_up_is_frozen_and_start_up_garbage_is_collected_first(thawed):
    kept = Ledger("CD-001 terms")
    cycle_a, cycle_b = Ledger("scratch a"), Ledger("scratch b")
    cycle_a.other, cycle_b.other = cycle_b, cycle_a
    gone = weakref.ref(cycle_a)
    del cycle_a, cycle_b

    frozen = heap.settle()

    assert gone() is None, "a start-up cycle must be collected, not kept for good"
    # A frozen object that dies leaves the permanent generation, and other threads of the
    # test session (a broker client's IO thread) may drop some between the two counts.
    assert 0 < gc.get_freeze_count() <= frozen
    assert not any(o is kept for o in gc.get_objects()), "kept objects are out of every generation"


def test_objects_made_after_start_up_are_still_collected(thawed):
    heap.settle()
    late_a, late_b = Ledger("order 1"), Ledger("order 2")
    late_a.other, late_b.other = late_b, late_a
    gone = weakref.ref(late_a)
    del late_a, late_b

    gc.collect()

    assert gone() is None
