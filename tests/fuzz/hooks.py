"""Schemathesis hooks for fuzzing the apps (loaded with SCHEMATHESIS_HOOKS).

Every command needs an Idempotency-Key, and a key already used with another body is
(rightly) refused with 409: a generated key that is valid is replaced by a fresh one for
each call, so that every POST is a new command. Invalid or missing keys are left as they
were generated, since those are the cases that test the refusal.

A query's `min_position` makes it wait (bounded) for the read model to reach that position
of a service's log, and answer 503 with Retry-After if it does not: a drawn position such as
`orders:7235` is one the platform has not reached, so every such query would wait out the
timeout for a documented 503. The number is set to 0 (reached from the start); the format is
still the generated one, and waiting is tested by the read-your-writes tests.

A `cursor` is an opaque token from a previous page's `next_cursor`; a drawn string is not one
the API issued, which is 422 `invalid_cursor` (test_order_slice). Schema-valid cases go
without one; cases drawn to be invalid keep theirs, so decoding still meets odd strings."""

from __future__ import annotations

import re
import uuid

import schemathesis

from runtime.http.idempotency import MAX_KEY_LENGTH

HEADER = "Idempotency-Key"
_VALID = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}", re.ASCII)
# Any service's position: the query API's (orders, inventory, finance) and the warnings
# board's (warnings).
_POSITION = re.compile(r"^[a-z]+:[0-9]{1,18}$")


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    if case.query and "cursor" in case.query and _positive(case):
        del case.query["cursor"]
    position = (case.query or {}).get("min_position")
    if isinstance(position, str) and _POSITION.match(position):
        case.query["min_position"] = position.partition(":")[0] + ":0"
    if case.method.upper() != "POST" or not case.headers:
        return
    for name, value in list(case.headers.items()):
        if name.lower() == HEADER.lower() and isinstance(value, str) and _VALID.fullmatch(value):
            case.headers[name] = str(uuid.uuid4())


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive
