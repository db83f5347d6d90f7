"""Export one JSON Schema per integration event and version (``make schemas``)."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.envelope import Envelope
from contracts.registry import PUBLISHED


def schema_documents() -> dict[str, dict]:
    documents = {"envelope.json": Envelope.model_json_schema()}
    for event in PUBLISHED:
        kind = event.event_type()
        schema = event.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:dist:schema:{kind}"
        schema["title"] = str(kind)
        documents[f"{kind.service}/{kind.name}.v{kind.version}.json"] = schema
    return documents


def export(folder: Path) -> list[Path]:
    written = []
    for relative, schema in schema_documents().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(path)
    return written
