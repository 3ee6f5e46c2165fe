"""Odd and hostile requests through the real handler (fake sources table and bus), behind either
front door: each answer is a 4xx with its reason or per-event verdicts, never a 5xx, and whatever is
accepted is forwarded once, in a batch every later hop can verify."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from signal_platform import codec, sources
from signal_platform.observability import logger
from signal_platform.schema_registry import MAX_MESSAGE_CHARS
from signal_platform.timeutil import format_rfc3339, utc_now
from tests.fuzz.harness import FRONT_DOORS, ORIGIN, SOURCE_ID, WRITE_KEY, Harness, handler_behind, nesting
from tests.http_events import as_load_balancer_event, http_api_event
from validator import auth, dependencies, segment
from validator.body import MAX_NESTING

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
PLACEHOLDER = "__nested__"


@pytest.fixture(params=FRONT_DOORS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with handler_behind(request.param) as fake:
        yield fake


def _post(harness: Harness, path: str, body: bytes) -> tuple[int, Any]:
    event = http_api_event(body, write_key=WRITE_KEY)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    status, _, answer = harness.invoke(event)
    return status, answer


def _native_track(properties: Any) -> dict[str, Any]:
    """A native event of the generic track type, whose properties are free-form JSON."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "track",
        "schema_version": "1-0-0",
        "occurred_at": format_rfc3339(utc_now()),
        "source": SOURCE_ID,
        "context": {"anonymous_id": "anon-1"},
        "data": {
            "event": "Deep",
            "properties": properties,
            "origin": {"protocol": "segment", "message_id": "m-1", "type": "track"},
        },
    }


def _segment_track(properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Deep",
        "messageId": f"m-{uuid.uuid4()}",
        "anonymousId": "anon-1",
        "timestamp": format_rfc3339(utc_now()),
        "properties": properties,
    }


BODIES = {
    "/v1/events": lambda: {"events": [_native_track({"p": PLACEHOLDER})]},
    "/v1/track": lambda: _segment_track({"p": PLACEHOLDER}),
    "/v1/batch": lambda: {"batch": [_segment_track({"p": PLACEHOLDER})]},
}


def _body_nested(path: str, levels: int) -> bytes:
    """The route's body with one event whose properties make the whole body nest ``levels`` deep."""
    shell = codec.dumps(BODIES[path]())
    outer = nesting(codec.loads(shell))  # the placeholder is a string, one level in
    inner = levels - outer
    body = shell.replace(f'"{PLACEHOLDER}"'.encode(), b"[" * inner + b"]" * inner)
    assert nesting(codec.loads(body)) == levels
    return body


@pytest.mark.parametrize("path", sorted(BODIES))
def test_body_nested_to_the_limit_accepted_and_its_batch_verifiable(harness: Harness, path: str) -> None:
    # GIVEN a valid event whose free-form properties bring the body to the nesting limit
    body = _body_nested(path, MAX_NESTING)
    # WHEN it is posted
    status, answer = _post(harness, path, body)
    # THEN it is accepted, and the batch on the bus re-encodes and verifies as the next hop does it
    assert status == 200, answer
    assert [result["verdict"] for result in answer["results"]] == ["accepted"]
    assert len(harness.forwarded()) == 1


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 230, 253, 300, 1000])
@pytest.mark.parametrize("path", sorted(BODIES))
def test_body_nested_past_the_limit_refused_with_its_reason(harness: Harness, path: str, levels: int) -> None:
    # GIVEN a body nested deeper than the limit: valid (the properties are free-form) yet near what
    # the batch's next hop can re-encode (about 250 levels: was accepted, its batch unverifiable), or
    # past what the judge can encode or list the schema errors of (254-256: was a 500), up to 1000
    # (orjson parses up to 1024)
    body = _body_nested(path, levels)
    # WHEN it is posted
    status, answer = _post(harness, path, body)
    # THEN 400 with the reason, and nothing forwarded (was: accepted, its batch unverifiable downstream)
    assert status == 400, answer
    message = answer["error"]["message"] if "error" in answer else answer["message"]
    assert f"more than {MAX_NESTING} levels" in message
    assert harness.forwarded() == []


