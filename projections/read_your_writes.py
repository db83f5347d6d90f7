"""Bounded waiting for a read model to reach a command's position (read your own writes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field
from sqlalchemy import Engine

from projections.tracking import Projection, SqlProjectionHandler
from runtime.http.problems import Problem


def position_field(*read_models: Projection) -> Any:
    """The `min_position` parameter of a query over ``read_models``: a position of a service
    one of them follows (another service's would never arrive), as its pattern says."""
    origins = sorted({origin for projection in read_models for origin in projection.origins})
    return Field(
        default=None,
        pattern=rf"^({'|'.join(origins)}):[0-9]{{1,18}}$",
        description=f"a command's `position` ({' or '.join(origins)}), e.g. `{origins[0]}:42`: "
        "wait until the read model has it, else 503 with Retry-After",
    )


class ReadYourWrites:
    def __init__(
        self,
        handlers: dict[str, SqlProjectionHandler],
        *,
        engine: Engine,
        timeout_s: float,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.handlers = handlers
        self.engine = engine  # the query side's pool, never the projectors'
        self.timeout_s = timeout_s
        # Rung when a query must wait: the projectors' consumer, if it idles, polls at once.
        self.wake = wake

    def wait(self, projection: str | tuple[str, ...], min_position: str | None) -> None:
        """Wait until every named read model that follows the position's service holds it
        (a query over several read models names them all)."""
        if not min_position:
            return
        origin, _, raw = min_position.partition(":")
        names = (projection,) if isinstance(projection, str) else projection
        following = [n for n in names if origin in self.handlers[n].projection.origins]
        if not following:
            raise Problem(
                422,
                "position_not_tracked",
                f"the {' and '.join(names)} read model does not follow {origin} positions",
            )
        if self.wake is not None:
            self.wake()
        for name in following:
            handler = self.handlers[name]
            if not handler.wait_for(origin, int(raw), timeout=self.timeout_s, engine=self.engine):
                raise Problem(
                    503,
                    "read_model_behind",
                    f"the {name} read model has not reached {min_position} yet",
                    headers={"Retry-After": "1"},
                )
