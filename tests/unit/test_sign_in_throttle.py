"""Five wrong passwords for one user name within 15 minutes lock that name until the
oldest failure is 15 minutes old; other names are untouched; success clears the count."""

from __future__ import annotations

import pytest

from services.identity.throttle import SignInThrottle, TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_the_name_until_the_first_leaves_the_window():
    clock = Clock()
    throttle = SignInThrottle(max_failures=5, window_s=900, clock=clock)
    for _ in range(5):
        throttle.check("cd.clerk")
        throttle.failed("cd.clerk")
        clock.now += 60
    with pytest.raises(TooManyAttempts) as locked:
        throttle.check("CD.Clerk")  # the same name, whatever its case
    assert locked.value.retry_after_s == 900 - 300
    throttle.check("cd.manager")  # another user is not affected
    clock.now += 900 - 300
    throttle.check("cd.clerk")  # the first failure has left the window


def test_a_success_clears_the_failures_and_memory_is_bounded():
    clock = Clock()
    throttle = SignInThrottle(max_failures=3, window_s=900, max_names=2, clock=clock)
    for _ in range(2):
        throttle.failed("cd001")
    throttle.succeeded("cd001")
    for _ in range(2):
        throttle.failed("cd001")
    throttle.check("cd001")
    for name in ("a.one", "b.two", "c.three"):
        throttle.failed(name)
    assert len(throttle._failures) == 2
