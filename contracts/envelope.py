"""The CloudEvents-style envelope every integration event travels in.

``id`` is derived from the origin (service + notification position), so a republished event
keeps its id and consumers can de-duplicate by it. ``position`` and ``previousposition``
name the event's place in its service's notification log and the previous published one:
a consumer that has processed an unbroken chain up to P has seen everything up to P.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
TYPE_PREFIX = "dist"
_ID_NAMESPACE = uuid.UUID("6a3d1c52-2f4e-4b8a-9a43-3f0a9d7e1c11")


class UnknownEventType(LookupError):
    pass


class EventType(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    name: str
    version: int

    def __str__(self) -> str:
        return f"{TYPE_PREFIX}.{self.service}.{self.name}.v{self.version}"

    @classmethod
    def parse(cls, value: str) -> EventType:
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != TYPE_PREFIX or not parts[3].startswith("v"):
            raise UnknownEventType(f"not an event type of this platform: {value!r}")
        try:
            version = int(parts[3][1:])
        except ValueError:
            raise UnknownEventType(f"bad version in event type {value!r}") from None
        return cls(service=parts[1], name=parts[2], version=version)


class IntegrationEvent(BaseModel):
    """Base of every event's ``data`` model.

    Subclasses set ``service``, ``event_name`` and ``version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ClassVar[str]
    event_name: ClassVar[str]
    version: ClassVar[int]

    @classmethod
    def event_type(cls) -> EventType:
        return EventType(service=cls.service, name=cls.event_name, version=cls.version)

    def upcast(self) -> IntegrationEvent:
        """The same event in the next version: superseded versions say how (the registry
        chains them up to the current one); the current version has no next."""
        raise NotImplementedError(f"{self.event_type()} is the current version")


def event_id(source: str, position: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{source}#{position}"))


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = SPEC_VERSION
    id: str
    source: str = Field(description="the publishing service, e.g. 'orders'")
    type: str = Field(description="dist.<service>.<EventName>.v<version>")
    subject: str = Field(description="the aggregate id; also the Kafka key")
    time: datetime = Field(description="when the domain event happened, UTC")
    sequence: int = Field(
        ge=1,
        description="the n-th event published for this subject (1, 2, 3, ...): per-aggregate "
        "order, and a gap means a missing event",
    )
    position: int = Field(ge=1, description="the event's position in its service's log")
    previousposition: int = Field(
        ge=0, description="position of the previous event this service published (0: none)"
    )
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    causationid: str | None = None
    actor: str | None = None
    actorrole: str | None = None
    branch: str | None = None
    data: dict[str, Any]

    @property
    def event_type(self) -> EventType:
        return EventType.parse(self.type)
