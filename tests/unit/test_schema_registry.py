"""The schema registry and its files: valid draft-07, self-consistent examples, additive SchemaVer evolution.

Schema files are found from the package (``SCHEMA_ROOT``), never from the working directory.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from signal_platform import codec
from signal_platform.schema_registry import (
    MAX_LISTED_ERRORS,
    MAX_MESSAGE_CHARS,
    SCHEMA_ROOT,
    FieldError,
    SchemaRegistry,
    SchemaVer,
    load_schema,
)

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
# mappings/ holds data files beside the schemas (the track mapping), not schemas.
SCHEMA_FILES = sorted(p for p in SCHEMA_ROOT.rglob("*.json") if p.parent.name != "mappings")
EVENTS_ROOT = SCHEMA_ROOT / "events"
ENVELOPE_PATH = SCHEMA_ROOT / "contracts" / "envelope" / "1-0-0.json"
SIGNAL_BATCH_PATH = SCHEMA_ROOT / "contracts" / "signal_batch" / "1-0-0.json"

# Keywords that only annotate a schema: they may change in an ADDITION bump.
ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "examples", "$comment"})


def _rel(path: Path) -> str:
    return path.relative_to(SCHEMA_ROOT).with_suffix("").as_posix()


def _versions_by_type() -> dict[str, list[SchemaVer]]:
    return {
        type_dir.name: sorted(SchemaVer.parse(p.stem) for p in type_dir.glob("*.json"))
        for type_dir in sorted(EVENTS_ROOT.iterdir())
        if type_dir.is_dir()
    }


def _event_schema(event_type: str, version: SchemaVer) -> dict[str, Any]:
    return load_schema(EVENTS_ROOT / event_type / f"{version}.json")


def _addition_pairs(event_type: str) -> list[tuple[SchemaVer, SchemaVer]]:
    """Consecutive versions of one type within one MODEL: these must be additive (only a MODEL bump
    may break history), which is stricter than SchemaVer's own REVISION rule on purpose."""
    versions = _versions_by_type()[event_type]
    return [(older, newer) for older, newer in itertools.pairwise(versions) if older.model == newer.model]


def _examples() -> Iterator[tuple[Path, int]]:
    for path in SCHEMA_FILES:
        for index, _ in enumerate(load_schema(path).get("examples", [])):
            yield path, index


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _rs_validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True, offline=True)


def additive_violations(older: dict[str, Any], newer: dict[str, Any]) -> list[str]:
    """Why ``newer`` is not a SchemaVer ADDITION of ``older`` (empty when it is).

    An ADDITION must accept every event the older version accepted: each older property is kept
    unchanged, ``required`` is unchanged, every other constraint keyword is unchanged, and new
    properties appear only if the older schema was closed (``additionalProperties: false``), because
    in an open schema a new typed property can reject historical data.
    """
    violations: list[str] = []
    old_props: dict[str, Any] = older.get("properties", {})
    new_props: dict[str, Any] = newer.get("properties", {})
    for name, old_schema in old_props.items():
        if name not in new_props:
            violations.append(f"property {name!r} removed")
        elif new_props[name] != old_schema:
            violations.append(f"property {name!r} changed")
    if sorted(older.get("required", [])) != sorted(newer.get("required", [])):
        violations.append(f"required changed: {older.get('required', [])} -> {newer.get('required', [])}")
    added = sorted(set(new_props) - set(old_props))
    if added and older.get("additionalProperties") is not False:
        violations.append(f"properties {added} added to an open schema")
    constraints = sorted((set(older) | set(newer)) - ANNOTATIONS - {"properties", "required"})
    violations.extend(f"keyword {k!r} changed" for k in constraints if older.get(k) != newer.get(k))
    return violations


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry()


@pytest.fixture(scope="module")
def envelope_example() -> dict[str, Any]:
    example: dict[str, Any] = load_schema(ENVELOPE_PATH)["examples"][0]
    return example


