"""How long a request may wait for the database before it answers 503.

The HTTP edge sets a deadline for each request (``Settings.database_timeout_s``); the event
store's recorder and group commit read it, retry a lost connection only while time remains,
and never start a transaction for a command whose deadline has passed. So a command the
caller was told failed has no transaction left queued or running that could commit it later.
Background workers (relays, projectors, process managers) run without a deadline and keep the
library's own retries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from eventsourcing.persistence import OperationalError

_deadline: ContextVar[float | None] = ContextVar("database_deadline", default=None)


class DatabaseUnavailable(OperationalError):
    """The database did not answer before the request's deadline; nothing was written. An
    OperationalError like the library's own, so whatever handles a lost database (readiness
    probes, snapshots, workers' retries) handles this too."""


def current() -> float | None:
    """The current request's deadline (``time.monotonic()`` seconds), if any."""
    return _deadline.get()


@contextmanager
def within(seconds: float) -> Iterator[float]:
    """Run the block with a deadline ``seconds`` from now (an outer, earlier one stays)."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


@contextmanager
def until(deadline: float | None) -> Iterator[None]:
    """Run the block under an explicit deadline (e.g. a queued command's, in a writer thread)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)
