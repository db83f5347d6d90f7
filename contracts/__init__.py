"""Integration events: the only thing services publish to Kafka, and what the ERP consumes.

Each event is a pydantic model of its ``data`` with a stable name and version; the envelope
(``contracts.envelope``) is CloudEvents-style. Domain events never leave their service: each
service translates them into these in its ``contract.py``.
"""

from contracts.envelope import Envelope, EventType, IntegrationEvent, UnknownEventType
from contracts.registry import EVENT_TYPES, decode_data, event_type_of, handler_for

__all__ = [
    "EVENT_TYPES",
    "Envelope",
    "EventType",
    "IntegrationEvent",
    "UnknownEventType",
    "decode_data",
    "event_type_of",
    "handler_for",
]