def _event(base: dict[str, Any], event_type: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(base)
    event.update(event_type=event_type, schema_version=version, data=copy.deepcopy(data))
    return event


# ---------------------------------------------------------------------------------------- the files


def test_schema_folder_when_walked_holds_envelope_batch_and_every_event_type() -> None:
    # GIVEN the packaged schema folder
    # WHEN it is walked
    names = {_rel(path) for path in SCHEMA_FILES}
    # THEN the contracts and every event type's first version are there
    assert {"contracts/envelope/1-0-0", "contracts/signal_batch/1-0-0"} <= names
    for event_type in ("page_view", "click", "add_to_cart", "purchase", "signup", "search"):
        assert f"events/{event_type}/1-0-0" in names
    assert "events/page_view/1-1-0" in names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_file_against_draft07_metaschema_is_valid(path: Path) -> None:
    # GIVEN a schema file
    schema = load_schema(path)
    # WHEN it is checked against the draft-07 metaschema
    jsonschema.Draft7Validator.check_schema(schema)
    # THEN it passes and declares draft-07 with a title and a description
    assert schema["$schema"] == DRAFT_07
    assert schema["title"].strip()
    assert schema["description"].strip()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_file_with_jsonschema_rs_compiles(path: Path) -> None:
    # GIVEN a schema file
    schema = load_schema(path)
    # WHEN jsonschema_rs compiles it the way the registry does
    validator = _rs_validator(schema)
    # THEN it compiles
    assert validator is not None


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_file_id_matches_its_path(path: Path) -> None:
    # GIVEN a schema file
    schema = load_schema(path)
    # WHEN its $id is read
    # THEN it names the file's place under the schema root
    assert schema["$id"] == f"signals/{_rel(path)}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_file_name_is_schemaver(path: Path) -> None:
    # GIVEN a schema file
    # WHEN its name is parsed as a SchemaVer
    version = SchemaVer.parse(path.stem)
    # THEN it round-trips to the same text
    assert str(version) == path.stem


@pytest.mark.parametrize("path", sorted(EVENTS_ROOT.rglob("*.json")), ids=_rel)
def test_data_schema_when_inlined_is_closed_self_contained_object_with_examples(path: Path) -> None:
    # GIVEN an event data schema (the registry inlines it into the envelope)
    schema = load_schema(path)
    # WHEN its shape is inspected
    refs = [value for key, value in _walk(schema) if key == "$ref"]
    # THEN it is a closed object, has no $ref (which would resolve against the envelope) and >= 2 examples
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert refs == []
    assert len(schema["examples"]) >= 2


@pytest.mark.parametrize(
    ("path", "index"), list(_examples()), ids=lambda v: _rel(v) if isinstance(v, Path) else str(v)
)
def test_schema_example_against_its_own_schema_is_valid(path: Path, index: int) -> None:
    # GIVEN an example given by a schema file
    schema = load_schema(path)
    example = schema["examples"][index]
    # WHEN it is validated against that schema, with formats, by both implementations
    rs_errors = [f"{list(e.instance_path)}: {e.message}" for e in _rs_validator(schema).iter_errors(example)]
    py_validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    py_errors = [f"{list(e.absolute_path)}: {e.message}" for e in py_validator.iter_errors(example)]
    # THEN neither finds an error
    assert rs_errors == []
    assert py_errors == []


def test_envelope_examples_through_registry_are_valid(registry: SchemaRegistry) -> None:
    # GIVEN the envelope's example events
    examples = load_schema(ENVELOPE_PATH)["examples"]
    assert len(examples) >= 2
    for event in examples:
        # WHEN the registry validates each with its type's data schema
        # THEN each is valid
        assert registry.has_version(event["event_type"], event["schema_version"])
        assert registry.errors(event) == []
        assert registry.is_valid(event)


def test_registry_with_schemas_validates_the_changed_schemas_and_leaves_the_original(
    envelope_example: dict[str, Any],
) -> None:
    # GIVEN a registry, and the same registry with the envelope's event_id check left out
    registry = SchemaRegistry()

    def without_event_id_check(schema: dict[str, Any]) -> dict[str, Any]:
        return {**schema, "properties": {**schema["properties"], "event_id": {}}}

    changed = registry.with_schemas(without_event_id_check)
    event = {**envelope_example, "event_id": "not-a-uuid"}
    # WHEN each validates an event whose event_id is no UUID
    # THEN only the changed registry takes it, its types and published schemas are the original's,
    # and the original registry still refuses it
    assert changed.is_valid(event) and changed.errors(event) == []
    assert not registry.is_valid(event)
    assert changed.event_types == registry.event_types
    assert changed.event_schema("page_view", "1-0-0") == registry.event_schema("page_view", "1-0-0")


def test_envelope_page_view_example_when_serialized_is_realistic_size() -> None:
    # GIVEN the page_view example event with context
    event = next(e for e in load_schema(ENVELOPE_PATH)["examples"] if e["event_type"] == "page_view")
    assert "context" in event
    # WHEN it is serialized as the API receives it
    size = len(codec.dumps(event))
    # THEN it is the size of a real browser event (0.6 to 1 KB)
    assert 600 <= size <= 1024


def test_signal_batch_example_signals_are_client_events_of_the_batch_type(registry: SchemaRegistry) -> None:
    # GIVEN the signal batch example
    batch = load_schema(SIGNAL_BATCH_PATH)["examples"][0]
    for signal in batch["signals"]:
        # WHEN each signal is stripped of derived_at and validated as a client event
        event = {key: value for key, value in signal.items() if key != "derived_at"}
        # THEN it is a valid client event of the batch's event type
        assert signal["event_type"] == batch["event_type"]
        assert registry.errors(event) == []


def test_signal_batch_with_too_many_signals_or_bad_signature_is_invalid() -> None:
    # GIVEN the signal batch schema and its example
    schema = load_schema(SIGNAL_BATCH_PATH)
    batch = copy.deepcopy(schema["examples"][0])
    batch["signals"] = batch["signals"][:1] * 501
    batch["signature"] = "v1=ABC"
    del batch["ingest"]["region"]
    # WHEN it is validated
    paths = sorted(_path(e.instance_path) for e in _rs_validator(schema).iter_errors(batch))
    # THEN the signals count, the signature and the missing region are each reported
    assert paths == ["$.ingest", "$.signals", "$.signature"]


def _path(parts: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


# ------------------------------------------------------------------------------- SchemaVer evolution


@pytest.mark.parametrize("event_type", sorted(_versions_by_type()))
def test_event_type_versions_when_ordered_start_at_1_0_0_and_skip_none(event_type: str) -> None:
    # GIVEN the versions of one event type, in SchemaVer order
    versions = _versions_by_type()[event_type]
    # WHEN consecutive versions are compared
    # THEN the history starts at 1-0-0 and each step bumps one part by one, resetting the lower parts
    assert versions[0] == SchemaVer(1, 0, 0)
    for older, newer in itertools.pairwise(versions):
        assert older < newer
        assert newer in {
            SchemaVer(older.model + 1, 0, 0),
            SchemaVer(older.model, older.revision + 1, 0),
            SchemaVer(older.model, older.revision, older.addition + 1),
        }, f"{event_type}: {older} -> {newer} skips a version"


@pytest.mark.parametrize("event_type", sorted(_versions_by_type()))
def test_event_type_addition_bumps_are_additive(event_type: str) -> None:
    # GIVEN the consecutive versions of an event type that differ only in ADDITION
    for older, newer in _addition_pairs(event_type):
        old_schema = _event_schema(event_type, older)
        new_schema = _event_schema(event_type, newer)
        # WHEN the newer is compared with the older
        violations = additive_violations(old_schema, new_schema)
        # THEN it only adds optional properties, and every older example still validates
        assert violations == [], f"{event_type} {older} -> {newer}"
        validator = _rs_validator(new_schema)
        for example in old_schema["examples"]:
            assert validator.is_valid(example), f"{event_type} {newer} rejects {older} example {example}"


def test_page_view_1_1_0_over_1_0_0_is_additive() -> None:
    # GIVEN page_view 1-0-0 and 1-1-0 (a REVISION bump, which the ADDITION rule above does not cover)
    old_schema = _event_schema("page_view", SchemaVer(1, 0, 0))
    new_schema = _event_schema("page_view", SchemaVer(1, 1, 0))
    # WHEN the additive check compares them
    violations = additive_violations(old_schema, new_schema)
    # THEN 1-1-0 only adds optional fields, so every 1-0-0 example is still valid 1-1-0 data
    assert violations == []
    assert set(new_schema["properties"]) - set(old_schema["properties"]) == {"viewport", "load_time_ms"}
    validator = _rs_validator(new_schema)
    assert all(validator.is_valid(example) for example in old_schema["examples"])


_BASE: dict[str, Any] = {
    "$id": "signals/events/synthetic/1-0-0",
    "type": "object",
    "additionalProperties": False,
    "required": ["a"],
    "properties": {"a": {"type": "string"}, "b": {"type": "integer", "minimum": 0}},
}


def _variant(**changes: Any) -> dict[str, Any]:
    schema = copy.deepcopy(_BASE)
    schema["$id"] = "signals/events/synthetic/1-0-1"
    schema.update(changes)
    return schema


@pytest.mark.parametrize(
    ("newer", "expected"),
    [
        (_variant(properties={"a": {"type": "string"}}), "property 'b' removed"),
        (
            _variant(properties={"a": {"type": "string"}, "b": {"type": "integer", "minimum": 1}}),
            "property 'b' changed",
        ),
        (_variant(required=["a", "b"]), "required changed"),
        (
            _variant(properties={**_BASE["properties"], "c": {"type": "string"}}, required=["a", "c"]),
            "required changed",
        ),
        (_variant(additionalProperties=True), "keyword 'additionalProperties' changed"),
        (_variant(maxProperties=1), "keyword 'maxProperties' changed"),
    ],
    ids=["removed", "narrowed", "now-required", "new-required", "opened", "new-constraint"],
)
def test_additive_check_on_non_additive_change_reports_violation(
    newer: dict[str, Any], expected: str
) -> None:
    # GIVEN a synthetic schema and a non-additive successor
    # WHEN the additive check compares them
    violations = additive_violations(_BASE, newer)
    # THEN it reports the change
    assert any(v.startswith(expected) for v in violations), violations


def test_additive_check_on_new_property_of_open_schema_reports_violation() -> None:
    # GIVEN an open schema (extra properties of any type allowed) and a successor that types a new one
    older = {**copy.deepcopy(_BASE), "additionalProperties": True}
    newer = {**copy.deepcopy(older), "properties": {**_BASE["properties"], "c": {"type": "string"}}}
    # WHEN the additive check compares them
    violations = additive_violations(older, newer)
    # THEN it reports that historical data may no longer validate
    assert violations == ["properties ['c'] added to an open schema"]


def test_additive_check_on_new_optional_property_and_new_text_reports_nothing() -> None:
    # GIVEN a successor that adds an optional property and rewords the annotations
    newer = _variant(
        properties={**_BASE["properties"], "c": {"type": "boolean"}},
        title="synthetic 1-0-1",
        description="reworded",
        examples=[{"a": "x", "c": True}],
    )
    # WHEN the additive check compares them
    # THEN it reports nothing
    assert additive_violations(_BASE, newer) == []


# --------------------------------------------------------------------------------- SchemaRegistry


def _all_examples() -> list[tuple[str, str, int]]:
    return [
        (event_type, str(version), index)
        for event_type, versions in _versions_by_type().items()
        for version in versions
        for index, _ in enumerate(_event_schema(event_type, version)["examples"])
    ]


def test_registry_event_types_when_listed_match_schema_folders(registry: SchemaRegistry) -> None:
    # GIVEN the registry over the packaged schemas
    # WHEN its event types are listed
    listed = registry.event_types
    # THEN they are exactly the folders and files under events/
    assert listed == {t: frozenset(str(v) for v in vs) for t, vs in _versions_by_type().items()}


@pytest.mark.parametrize(("event_type", "version", "index"), _all_examples())
def test_registry_event_built_from_example_is_valid(
    registry: SchemaRegistry, envelope_example: dict[str, Any], event_type: str, version: str, index: int
) -> None:
    # GIVEN a complete client event carrying a data example of this type and version
    data = registry.data_schema(event_type, version)["examples"][index]
    event = _event(envelope_example, event_type, version, data)
    # WHEN the registry validates it
    # THEN it is valid on both the fast and the full path
    assert registry.is_valid(event)
    assert registry.errors(event) == []


def test_registry_event_with_three_mistakes_errors_reports_each_path(
    registry: SchemaRegistry, envelope_example: dict[str, Any]
) -> None:
    # GIVEN an add_to_cart event with a bad time, a zero quantity and a bad page URL
    data = registry.data_schema("add_to_cart", "1-0-0")["examples"][0]
    event = _event(envelope_example, "add_to_cart", "1-0-0", data)
    event["occurred_at"] = "yesterday at noon"
    event["data"]["quantity"] = 0
    event["context"]["page"]["url"] = "not a url"
    # WHEN the registry is asked for every error
    assert not registry.is_valid(event)
    errors = registry.errors(event)
    # THEN each mistake is reported once, at its JSON path, with a message
    assert sorted(error.path for error in errors) == [
        "$.context.page.url",
        "$.data.quantity",
        "$.occurred_at",
    ]
    assert all(isinstance(error, FieldError) and error.code == "schema_violation" for error in errors)
    assert all(error.message for error in errors)


def test_registry_purchase_with_bad_item_errors_reports_indexed_path(
    registry: SchemaRegistry, envelope_example: dict[str, Any]
) -> None:
    # GIVEN a purchase whose second item has a negative price and whose currency is lower case
    data = registry.data_schema("purchase", "1-0-0")["examples"][0]
    event = _event(envelope_example, "purchase", "1-0-0", data)
    event["data"]["items"][1]["unit_price"] = -1
    event["data"]["currency"] = "eur"
    # WHEN the registry is asked for every error
    paths = sorted(error.path for error in registry.errors(event))
    # THEN array positions appear as [index] in the path
    assert paths == ["$.data.currency", "$.data.items[1].unit_price"]


def test_registry_event_with_unknown_field_or_wrong_type_is_invalid(
    registry: SchemaRegistry, envelope_example: dict[str, Any]
) -> None:
    # GIVEN a page_view 1-0-0 event carrying a 1-1-0 field, and a data type that disagrees with the event
    v1_1 = registry.data_schema("page_view", "1-1-0")["examples"][0]
    too_new = _event(envelope_example, "page_view", "1-0-0", v1_1)
    mismatched = _event(envelope_example, "click", "1-0-0", envelope_example["data"])
    # WHEN the registry validates them
    # THEN the closed 1-0-0 data rejects the new field, 1-1-0 accepts it, and a click is not a page_view
    assert [e.path for e in registry.errors(too_new)] == ["$.data"]
    assert registry.is_valid(_event(envelope_example, "page_view", "1-1-0", v1_1))
    assert not registry.is_valid(mismatched)


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("event_id", "not-a-uuid", "$.event_id"),
        ("source", "Web Storefront", "$.source"),
        ("sent_at", "2025-11-26 14:03", "$.sent_at"),
        ("unexpected", 1, "$"),
    ],
)
def test_registry_envelope_with_bad_field_errors_reports_path(
    registry: SchemaRegistry, envelope_example: dict[str, Any], field: str, value: Any, path: str
) -> None:
    # GIVEN the valid page_view example with one envelope field spoiled
    event = copy.deepcopy(envelope_example)
    event[field] = value
    # WHEN the registry lists its errors
    # THEN exactly that field is reported
    assert [error.path for error in registry.errors(event)] == [path]