def test_rejected_event_nested_past_the_schema_error_limit_refused_not_500(harness: Harness) -> None:
    # GIVEN an event that fails its schema with a value nested 300 levels (the schema's error list
    # cannot be built for it: jsonschema-rs raises "Recursion limit reached")
    event = _native_track({"p": 1})
    event["data"]["unexpected"] = PLACEHOLDER
    shell = codec.dumps({"events": [event]})
    body = shell.replace(f'"{PLACEHOLDER}"'.encode(), b"[" * 300 + b"]" * 300)
    # WHEN it is posted
    status, answer = _post(harness, "/v1/events", body)
    # THEN a 400 with the reason (was: 500 "unexpected error")
    assert status == 400, answer
    assert answer["error"]["code"] == "malformed_request"


@pytest.mark.parametrize("field", ["timestamp", "originalTimestamp"])
@pytest.mark.parametrize("value", ["", [], {}, 0, False], ids=["empty", "array", "object", "zero", "false"])
def test_segment_time_that_is_not_a_timestamp_rejected_not_replaced(
    harness: Harness, field: str, value: Any
) -> None:
    # GIVEN a call whose time is present but not a timestamp (JSON "falsy": was taken as absent and
    # silently replaced by the receive time, while {"a": 1} or 5 in its place was rejected)
    call = _segment_track({"p": 1})
    del call["timestamp"]
    call[field] = value
    # WHEN it is posted
    status, answer = _post(harness, "/v1/track", codec.dumps(call))
    # THEN it is rejected with the reason, as any other value that is not a timestamp
    assert status == 200, answer
    [result] = answer["results"]
    assert result["verdict"] == "rejected", result
    assert result["errors"][0]["path"] == "$.occurred_at"
    assert harness.forwarded() == []


def test_tiny_gzip_body_of_many_wrong_values_answered_briefly(harness: Harness) -> None:
    # GIVEN a 1 KB gzip body that inflates to one purchase with 200,000 wrong items (the whole answer
    # listed each error, each message quoting the array: ~12 MB and ~1 s here; at the 1 MiB cap,
    # 50 MB and 10 s, past Lambda's 6 MB answer and the function's timeout: a 5xx for the client)
    registry = dependencies.schema_registry()
    event = _native_track({})
    event.update(event_type="purchase", data={**registry.data_schema("purchase", "1-0-0")["examples"][0]})
    event["data"]["items"] = [1] * 200_000
    body = gzip.compress(codec.dumps(event))
    assert len(body) < 2048
    request = http_api_event(None, write_key=WRITE_KEY, headers={"content-encoding": "gzip"})
    request["body"], request["isBase64Encoded"] = base64.b64encode(body).decode(), True
    # WHEN it is posted
    status, _, answer = harness.invoke(request)
    # THEN the event is rejected with its first error and the count, in a short answer
    assert status == 400, answer
    [result] = answer["results"]
    assert [error["code"] for error in result["errors"]] == ["schema_violation", "too_many_errors"]
    assert len(codec.dumps(answer)) < 4096


def test_answer_listing_many_reasons_fits_the_load_balancer(harness: Harness) -> None:
    # GIVEN 500 events under the 1 MiB body limit, each with a 1,600-character id and 20 wrong order
    # lines: their reasons quote the ids and list 21 errors each (was: a 1.1 MB answer, over the
    # 1 MB a load balancer passes back from a Lambda target: a 502 for the client)
    registry = dependencies.schema_registry()
    data = {**registry.data_schema("purchase", "1-0-0")["examples"][0], "items": [1] * 20}
    events = [
        {**_native_track({}), "event_type": "purchase", "event_id": f"{index:05}" + "x" * 1600, "data": data}
        for index in range(500)
    ]
    body = codec.dumps({"events": events})
    assert len(body) < 1024 * 1024
    # WHEN it is posted
    status, answer = _post(harness, "/v1/events", body)
    # THEN every event has its verdict and at least its first reason, in an answer under 1 MB
    assert status == 400, answer
    assert answer["counts"] == {"received": 500, "accepted": 0, "rejected": 500, "retry": 0}
    assert [result["index"] for result in answer["results"]] == list(range(500))
    assert all(result["verdict"] == "rejected" and result["errors"] for result in answer["results"])
    assert len(codec.dumps(answer)) < 1_000_000


