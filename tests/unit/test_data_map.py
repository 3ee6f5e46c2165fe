"""docs/data-map.md against the schema registry and the template: no field of a client event
without its row, no row for a field that does not exist, retention as the template sets it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from signal_platform import codec
from tests.infra.rendering import template

ROOT: Final = Path(__file__).parents[2]
DATA_MAP: Final = ROOT / "docs" / "data-map.md"
SCHEMAS: Final = ROOT / "schemas"
ENVELOPE: Final = SCHEMAS / "contracts" / "envelope" / "1-0-0.json"
# What the server sees of a request besides the body (validator.verdicts.RequestView).
REQUEST_FIELDS: Final = {"request.source_ip", "request.user_agent"}
_CODE: Final = re.compile(r"`([^`]+)`")


def _properties(node: Any, path: str, definitions: dict[str, Any]) -> Iterator[str]:
    """Every property path a JSON Schema node declares (``a.b``, ``items[].c``), ``$ref``s followed."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        yield from _properties(definitions[ref.rsplit("/", 1)[-1]], path, definitions)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(keyword, []):
            yield from _properties(branch, path, definitions)
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}" if path else name
        yield child_path
        yield from _properties(child, child_path, definitions)
    if isinstance(node.get("items"), dict):
        yield from _properties(node["items"], f"{path}[]", definitions)


def _schema_fields(schema_file: Path, prefix: str = "") -> set[str]:
    schema = codec.loads(schema_file.read_bytes())
    return set(_properties(schema, prefix, schema.get("definitions", {})))


def _client_fields() -> set[str]:
    """The envelope's fields and, under ``data.``, every field of every registered event type."""
    fields = _schema_fields(ENVELOPE)
    for schema_file in sorted((SCHEMAS / "events").glob("*/*.json")):
        fields |= _schema_fields(schema_file, "data")
    return fields | REQUEST_FIELDS


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def _rows(section: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and separator skipped)."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.fixture(scope="module")
def data_map() -> str:
    return DATA_MAP.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def mapped_fields(data_map: str) -> dict[str, list[str]]:
    """field -> the cells of its row."""
    mapped: dict[str, list[str]] = {}
    for cells in _rows(_section(data_map, "Fields")):
        for field in _CODE.findall(cells[0]):
            assert field not in mapped, f"{field} has two rows"
            mapped[field] = cells
    return mapped


def test_data_map_every_client_field_has_its_row(mapped_fields):
    # GIVEN every field a client event can carry (schemas) and what the server sees of a request
    fields = _client_fields()
    assert {"context.ip", "context.user_agent", "data.traits", "data.origin.context"} <= fields
    # WHEN the data map's rows are read
    # THEN each field has a row, and each row names a field that exists
    assert sorted(fields - mapped_fields.keys()) == []
    assert sorted(mapped_fields.keys() - fields) == []


def test_data_map_every_row_names_defined_stores(data_map, mapped_fields):
    # GIVEN the stores the data map defines
    stores = {_CODE.findall(cells[0])[0] for cells in _rows(_section(data_map, "Stores"))}
    assert {"api-log", "lake", "dlq-store", "partner"} <= stores
    for field, cells in mapped_fields.items():
        # WHEN a field's row is read
        named = set(_CODE.findall(cells[2])) - {"enrichment", "enrichment-failure"} - mapped_fields.keys()
        # THEN it says whether the field is personal, and where it is kept names defined stores only
        assert cells[1], field
        assert named <= stores, (field, named - stores)
    # AND the access log keeps neither the address nor the browser
    assert mapped_fields["request.source_ip"][3] == "not in `api-log`"
    assert mapped_fields["request.user_agent"][3] == "not in `api-log`"


def test_data_map_retention_is_the_templates_default(data_map):
    # GIVEN the template's parameters
    parameters = template()["Parameters"]
    retentions = [cells[2] for cells in _rows(_section(data_map, "Stores"))]
    named = 0
    for retention in retentions:
        # WHEN a store's retention names a parameter ("`Name`: <default> <unit>")
        for name, default in re.findall(r"`([A-Za-z]+)`: ([0-9]+) ", retention):
            if name == "MessageRetentionPeriod":
                continue
            named += 1
            # THEN the parameter exists and its default is the number the data map states
            assert str(parameters[name]["Default"]) == default, name
    assert named >= 5
