"""Two commands racing through an application on PostgreSQL, made to meet: both read
before either writes, so optimistic concurrency must let exactly one of them save."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eventsourcing.persistence import IntegrityError


def in_step(app: Any, name: str) -> Callable[[], None]:
    """Make two concurrent commands both read through ``app.<name>`` before either writes;
    answers a function that puts the original back."""
    both_read = threading.Barrier(2, timeout=10)
    original = getattr(app, name)

    def read_in_step(*args, **kwargs):
        found = original(*args, **kwargs)
        both_read.wait()
        return found

    setattr(app, name, read_in_step)
    return lambda: setattr(app, name, original)


def race(first: Callable[[], Any], second: Callable[[], Any] | None = None) -> list:
    """Run both at once (one command: twice); each outcome, in order, is the command's
    answer or the conflict that refused its save."""

    def attempt(command: Callable[[], Any]):
        try:
            return command()
        except IntegrityError as conflict:
            return conflict

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(attempt, (first, second or first)))