@pytest.mark.parametrize("field", ["event_type", "schema_version"])
def test_reason_for_an_unknown_type_or_version_quotes_a_bounded_part_of_it(
    harness: Harness, field: str
) -> None:
    # GIVEN an event whose type or version is 100,000 characters that repr() spells four times longer
    # (the reason quoted it whole: a 100 KB request answered with 500 KB, logged as much again)
    event = _native_track({})
    event[field] = "\x7f" * 100_000
    # WHEN it is posted
    status, answer = _post(harness, "/v1/events", codec.dumps({"events": [event]}))
    # THEN it is rejected for its type or version, with a reason of bounded length
    assert status == 400, answer
    [error] = answer["results"][0]["errors"]
    assert error["code"] == f"unknown_{field}"
    assert len(error["message"]) <= MAX_MESSAGE_CHARS


def test_reason_for_a_client_named_key_quotes_a_bounded_part_of_its_path(harness: Harness) -> None:
    # GIVEN a search whose filters (a map of facet names the client chooses) name one facet with a
    # 100,000-character key and a value of the wrong type (the path held the key whole)
    event = _native_track({})
    event.update(event_type="search", schema_version="1-1-0")
    event["data"] = {"query": "shoes", "results_count": 3, "filters": {"k" * 100_000: 1}}
    # WHEN it is posted
    status, answer = _post(harness, "/v1/events", codec.dumps({"events": [event]}))
    # THEN it is rejected with schema reasons whose paths and messages are of bounded length
    assert status == 400, answer
    errors = answer["results"][0]["errors"]
    assert {error["code"] for error in errors} == {"schema_violation"}
    assert any(error["path"].startswith("$.data.filters.kkk") for error in errors), errors
    assert all(len(error["path"]) <= MAX_MESSAGE_CHARS for error in errors)
    assert all(len(error["message"]) <= MAX_MESSAGE_CHARS for error in errors)


def _json(document: Any) -> bytes:
    """A body as a client's JSON library writes it: integers of any size (orjson writes 64 bits)."""
    return json.dumps(document).encode()


# uint64 past int64, and integers past 64 bits either way (which orjson reads as the nearest double)
PAST_INT64 = [2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]


@pytest.mark.parametrize("number", PAST_INT64)
@pytest.mark.parametrize("path", sorted(BODIES))
def test_integer_past_int64_rejected_with_its_path_the_rest_forwarded(
    harness: Harness, path: str, number: int
) -> None:
    # GIVEN a request of two events, one with an integer past int64 in its free-form properties (a Go
    # or Rust client's uint64 hash or id: orjson reads it as an integer, EventBridge's PutEvents takes
    # int64 only, so its batch failed on every retry: 503s on the Segment routes, "retry" forever on the
    # native one; past 64 bits orjson reads the nearest double, and the event landed rounded)
    odd, good = (
        (_native_track({"hash": number}), _native_track({"hash": 2**63 - 1}))
        if path == "/v1/events"
        else (_segment_track({"hash": number}), _segment_track({"hash": 2**63 - 1}))
    )
    if path == "/v1/track":
        calls = [(odd, "rejected"), (good, "accepted")]
        answers = [_post(harness, path, _json(call)) for call, _ in calls]
    else:
        key = "events" if path == "/v1/events" else "batch"
        status, answer = _post(harness, path, _json({key: [odd, good]}))
        answers = [(status, {**answer, "results": [result]}) for result in answer["results"]]
    # WHEN it is posted / THEN answered (207 native: some rejected; Segment's 200); the odd event is
    # rejected where its integer is, the other accepted
    (odd_status, odd_answer), (good_status, good_answer) = answers
    assert odd_status == good_status == (207 if path == "/v1/events" else 200), answers
    (rejected,) = odd_answer["results"]
    assert rejected["verdict"] == "rejected"
    assert rejected["errors"] == [
        {
            "code": "integer_out_of_range",
            "path": "$.data.properties.hash",
            "message": "integers must lie within -9223372036854775808..9223372036854775807:"
            " send a larger number as a string",
        }
    ]
    assert [result["verdict"] for result in good_answer["results"]] == ["accepted"]
    # AND only the good event reached the bus, its largest int64 intact
    forwarded = harness.forwarded()
    assert [signal.event["data"]["properties"] for signal in forwarded] == [{"hash": 2**63 - 1}]


