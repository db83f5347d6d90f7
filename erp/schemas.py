"""The platform's published contracts, read from their JSON Schema files: one validator for
the envelope and one per event type and version (``dist.<service>.<Name>.v<N>``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "contracts" / "schemas"
_URN = "urn:dist:schema:"


class InvalidEvent(ValueError):
    """An envelope or its data does not fit the published schema of its type."""


@dataclass(frozen=True)
class Published:
    """Every published schema, by event type."""

    envelope: Draft202012Validator
    events: dict[str, Draft202012Validator]

    @classmethod
    def load(cls, folder: Path = DEFAULT_FOLDER) -> Published:
        checker = Draft202012Validator.FORMAT_CHECKER
        envelope = json.loads((folder / "envelope.json").read_text())
        events = {}
        for path in sorted(folder.glob("*/*.json")):
            schema = json.loads(path.read_text())
            events[schema["$id"].removeprefix(_URN)] = Draft202012Validator(
                schema, format_checker=checker
            )
        if not events:
            raise FileNotFoundError(f"no event schemas under {folder}")
        return cls(Draft202012Validator(envelope, format_checker=checker), events)

    def validate(self, envelope: Any) -> dict[str, Any]:
        """The envelope, if it and its data fit their schemas; else InvalidEvent."""
        self.check_envelope(envelope)
        self.check_data(envelope)
        return envelope

    def check_envelope(self, envelope: Any) -> None:
        self._check(self.envelope, envelope, "envelope")

    def check_data(self, envelope: dict[str, Any]) -> None:
        """The data against the schema of the envelope's type and version."""
        validator = self.events.get(envelope["type"])
        if validator is None:
            raise InvalidEvent(f"no published schema for {envelope['type']}")
        self._check(validator, envelope["data"], envelope["type"])

    @staticmethod
    def _check(validator: Draft202012Validator, document: Any, what: str) -> None:
        errors: Iterator[ValidationError] = validator.iter_errors(document)
        first = next(iter(sorted(errors, key=lambda e: list(e.absolute_path))), None)
        if first is not None:
            path = ".".join(str(part) for part in first.absolute_path) or "(top)"
            raise InvalidEvent(f"{what}: {path}: {first.message}"[:500])


def event_name(type_name: str) -> tuple[str, str, int]:
    """``dist.finance.InvoiceIssued.v1`` -> ("finance", "InvoiceIssued", 1)."""
    _, service, name, version = type_name.split(".")
    return service, name, int(version.removeprefix("v"))