@pytest.mark.parametrize(
    ("field", "value"),
    [("ip", "300.1.2.3"), ("ip", "2001:db8::g"), ("locale", "en_US"), ("user_agent", "x" * 1025)],
)
def test_registry_context_with_bad_value_errors_reports_path(
    registry: SchemaRegistry, envelope_example: dict[str, Any], field: str, value: str
) -> None:
    # GIVEN the valid page_view example with one context field spoiled
    event = copy.deepcopy(envelope_example)
    event["context"][field] = value
    # WHEN the registry lists its errors
    # THEN that context field is reported
    assert [error.path for error in registry.errors(event)] == [f"$.context.{field}"]


def test_registry_event_id_in_upper_case_is_valid(
    registry: SchemaRegistry, envelope_example: dict[str, Any]
) -> None:
    # GIVEN an event whose UUID is written in upper-case hex and with an IPv6 address
    event = copy.deepcopy(envelope_example)
    event["event_id"] = event["event_id"].upper()
    event["context"]["ip"] = "2001:db8::8a2e:370:7334"
    # WHEN the registry validates it
    # THEN it is valid
    assert registry.is_valid(event)


def test_registry_unknown_type_or_version_has_type_false(registry: SchemaRegistry) -> None:
    # GIVEN the registry
    # WHEN unknown types and versions are looked up
    # THEN they are reported missing, and known ones present
    assert registry.has_type("page_view")
    assert registry.has_version("page_view", "1-1-0")
    assert not registry.has_type("checkout_started")
    assert not registry.has_version("checkout_started", "1-0-0")
    assert not registry.has_version("page_view", "9-0-0")
    assert not registry.has_version("page_view", "1.0.0")


