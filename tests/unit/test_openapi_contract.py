"""docs/openapi.yaml against the code it describes: statuses, headers, examples, codes and limits.

The event schemas are generated from the registry (``python -m tools.openapi``), the rest is written
by hand; these tests fail as soon as the document and the validator drift apart.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import openapi_spec_validator
import pytest

from signal_platform import errors, schema_registry
from signal_platform.schema_registry import SCHEMA_ROOT, SchemaRegistry, load_schema
from signal_platform.timeutil import format_rfc3339, parse_rfc3339
from tests.openapi_spec import PROJECT_ROOT, SPEC_PATH
from tests.openapi_spec import deref as _deref
from tests.openapi_spec import json_schema as _json_schema
from tests.openapi_spec import operation as _operation
from tests.openapi_spec import resolve as _resolve
from tests.openapi_spec import responses as _responses
from tests.openapi_spec import spec as _spec
from tools import openapi as openapi_tool
from validator import api, event_time, verdicts
from validator.ingest import Counts, IngestAnswer
from validator.settings import ValidatorSettings
from validator.verdicts import EventJudge, Limits

ENVELOPE = load_schema(SCHEMA_ROOT / "contracts" / "envelope" / "1-0-0.json")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

# The first string literal of each `_reject(...)` call in verdicts.py is the rejection code; the
# definition `def _reject(index: int, ...)` closes its parenthesis before any quote, so it is skipped.
_REJECT_CODE = re.compile(r'_reject\(\s*[^"()]*"([a-z_]+)"')
# Codes built directly, e.g. the registry's FieldError("schema_violation", ...) for schema errors.
_FIELD_ERROR_CODE = re.compile(r'FieldError\(\s*"([a-z_]+)"')
# The worked clock-skew example: "received the request at <time> by the server clock" and its table.
_SERVER_RECEIVED = re.compile(r"received the request at\s+(\S+Z)\s+by the server clock")
_SKEW_ROW = re.compile(r"^\| (\w+) \| (\S+Z) \| ([\d.]+) s \| (\S+Z) \|$", re.MULTILINE)
_REPO_PATH = re.compile(r"`((?:schemas|layers|functions|docs)/[^`<>]*)`")


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _validation_errors(instance: Any, openapi_schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(
        _json_schema(openapi_schema), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]


def _request_examples() -> dict[str, Any]:
    media = _operation()["requestBody"]["content"]["application/json"]
    return {name: _deref(example)["value"] for name, example in media["examples"].items()}


def _response_examples() -> Iterator[tuple[int, str, dict[str, Any], Any]]:
    """(status, example name, response schema, example value) for every response example."""
    for status, response in _responses().items():
        for media in _deref(response).get("content", {}).values():
            for name, example in media.get("examples", {}).items():
                yield status, name, media["schema"], _deref(example)["value"]


def _events_of(document: dict[str, Any]) -> list[Any]:
    events: list[Any] = document.get("events", [document])
    return events


def _error_classes() -> list[type[errors.SignalPlatformError]]:
    found: list[type[errors.SignalPlatformError]] = [errors.SignalPlatformError]
    for cls in found:  # breadth first: the loop also visits the classes it appends
        found.extend(cls.__subclasses__())
    return found


def _ingest_answer(counts: Counts, failure: str | None) -> IngestAnswer:
    return IngestAnswer(
        request_id="r-1",
        received_at="2026-11-26T14:00:00.000Z",
        results=[],
        counts=counts,
        failure=failure,  # type: ignore[arg-type]
        bus_entries=0,
        put_events_calls=0,
        error_codes={},
    )


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch) -> ValidatorSettings:
    """The validator's settings from a minimal environment: every limit at its default."""
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("INGRESS_BUS_NAME", "signals-ingress")
    monkeypatch.setenv("SOURCES_TABLE_NAME", "signals-sources")
    for name in (
        "MAX_SIGNALS_PER_ENTRY",
        "MAX_EVENT_BYTES",
        "MAX_EVENTS_PER_REQUEST",
        "MAX_BODY_BYTES",
        "MAX_FUTURE_SKEW_SECONDS",
        "MAX_EVENT_AGE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    return ValidatorSettings.from_env(os.environ)


# --- (a) the document itself ----------------------------------------------------------------------


def test_spec_loaded_as_yaml_is_an_openapi_3_1_document() -> None:
    # GIVEN the spec file next to the code
    # WHEN it is loaded with the safe YAML loader
    spec = _spec()
    # THEN it has the skeleton of an OpenAPI 3.0 document
    assert isinstance(spec, dict)
    # 3.1: its schemas are JSON Schema, so the registry's (const, propertyNames) go in unchanged
    assert re.fullmatch(r"3\.1\.\d+", str(spec["openapi"]))
    assert spec["info"]["title"]
    assert spec["info"]["version"]
    assert "derived_at = received_at - (sent_at - occurred_at)" in spec["info"]["description"]
    assert [server["url"] for server in spec["servers"]] == ["https://api.signals.example.com"]
    for path, item in spec["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in HTTP_METHODS
            assert operation["responses"], f"{method} {path} has no responses"
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", str(status))
                assert _deref(response)["description"].strip()
    # AND the write key is accepted both ways, as alternatives
    schemes = spec["components"]["securitySchemes"]
    assert schemes["writeKeyBasic"] == {**schemes["writeKeyBasic"], "type": "http", "scheme": "basic"}
    assert schemes["writeKeyHeader"] == {
        **schemes["writeKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert _operation()["security"] == [{"writeKeyBasic": []}, {"writeKeyHeader": []}]


def test_spec_checked_by_openapi_spec_validator_has_no_errors() -> None:
    # GIVEN the OpenAPI validator (pinned in requirements/dev.txt)
    # WHEN the document is validated / THEN no error is raised
    openapi_spec_validator.validate(_spec())


def test_spec_local_references_resolved_all_exist() -> None:
    # GIVEN every $ref of the document
    refs = [value for key, value in _walk(_spec()) if key == "$ref"]
    # WHEN each is resolved / THEN it points into the document
    assert refs
    for ref in refs:
        assert _resolve(ref) is not None, ref


def test_spec_repository_paths_named_in_text_exist() -> None:
    # GIVEN the repository paths the descriptions point readers to (placeholders like <event_type> aside)
    texts = [value for _, value in _walk(_spec()) if isinstance(value, str)]
    named = {match for text in texts for match in _REPO_PATH.findall(text)}
    # WHEN they are looked up from the project root / THEN each exists
    assert "schemas/contracts/envelope/1-0-0.json" in named
    missing = sorted(path for path in named if not (PROJECT_ROOT / path).exists())
    assert not missing


# --- (b) statuses and headers -------------------------------------------------------------------


def test_documented_statuses_compared_with_api_mapping_are_equal() -> None:
    # GIVEN every status the validator can answer: verdicts (200, 207, 400), mapped errors, and 500
    produced = {200, 207, 400} | {status for _, status in api._STATUS_BY_ERROR} | {500}
    # WHEN the documented responses are listed
    documented = set(_responses())
    # THEN both sets are the same
    assert documented == produced


def test_response_headers_compared_with_api_answers_are_equal() -> None:
    # GIVEN every answer the api module can build: each error, and ingest outcomes with retry events
    answers = [api.error_answer(cls("example"), "r-1") for cls in _error_classes()]
    answers += [
        api.ingest_answer(_ingest_answer(Counts(sum(split), *split), failure))
        for failure in ("throttled", "unavailable")
        for split in ((1, 0, 0), (1, 1, 0), (0, 1, 0), (1, 0, 1), (0, 0, 1), (0, 1, 1))
    ]
    headers_by_status: dict[int, set[str]] = {status: set() for status in _responses()}
    for answer in answers:
        headers_by_status[answer.status] |= set(answer.headers)
    # WHEN the documented response headers are listed
    documented = {status: set(_deref(r).get("headers", {})) for status, r in _responses().items()}
    # THEN each status documents exactly the headers the function may send with it
    assert documented == headers_by_status


# --- (c) request examples -------------------------------------------------------------------------


def test_request_examples_required_shapes_are_present() -> None:
    # GIVEN the request examples
    examples = _request_examples()
    # WHEN their shapes are classified
    singles = [value for value in examples.values() if "events" not in value]
    batches = [value for value in examples.values() if "events" in value]
    # THEN there is a single page_view, a batch of mixed types and a batch with sent_at
    assert any(event["event_type"] == "page_view" for event in singles)
    assert any(len({event["event_type"] for event in batch["events"]}) > 1 for batch in batches)
    assert any("sent_at" in batch for batch in batches)


def test_request_examples_checked_against_registry_are_valid(default_settings: ValidatorSettings) -> None:
    # GIVEN the schema registry the validator uses, and the envelope contract
    registry = SchemaRegistry()
    envelope = jsonschema.Draft7Validator(ENVELOPE, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    request_schema = _operation()["requestBody"]["content"]["application/json"]["schema"]
    problems: list[str] = []
    for name, document in _request_examples().items():
        # WHEN each example request and each of its events are checked
        problems += [f"{name}: request: {error}" for error in _validation_errors(document, request_schema)]
        events = _events_of(document)
        if "events" in document:
            assert 1 <= len(events) <= default_settings.max_events_per_request, name
            if "sent_at" in document:
                parse_rfc3339(document["sent_at"])
        for index, event in enumerate(events):
            where = f"{name}[{index}]"
            problems += [f"{where}: envelope: {error.message}" for error in envelope.iter_errors(event)]
            if not registry.has_version(event["event_type"], event["schema_version"]):
                problems.append(f"{where}: {event['event_type']} {event['schema_version']} is not registered")
            elif not registry.is_valid(event):
                problems += [f"{where}: {e.path}: {e.message}" for e in registry.errors(event)]
        # AND one request comes from one source (the write key's)
        if len({event["source"] for event in events}) != 1:
            problems.append(f"{name}: events from more than one source")
    # THEN nothing is wrong
    assert not problems


def test_request_examples_judged_when_sent_are_all_accepted(default_settings: ValidatorSettings) -> None:
    # GIVEN the validator's per-event judge with the default limits
    judge = EventJudge(
        SchemaRegistry(),
        Limits(
            default_settings.max_event_bytes, default_settings.max_future_skew, default_settings.max_event_age
        ),
    )
    for name, document in _request_examples().items():
        events = _events_of(document)
        batch_sent_at = document.get("sent_at") if "events" in document else None
        sent = [parse_rfc3339(e.get("sent_at") or batch_sent_at or e["occurred_at"]) for e in events]
        # WHEN each example is judged as if received a second after it was sent
        judgement = judge.judge(
            events,
            source_id=events[0]["source"],
            received_at=max(sent) + timedelta(seconds=1),
            batch_sent_at=batch_sent_at,
        )
        # THEN every event is accepted
        assert [result["verdict"] for result in judgement.results] == ["accepted"] * len(events), (
            name,
            judgement.results,
        )


def test_event_schemas_regenerated_from_registry_are_unchanged() -> None:
    # GIVEN the document as committed
    text = SPEC_PATH.read_text(encoding="utf-8")
    # WHEN its generated block is written again from the schema registry
    fresh = openapi_tool.rewrite(text, SchemaRegistry())
    # THEN nothing changes (else: run python -m tools.openapi)
    assert fresh == text
    assert openapi_tool.main(["--check"]) == 0


def test_event_schema_is_one_variant_per_registered_type_and_version_as_the_validator_checks() -> None:
    # GIVEN the request's Event schema and the registry
    registry = SchemaRegistry()
    schemas = _spec()["components"]["schemas"]
    variants = [_resolve(branch["$ref"]) for branch in schemas["Event"]["oneOf"]]
    annotations = ("title", "description", "$schema", "$id")
    for variant in variants:
        event_type = variant["properties"]["event_type"]["const"]
        version = variant["properties"]["schema_version"]["const"]
        # WHEN a variant, references inlined, is compared with what the validator compiles
        published = {k: v for k, v in _json_schema(variant).items() if k not in annotations}
        checked = {
            k: v for k, v in registry.event_schema(event_type, version).items() if k not in annotations
        }
        # THEN they are the same schema
        assert published == checked, (event_type, version)
    # AND there is one variant per registered type and version, and the request takes events or batches
    listed = sorted(
        (v["properties"]["event_type"]["const"], v["properties"]["schema_version"]["const"]) for v in variants
    )
    assert listed == sorted((t, v) for t, versions in registry.event_types.items() for v in versions)
    request_schema = _operation()["requestBody"]["content"]["application/json"]["schema"]
    assert request_schema == {
        "oneOf": [{"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/Batch"}]
    }


def test_openapi_tool_check_on_a_stale_spec_fails(tmp_path: Path) -> None:
    # GIVEN a copy of the document whose generated block was edited by hand
    stale = tmp_path / "openapi.yaml"
    stale.write_text(SPEC_PATH.read_text(encoding="utf-8").replace("maxItems: 200", "maxItems: 201", 1))
    # WHEN the tool checks it / THEN it fails, and rewriting it restores the registry's schemas
    assert openapi_tool.main(["--check", "--spec", str(stale)]) == 1
    assert openapi_tool.main(["--spec", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == SPEC_PATH.read_text(encoding="utf-8")


def test_clock_skew_example_recomputed_by_validator_has_documented_derived_at() -> None:
    # GIVEN the batch example with sent_at, and the worked table in its description
    media = _operation()["requestBody"]["content"]["application/json"]
    example = next(_deref(e) for e in media["examples"].values() if "sent_at" in _deref(e)["value"])
    batch, text = example["value"], example["description"]
    day = batch["sent_at"][:11]
    received = parse_rfc3339(day + _SERVER_RECEIVED.search(text)[1])
    rows = {row[0]: row[1:] for row in _SKEW_ROW.findall(text)}
    assert [event["event_type"] for event in batch["events"]] == list(rows)
    for event in batch["events"]:
        occurred_at, offset, derived_at = rows[event["event_type"]]
        # WHEN the validator derives the event time
        occurred = parse_rfc3339(event["occurred_at"])
        derived = event_time.derived_time(occurred, parse_rfc3339(batch["sent_at"]), received)
        # THEN the table shows the event's own time, its offset and the derived time
        assert event["occurred_at"] == f"{day}{occurred_at}"
        assert float(offset) == (parse_rfc3339(batch["sent_at"]) - occurred).total_seconds()
        assert format_rfc3339(derived) == f"{day}{derived_at}"


# --- (d) error codes ------------------------------------------------------------------------------


def test_event_error_codes_compared_with_verdicts_source_are_equal() -> None:
    # GIVEN the codes the verdicts module can emit, read from its source and the registry's it calls
    verdicts_source = Path(verdicts.__file__).read_text(encoding="utf-8")
    registry_source = Path(schema_registry.__file__).read_text(encoding="utf-8")
    assert "self._registry.errors(" in verdicts_source
    emitted = set(_REJECT_CODE.findall(verdicts_source)) | set(_FIELD_ERROR_CODE.findall(verdicts_source))
    emitted |= set(_FIELD_ERROR_CODE.findall(registry_source))
    assert {"not_an_object", "schema_violation"} <= emitted  # the patterns still find something
    # WHEN the documented per-event error codes are listed
    documented = _spec()["components"]["schemas"]["EventError"]["properties"]["code"]["enum"]
    # THEN both sets are the same, each code documented once
    assert len(documented) == len(set(documented))
    assert set(documented) == emitted


def _validator_error_codes() -> set[str]:
    """Codes of the errors raised on the validator's path: its package and the layer modules it calls."""
    layer = Path(errors.__file__).parent
    sources = [*(PROJECT_ROOT / "functions" / "validator" / "validator").glob("*.py")] + [
        layer / f"{name}.py" for name in ("sources", "signing", "settings", "bus_publisher")
    ]
    raised = {name for path in sources for name in re.findall(r"raise (\w+Error)\(", path.read_text())}
    by_name = {cls.__name__: cls for cls in _error_classes()}
    request_errors = {cls.code for cls in _error_classes() if issubclass(cls, errors.RequestError)}
    # Every request-level error, what the path raises, what the throttling outcome maps to, and the
    # catch-all for an unexpected fault.
    return (
        request_errors
        | {by_name[name].code for name in raised if name in by_name}
        | {errors.BusThrottledError.code, errors.BusUnavailableError.code, errors.SignalPlatformError.code}
    )


def test_error_codes_compared_with_what_the_validator_raises_are_equal() -> None:
    # GIVEN every error code the validator's path can answer with
    answerable = _validator_error_codes()
    # WHEN the documented request-level error codes are listed
    error_object = _spec()["components"]["schemas"]["Error"]["properties"]["error"]
    documented = error_object["properties"]["code"]["enum"]
    # THEN both sets are the same
    assert len(documented) == len(set(documented))
    assert set(documented) == answerable


# --- response examples ----------------------------------------------------------------------------


def test_response_examples_checked_against_their_schemas_are_valid() -> None:
    # GIVEN every response example / WHEN it is validated against its response's schema
    problems = [
        f"{status} {name}: {error}"
        for status, name, schema, value in _response_examples()
        for error in _validation_errors(value, schema)
    ]
    # THEN it conforms
    assert not problems


def test_ingest_result_examples_rebuilt_by_api_have_their_status() -> None:
    # GIVEN the IngestResult examples (those with per-event results)
    examples = [(s, n, v) for s, n, _, v in _response_examples() if "results" in v]
    assert {status for status, _, _ in examples} >= {200, 207, 400, 429, 503}
    for status, name, value in examples:
        # WHEN their counts are checked and the api module answers for the same counts
        tally = Counter(result["verdict"] for result in value["results"])
        counts = Counts(len(value["results"]), tally["accepted"], tally["rejected"], tally["retry"])
        failure = "throttled" if status == 429 else "unavailable" if counts.retry else None
        answer = api.ingest_answer(_ingest_answer(counts, failure))
        # THEN counts match the verdicts, indices run in order, and the status is the documented one
        assert value["counts"] == counts.as_dict(), name
        assert [result["index"] for result in value["results"]] == list(range(counts.received)), name
        assert all(("errors" in r) is (r["verdict"] == "rejected") for r in value["results"]), name
        assert answer.status == status, name


def test_error_examples_rebuilt_by_api_have_their_status() -> None:
    # GIVEN the Error examples, and the platform's error classes by code
    by_code = {cls.code: cls for cls in _error_classes()}
    examples = [(s, n, v) for s, n, _, v in _response_examples() if "error" in v]
    assert {status for status, _, _ in examples} >= set(_responses()) - {200, 207}
    for status, name, value in examples:
        # WHEN the api module answers the error with that code
        answer = api.error_answer(by_code[value["error"]["code"]]("example"), value["request_id"])
        # THEN status and retryable are the documented ones, and 5xx messages are the fixed text
        assert answer.status == status, name
        assert answer.body["error"]["retryable"] is value["error"]["retryable"], name
        if status >= 500:
            assert answer.body["error"]["message"] == value["error"]["message"], name


def test_gateway_examples_documented_only_where_gateway_answers() -> None:
    # GIVEN the examples API Gateway answers itself ({"message": ...}, not the function's body)
    statuses = {status for status, _, _, value in _response_examples() if set(value) == {"message"}}
    # WHEN they are listed / THEN they appear for stage throttling (429) and a failed function (500)
    assert statuses == {429, 500}
    assert "no** `Retry-After`" in _responses()[429]["description"]


# --- (e) limits -----------------------------------------------------------------------------------


def test_limits_in_spec_compared_with_defaults_are_equal(default_settings: ValidatorSettings) -> None:
    # GIVEN the validator's default limits
    defaults = {
        "max_events_per_request": default_settings.max_events_per_request,
        "max_body_bytes": default_settings.max_body_bytes,
        "max_event_bytes": default_settings.max_event_bytes,
        "max_future_skew_seconds": int(default_settings.max_future_skew.total_seconds()),
        "max_event_age_seconds": int(default_settings.max_event_age.total_seconds()),
    }
    # WHEN the spec's x-limits are read
    limits = _operation()["x-limits"]
    # THEN they are the same, as is the batch schema's maximum size
    assert limits == defaults
    assert defaults == {
        "max_events_per_request": 500,
        "max_body_bytes": 1024 * 1024,
        "max_event_bytes": 32 * 1024,
        "max_future_skew_seconds": 3600,
        "max_event_age_seconds": 7 * 24 * 3600,
    }
    batch = _spec()["components"]["schemas"]["Batch"]
    assert batch["properties"]["events"]["maxItems"] == limits["max_events_per_request"]


def test_limits_in_description_compared_with_x_limits_are_equal() -> None:
    # GIVEN the x-limits of the operation
    limits = _operation()["x-limits"]
    # WHEN the prose of the document is read
    text = _spec()["info"]["description"]
    # THEN it states the same numbers
    assert f"At most {limits['max_events_per_request']} events per request" in text
    assert f"{limits['max_body_bytes']:,} bytes" in text
    assert f"{limits['max_event_bytes']:,} bytes" in text
    assert f"{limits['max_future_skew_seconds'] // 3600} hour" in text
    assert f"{limits['max_event_age_seconds'] // 86400} days" in text
