"""What the registry is measured against: the same combined schema, validated the naive way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from signal_platform.schema_registry import ENVELOPE_VERSION, SCHEMA_ROOT, SchemaRegistry


def combined_schema(registry: SchemaRegistry, event_type: str, version: str) -> dict[str, Any]:
    """The schema ``SchemaRegistry._compile`` hands to jsonschema_rs, rebuilt the same way:
    the envelope (without ``$id``) with the type and version pinned and the data schema inlined."""
    data_schema = registry.data_schema(event_type, version)
    for annotation in ("$schema", "$id", "examples"):
        data_schema.pop(annotation, None)
    envelope = registry.contract("envelope", ENVELOPE_VERSION)
    schema = {key: value for key, value in envelope.items() if key != "$id"}
    schema["properties"] = {
        **envelope["properties"],
        "event_type": {"const": event_type},
        "schema_version": {"const": version},
        "data": data_schema,
    }
    return schema


class NaiveRegistry(SchemaRegistry):
    """The registry with ``jsonschema.validate(event, schema)`` per event (schemas cached as dicts)."""

    def __init__(self, root: Path = SCHEMA_ROOT) -> None:
        super().__init__(root)
        self._schemas: dict[tuple[str, str], dict[str, Any]] = {}

    def is_valid(self, event: dict[str, Any]) -> bool:
        key = (event["event_type"], event["schema_version"])
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = combined_schema(self, *key)
        try:
            jsonschema.validate(event, schema)
        except jsonschema.ValidationError:
            return False
        return True