def test_registry_validator_asked_twice_is_compiled_once(registry: SchemaRegistry) -> None:
    # GIVEN the registry
    # WHEN the validator of one type and version is asked for twice
    first = registry.validator("search", "1-0-0")
    second = registry.validator("search", "1-0-0")
    # THEN the same compiled object is returned, and another version gets its own
    assert first is second
    assert registry.validator("page_view", "1-0-0") is not registry.validator("page_view", "1-1-0")


# -------------------------------------------------------------------------------------- SchemaVer


def test_schemaver_parse_when_sorted_orders_numerically() -> None:
    # GIVEN versions whose text order differs from their numeric order
    texts = ["2-0-0", "1-0-10", "1-1-0", "1-0-9", "1-0-0", "10-0-0"]
    # WHEN they are parsed and sorted
    ordered = [str(v) for v in sorted(SchemaVer.parse(t) for t in texts)]
    # THEN MODEL, then REVISION, then ADDITION decide, as numbers
    assert ordered == ["1-0-0", "1-0-9", "1-0-10", "1-1-0", "2-0-0", "10-0-0"]
    assert SchemaVer.parse("1-2-3") == SchemaVer(1, 2, 3)
    assert SchemaVer.parse("1-0-1") > SchemaVer.parse("1-0-0")


