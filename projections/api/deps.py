"""Dependencies of the query API as named aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from projections.read_your_writes import ReadYourWrites
from runtime.http.deps import CurrentPrincipal

__all__ = ["Consistency", "CurrentPrincipal", "ReadModels"]


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


ReadModels = Annotated[Engine, Depends(_engine)]


async def _ryw(request: Request) -> ReadYourWrites:
    return request.app.state.read_your_writes


Consistency = Annotated[ReadYourWrites, Depends(_ryw)]