def test_call_without_message_id_with_an_integer_past_64_bits_rejected_with_its_path(
    harness: Harness,
) -> None:
    # GIVEN a call without a messageId (its id is derived from its content) holding an integer past
    # 64 bits, which orjson does not write
    call = _segment_track({"big": -(10**30)})
    del call["messageId"]
    # WHEN it is posted
    status, answer = _post(harness, "/v1/batch", _json({"batch": [call]}))
    # THEN rejected where its integer is, under the id its content gives; nothing forwarded
    assert status == 200, answer
    (result,) = answer["results"]
    assert result["verdict"] == "rejected"
    assert [(error["code"], error["path"]) for error in result["errors"]] == [
        ("integer_out_of_range", "$.data.properties.big")
    ]
    assert (
        result["event_id"]
        == _post(harness, "/v1/batch", _json({"batch": [call]}))[1]["results"][0]["event_id"]
    )
    assert harness.forwarded() == []


def test_segment_ids_past_64_bits_kept_as_their_text(harness: Harness) -> None:
    # GIVEN a call whose userId and groupId are integers past 64 bits (Segment takes a number as its
    # text; read as the nearest double, the userId was dropped and the call refused for its groupId)
    call = _segment_track({})
    call.update(type="group", userId=2**64, groupId=-(10**30), traits={})
    # WHEN it is posted
    status, answer = _post(harness, "/v1/batch", _json({"batch": [call]}))
    # THEN accepted, with each id as the client wrote it
    assert status == 200, answer
    assert [result["verdict"] for result in answer["results"]] == ["accepted"], answer
    (signal,) = harness.forwarded()
    assert signal.event["context"]["user_id"] == "18446744073709551616"
    assert signal.event["data"]["group_id"] == "-1000000000000000000000000000000"


@pytest.mark.parametrize("path", sorted(BODIES))
def test_long_digit_runs_that_are_no_integers_past_int64_forwarded_as_sent(
    harness: Harness, path: str
) -> None:
    # GIVEN properties whose digits run 19 and more without an integer past int64: an id as a string,
    # a float with many digits, an exponent, the int64 limits (the body is parsed a second time)
    properties = {
        "order": "12345678901234567890123",
        "ratio": 0.12345678901234567,
        "tiny": 1.2345678901234567e-300,
        "limits": [2**63 - 1, -(2**63)],
        "key: 1234567890123456789012": [1.5, -0.0],
    }
    event = _native_track(properties) if path == "/v1/events" else _segment_track(properties)
    body = {"/v1/events": {"events": [event]}, "/v1/batch": {"batch": [event]}}.get(path, event)
    # WHEN it is posted
    status, answer = _post(harness, path, _json(body))
    # THEN accepted and forwarded with every value as sent
    assert status == 200, answer
    assert [result["verdict"] for result in answer["results"]] == ["accepted"]
    (signal,) = harness.forwarded()
    forwarded = signal.event["data"]["properties"]
    assert json.dumps(forwarded, sort_keys=True) == json.dumps(properties, sort_keys=True)