@pytest.mark.parametrize(
    "text", ["1.0.0", "0-1-0", "01-0-0", "1-00-0", "1-0", "1-0-0-0", "v1-0-0", "", "1-0-0\n", "1\u0663-0-0"]
)
def test_schemaver_parse_on_malformed_text_raises(text: str) -> None:
    # GIVEN text that is not MODEL-REVISION-ADDITION (MODEL >= 1, no leading zeros, ASCII digits only)
    # WHEN it is parsed
    # THEN it is refused
    with pytest.raises(ValueError, match="not a SchemaVer"):
        SchemaVer.parse(text)


# JSON numbers that every parser holds exactly (RFC 8259 section 6); orjson reads larger integers as
# floats, so an unbounded integer field would forward a different value than the client sent.
EXACT_JSON_INTEGER = 2**53 - 1


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_numbers_bounded_within_exact_json_range(path: Path) -> None:
    # GIVEN every integer or number a schema file declares
    schema = load_schema(path)
    numbers = [
        node
        for _, node in _walk({"root": schema})
        if isinstance(node, dict) and node.get("type") in ("integer", "number")
    ]
    # WHEN their bounds are read / THEN each has both, inside the range a JSON parser holds exactly
    for node in numbers:
        assert (
            -EXACT_JSON_INTEGER
            <= node.get("minimum", -(2**64))
            <= node.get("maximum", 2**64)
            <= EXACT_JSON_INTEGER
        ), node


