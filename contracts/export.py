"""Export one JSON Schema per integration event and version (``make schemas``).

A version already exported is published: it is written again only when what changed is
documentation (``contracts.compatibility``); any other change is refused, and needs a new
version of the event instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.compatibility import breaking_changes
from contracts.envelope import Envelope
from contracts.registry import READABLE

SCHEMAS = Path(__file__).parent / "schemas"


class IncompatibleChange(Exception):
    """A published version's schema would change other than in its documentation."""


def schema_documents() -> dict[str, dict]:
    """Every readable version's schema (and the envelope's), by its path under schemas/."""
    documents = {"envelope.json": Envelope.model_json_schema()}
    for event in READABLE:
        kind = event.event_type()
        schema = event.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:dist:schema:{kind}"
        schema["title"] = str(kind)
        documents[f"{kind.service}/{kind.name}.v{kind.version}.json"] = schema
    return documents


def incompatible_changes(folder: Path = SCHEMAS) -> dict[str, list[str]]:
    """Per published schema file: how the code's schema for it breaks it (or that the code
    no longer reads that version at all)."""
    documents = schema_documents()
    problems: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.json")):
        relative = path.relative_to(folder).as_posix()
        if relative not in documents:
            problems[relative] = ["published, but the code no longer reads this version"]
            continue
        changes = breaking_changes(json.loads(path.read_text()), documents[relative])
        if changes:
            problems[relative] = changes
    return problems


def export(folder: Path = SCHEMAS) -> list[Path]:
    problems = incompatible_changes(folder) if folder.exists() else {}
    if problems:
        lines = [
            f"{relative}: {change}" for relative, changes in problems.items() for change in changes
        ]
        raise IncompatibleChange(
            "a published schema would change incompatibly; add a new version of the event "
            "(with an upcast from this one) instead:\n  " + "\n  ".join(lines)
        )
    written = []
    for relative, schema in schema_documents().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(path)
    return written
