"""Is a published event version's schema still what consumers were promised?

A version's JSON Schema, once exported under ``contracts/schemas``, is a promise: consumers
validate against it (every object is closed, ``additionalProperties: false``) and stores
hold events written to it. Under the same version only the documentation may change
(``description``, ``title``, ``examples``). Anything else breaks someone: a field added
breaks consumers that validate strictly, a field removed or retyped breaks every reader, a
constraint tightened refuses events already stored, one loosened lets through events old
consumers refuse. Such a change needs a new version, with an ``upcast`` from the old one.

``breaking_changes`` compares the two schemas with references resolved (renaming a nested
model is not a change) and names each difference by its path.
"""

from __future__ import annotations

from typing import Any

DOCUMENTATION = frozenset({"description", "title", "examples", "$comment"})


def _resolve(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it names, documentation dropped."""
    if isinstance(node, list):
        return [_resolve(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _resolve(definitions[name], definitions)
    return {
        key: _resolve(value, definitions)
        for key, value in node.items()
        if key not in DOCUMENTATION and key not in ("$defs", "$id")
    }


def normalised(schema: dict[str, Any]) -> dict[str, Any]:
    return _resolve(schema, schema.get("$defs", {}))


def breaking_changes(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a published schema and the one the code now gives for the same
    version, other than documentation: one line per difference, by path."""
    changes: list[str] = []
    _compare(normalised(published), normalised(current), "", changes)
    return changes


def _compare(old: Any, new: Any, path: str, changes: list[str]) -> None:
    where = path or "(the event)"
    if isinstance(old, dict) and isinstance(new, dict):
        if "properties" in old or "properties" in new:
            _compare_properties(old, new, path, changes)
        for key in sorted(set(old) | set(new)):
            if key in ("properties", "required"):
                continue
            if key not in new:
                changes.append(f"{where}: {key} {_show(old[key])} was removed")
            elif key not in old:
                changes.append(f"{where}: {key} {_show(new[key])} was added")
            else:
                _compare(old[key], new[key], f"{path}.{key}" if path else key, changes)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _compare(a, b, f"{path}[{index}]", changes)
        return
    if old != new:
        changes.append(f"{where}: {_show(old)} became {_show(new)}")


def _compare_properties(old: dict, new: dict, path: str, changes: list[str]) -> None:
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    prefix = f"{path}." if path else ""
    for name in sorted(set(old_fields) - set(new_fields)):
        changes.append(f"{prefix}{name}: the field was removed")
    for name in sorted(set(new_fields) - set(old_fields)):
        kind = "required" if name in new_required else "optional"
        changes.append(f"{prefix}{name}: a new {kind} field")
    for name in sorted(set(old_fields) & set(new_fields)):
        if (name in old_required) != (name in new_required):
            now = "required" if name in new_required else "optional"
            changes.append(f"{prefix}{name}: became {now}")
        _compare(old_fields[name], new_fields[name], f"{prefix}{name}", changes)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["breaking_changes", "normalised"]