# --- odd text in the headers and the address --------------------------------------------------------

LONE_SURROGATE = "\udc80"  # what JSON decoding of "\\udc80" in the Lambda event gives
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def _post_with(harness: Harness, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    event = http_api_event(body, write_key=WRITE_KEY, headers=headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    status, _, answer = harness.invoke(event)
    return status, answer


def _sent_as_built() -> contextlib.AbstractContextManager[Harness]:
    """The handler given each event exactly as the test built it, in either front door's shape."""
    return handler_behind("http-api")


def _without_context(path: str) -> bytes:
    """The route's body with one good event or call that has no context of its own."""
    document = BODIES[path]()
    for event in document.get("events", document.get("batch", [document])):
        event.pop("context", None)
    return codec.dumps(document)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_user_agent_with_a_lone_surrogate_kept_with_a_replacement_character(
    harness: Harness, path: str
) -> None:
    # GIVEN a User-Agent header with a lone surrogate, on an event without a context of its own (the
    # header fills context.user_agent; was: a 500, the event lost)
    user_agent = f"{BROWSER} {LONE_SURROGATE}x"
    # WHEN it is posted
    status, answer = _post_with(harness, path, _without_context(path), {"user-agent": user_agent})
    # THEN the event is accepted and forwarded, the surrogate replaced by U+FFFD
    assert status == 200, answer
    [signal] = harness.forwarded()
    assert signal.event["context"]["user_agent"] == f"{BROWSER} \ufffdx"


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("x-api-key", f"{WRITE_KEY}{LONE_SURROGATE}", 401),
        ("authorization", f"Basic {LONE_SURROGATE}", 401),
        ("authorization", f"Basic{LONE_SURROGATE}abc", 401),
        ("origin", f"{ORIGIN}{LONE_SURROGATE}", 403),
        ("content-type", f"application/json{LONE_SURROGATE}", 415),
        ("content-encoding", f"gzip{LONE_SURROGATE}", 415),
        ("content-type", "application/json" + "\x00" * 20_000, 415),
    ],
    ids=["x-api-key", "basic-credentials", "basic-scheme", "origin", "content-type", "encoding", "long"],
)
@pytest.mark.parametrize("path", ["/v1/events", "/v1/batch"])
def test_credential_or_media_header_with_odd_text_refused_with_its_reason(
    harness: Harness, path: str, header: str, value: str, status: int
) -> None:
    # GIVEN a request whose write key, Origin, media type or encoding holds a lone surrogate (a
    # credential that is not text is a wrong one), or is very long
    # WHEN it is posted
    answered, answer = _post_with(harness, path, codec.dumps(BODIES[path]()), {header: value})
    # THEN the 4xx of that header, with a reason of bounded length, and nothing forwarded
    assert answered == status, answer
    message = answer["error"]["message"] if "error" in answer else answer["message"]
    assert 0 < len(message) <= MAX_MESSAGE_CHARS
    assert harness.forwarded() == []


@pytest.mark.parametrize("address", ["not-an-address", "\x00203.0.113.10", LONE_SURROGATE, "1" * 20_000])
def test_source_address_that_is_no_ip_leaves_the_context_unfilled(address: str) -> None:
    # GIVEN a request whose source address (API Gateway's sourceIp, or the last X-Forwarded-For entry
    # behind the load balancer) is no IP address (was: filled into context.ip, and the event rejected
    # for it by the envelope's schema)
    request = http_api_event(_without_context("/v1/events"), write_key=WRITE_KEY)
    request["requestContext"]["http"]["sourceIp"] = address
    for event in (request, as_load_balancer_event(request)):
        with _sent_as_built() as harness:
            # WHEN it is posted
            status, _, answer = harness.invoke(event)
            # THEN the event is accepted, without a context.ip
            assert status == 200, answer
            [signal] = harness.forwarded()
            assert "ip" not in signal.event["context"]


