"""Sign-in throttling: after a few wrong passwords for one user name within a window, that
user name is refused (429 with Retry-After) until the oldest failure leaves the window, so
that guessing a password online takes years rather than hours.

Kept in the identity process's memory, per user name (not per address: every console
sign-in arrives from the console's address, and one caller must not lock out everyone).
A correct password does not get through a lock (otherwise the lock would tell a guesser
when it had guessed right); a successful sign-in clears the user name's failures. Several
replicas each count their own, which multiplies the allowance by the replicas (say 2-3),
not by anything an attacker controls. Memory is bounded: the oldest entries go first."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SignInThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 900.0,
        max_names: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_names = max_names
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, username: str) -> None:
        """Raises TooManyAttempts while the user name is locked."""
        now = self._clock()
        with self._lock:
            recent = self._recent(username.casefold(), now)
            if recent is not None and len(recent) >= self.max_failures:
                raise TooManyAttempts(max(1, math.ceil(recent[0] + self.window_s - now)))

    def failed(self, username: str) -> None:
        now = self._clock()
        key = username.casefold()
        with self._lock:
            recent = self._recent(key, now) or deque()
            recent.append(now)
            while len(recent) > self.max_failures:
                recent.popleft()
            self._failures[key] = recent
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_names:
                self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.casefold(), None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        recent = self._failures.get(key)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent:
            del self._failures[key]
            return None
        return recent