def _purchase_with_wrong_items(
    registry: SchemaRegistry, envelope_example: dict[str, Any], wrong: int
) -> dict[str, Any]:
    """A purchase whose items are ``wrong`` numbers (each fails the item schema once)."""
    data = registry.data_schema("purchase", "1-0-0")["examples"][0]
    return _event(envelope_example, "purchase", "1-0-0", {**data, "items": [1] * wrong})


def test_registry_errors_up_to_the_listing_limit_are_each_listed(
    registry: SchemaRegistry, envelope_example: dict[str, Any]
) -> None:
    # GIVEN an event failing exactly as many checks as are listed
    event = _purchase_with_wrong_items(registry, envelope_example, MAX_LISTED_ERRORS)
    # WHEN its errors are asked for / THEN each is listed at its path
    errors = registry.errors(event)
    assert [error.path for error in errors] == [f"$.data.items[{i}]" for i in range(MAX_LISTED_ERRORS)]
    assert {error.code for error in errors} == {"schema_violation"}


@pytest.mark.parametrize(
    ("wrong", "first_path", "failed"),
    [
        (MAX_LISTED_ERRORS + 1, "$.data.items[0]", MAX_LISTED_ERRORS + 1),
        (200_000, "$.data.items", 200_001),  # also over the 200 items the schema allows
    ],
)
def test_registry_errors_past_the_listing_limit_are_the_first_and_a_count(
    registry: SchemaRegistry, envelope_example: dict[str, Any], wrong: int, first_path: str, failed: int
) -> None:
    # GIVEN an event failing more checks than are listed (200,000: was ~1 s and a 12 MB error list,
    # every message quoting the whole array)
    event = _purchase_with_wrong_items(registry, envelope_example, wrong)
    # WHEN its errors are asked for
    first, more = registry.errors(event)
    # THEN the first error, its message clipped, and how many checks failed
    assert (first.code, first.path) == ("schema_violation", first_path)
    assert 0 < len(first.message) <= MAX_MESSAGE_CHARS
    assert (more.code, more.path) == ("too_many_errors", "$")
    assert f"fails {failed} schema checks" in more.message