def test_source_address_with_a_zone_index_filled_as_the_address(harness: Harness) -> None:
    # GIVEN an IPv6 source address with a zone index: an address, which the envelope's ip format
    # refuses as written (was: filled as written, and the event rejected for it)
    request = http_api_event(_without_context("/v1/events"), write_key=WRITE_KEY)
    request["requestContext"]["http"]["sourceIp"] = "2001:db8:1:2::7%eth0"
    # WHEN it is posted
    status, _, answer = harness.invoke(request)
    # THEN the event is accepted with the address's network (docs/data-map.md)
    assert status == 200, answer
    [signal] = harness.forwarded()
    assert signal.event["context"]["ip"] == "2001:db8:1::"


TRACE_ROOT = "1-67891233-abcdef012345678912345678"
TRACE_SELF = "1-67891234-0123456789abcdef01234567"


@pytest.mark.parametrize(
    "root",
    ["", "x" * 20_000, f"{TRACE_ROOT}{LONE_SURROGATE}", f"{TRACE_ROOT}\x00", TRACE_ROOT.upper()],
    ids=["empty", "long", "surrogate", "nul", "upper-case"],
)
def test_request_id_behind_the_load_balancer_is_its_own_trace_id_when_the_client_root_is_odd(
    root: str,
) -> None:
    # GIVEN a client's X-Amzn-Trace-Id whose Root is no trace id; the load balancer keeps it and
    # inserts a Self of its own (was: the Root as the request id, in every bus entry's ingest
    # metadata: over the contract's 128 characters, empty, or not encodable at all)
    event = as_load_balancer_event(http_api_event(_without_context("/v1/events"), write_key=WRITE_KEY))
    event["headers"]["x-amzn-trace-id"] = f"Self={TRACE_SELF};Root={root};Sampled=1"
    with _sent_as_built() as harness:
        # WHEN it is posted
        status, _, answer = harness.invoke(event)
        # THEN accepted; the answer, the logs and the bus entries name the load balancer's trace id
        assert status == 200, answer
        assert answer["request_id"] == TRACE_SELF
        assert logger.get_correlation_id() == TRACE_SELF
        assert [codec.loads(entry["Detail"])["ingest"]["request_id"] for entry in harness.bus.entries] == [
            TRACE_SELF
        ]


def test_request_id_of_a_hand_built_event_with_an_odd_trace_header_is_text() -> None:
    # GIVEN a load balancer's event built by hand: a trace header of a lone surrogate, no Self
    event = as_load_balancer_event(http_api_event(_without_context("/v1/events"), write_key=WRITE_KEY))
    event["headers"]["x-amzn-trace-id"] = f"Root=r{LONE_SURROGATE}" + "x" * 500
    with _sent_as_built() as fake:
        # WHEN it is posted
        status, _, answer = fake.invoke(event)
    # THEN accepted, the request id the header's text with U+FFFD, cut at the contract's 128 characters
    assert status == 200, answer
    assert answer["request_id"] == ("Root=r\ufffd" + "x" * 500)[:128]


@pytest.mark.parametrize("method", [f"POST{LONE_SURROGATE}", "P" * 20_000])
def test_odd_method_refused_with_a_bounded_reason(harness: Harness, method: str) -> None:
    # GIVEN a request to the events path whose method holds a lone surrogate, or is very long (was:
    # the method quoted whole; with a surrogate the answer could not be written: a 5xx)
    event = http_api_event(codec.dumps(BODIES["/v1/events"]()), write_key=WRITE_KEY)
    event["requestContext"]["http"]["method"] = method
    # WHEN it is posted
    status, _, answer = harness.invoke(event)
    # THEN 405, with a reason of bounded length
    assert status == 405, answer
    assert len(answer["error"]["message"]) <= MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("origin", "method"),
    [(f"{ORIGIN}{LONE_SURROGATE}", "POST"), (ORIGIN, f"POST{LONE_SURROGATE}"), ("\x00" * 20_000, "\r\n")],
    ids=["origin", "method", "long"],
)
def test_preflight_with_odd_text_through_the_load_balancer_answered(origin: str, method: str) -> None:
    # GIVEN a browser's preflight through the load balancer (which the function answers itself) whose
    # Origin or requested method holds odd text
    event = as_load_balancer_event(http_api_event(None, content_type=None))
    event["httpMethod"] = "OPTIONS"
    event["headers"].update({"origin": origin, "access-control-request-method": method})
    with _sent_as_built() as harness:
        # WHEN it is answered
        status, headers, body = harness.invoke(event)
    # THEN 204; CORS headers only for an allowed method, the origin never echoed as sent
    assert (status, body) == (204, None)
    if method == "POST":
        assert headers["access-control-allow-origin"] == "*"
    else:
        assert "access-control-allow-origin" not in headers


# --- what a client sends is kept in a container's caches only when it is short -------------------


def _cached_write_keys() -> int:
    return sources._source_and_hash.cache_info().currsize


@pytest.mark.parametrize("where", ["x-api-key", "basic", "body"])
def test_write_key_longer_than_any_write_key_refused_and_not_kept(harness: Harness, where: str) -> None:
    # GIVEN a write key of the right form but 300 KB long, as a header or in a Segment batch's body
    # (was: hashed and kept in the key cache, 1,024 of them: 300 MB of a container's memory)
    long_key = f"{SOURCE_ID}.{uuid.uuid4()}" + "x" * 300_000
    document = BODIES["/v1/batch"]()
    headers: dict[str, str] = {}
    if where == "body":
        document["writeKey"] = long_key
    elif where == "x-api-key":
        headers["x-api-key"] = long_key
    else:
        headers["authorization"] = "Basic " + base64.b64encode(f"{long_key}:".encode()).decode()
    event = http_api_event(codec.dumps(document), headers=headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/batch"
    cached = _cached_write_keys()
    # WHEN it is posted
    status, _, answer = harness.invoke(event)
    # THEN a 401 that says why, nothing forwarded, and the cache holds no more keys than before
    assert status == 401, answer
    assert "malformed" in answer["message"]
    assert harness.forwarded() == []
    assert _cached_write_keys() == cached


def test_long_basic_credentials_of_a_right_key_accepted_and_not_kept(harness: Harness) -> None:
    # GIVEN the right write key as the Basic user name, with a 4 KB password (which is ignored)
    credentials = base64.b64encode(f"{WRITE_KEY}:{'p' * 4096}".encode()).decode()
    cached = auth._cached_basic_user.cache_info().currsize
    # WHEN a request carries it
    status, answer = _post_with(
        harness, "/v1/events", codec.dumps(BODIES["/v1/events"]()), {"authorization": f"Basic {credentials}"}
    )
    # THEN it is authenticated and its event forwarded, and the credentials are in no cache
    assert status == 200, answer
    assert len(harness.forwarded()) == 1
    assert auth._cached_basic_user.cache_info().currsize == cached


def test_segment_context_ip_of_long_text_kept_as_sent_and_not_parsed(harness: Harness) -> None:
    # GIVEN a Segment call whose context.ip is 20,000 characters (Segment accepts any value there;
    # was: parsed, and kept in the address cache, 1,024 of them)
    document = BODIES["/v1/batch"]()
    document["batch"][0]["context"] = {"ip": "1" * 20_000 + str(uuid.uuid4())}
    cached = segment._parses_as_ip_address.cache_info().currsize
    # WHEN it is posted
    status, answer = _post(harness, "/v1/batch", codec.dumps(document))
    # THEN the call is accepted with the text in origin.context (context.ip is the request's own
    # address, truncated), and the cache holds no more
    assert status == 200, answer
    [signal] = harness.forwarded()
    assert signal.event["data"]["origin"]["context"]["ip"] == document["batch"][0]["context"]["ip"]
    assert signal.event["context"]["ip"] == "203.0.113.0"
    assert segment._parses_as_ip_address.cache_info().currsize == cached
