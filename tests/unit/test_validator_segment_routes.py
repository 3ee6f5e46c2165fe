"""The Segment-compatible routes through the real handler (fake sources table and bus): answers
the Segment and RudderStack libraries act on, beacons from browsers, and what the server sees."""

from __future__ import annotations

import base64
import dataclasses
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_platform import codec
from signal_platform.bus_publisher import BusPublisher
from signal_platform.observability import logger
from signal_platform.timeutil import format_rfc3339, utc_now
from tests.fuzz.harness import FRONT_DOORS, ORIGIN, SOURCE_ID, WRITE_KEY, Harness, basic, handler_behind
from tests.fuzz.strategies import dump_json
from tests.http_events import http_api_event, page_view
from validator.segment import MAPPING_ROOM_BYTES, MAX_MESSAGE_ID_CHARS, event_id_of

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
SENT_AT = "2026-12-06T10:00:01.000Z"


@pytest.fixture(params=FRONT_DOORS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The handler behind either front door: each test sends the same request in both event shapes."""
    with handler_behind(request.param) as fake:
        yield fake


def _now_text() -> str:
    return format_rfc3339(utc_now())


def _calls() -> list[dict[str, Any]]:
    now = _now_text()
    base = {"anonymousId": "anon-1", "timestamp": now, "context": {"library": {"name": "t", "version": "1"}}}
    return [
        {**base, "type": "track", "messageId": "m-1", "event": "Video Played", "properties": {"s": 1}},
        {**base, "type": "page", "messageId": "m-2", "name": "Home", "properties": {"path": "/"}},
        {**base, "type": "identify", "messageId": "m-3", "userId": "u1", "traits": {"plan": "pro"}},
        {**base, "type": "track", "messageId": "m-4"},  # no event name: refused, the others go on
    ]


def _post(
    harness: Harness,
    path: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    write_key: str | None = WRITE_KEY,
    gzip_body: bool = False,
) -> tuple[int, dict[str, str], Any]:
    event = http_api_event(
        body, write_key=write_key, headers=headers, content_type=content_type, gzip_body=gzip_body
    )
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    return harness.invoke(event)


def test_batch_of_mixed_calls_answers_200_and_forwards_mapped_events(harness: Harness) -> None:
    # GIVEN a /v1/batch body as segment-analytics-python sends it (gzip, Basic auth), one call broken
    body = codec.dumps({"batch": _calls(), "sentAt": _now_text()})
    # WHEN the handler answers
    status, _, answer = _post(harness, "/v1/batch", body, gzip_body=True)
    # THEN 200 (the libraries resend nothing), each verdict in the body, the broken call rejected
    assert status == 200, answer
    assert answer["success"] is True
    assert answer["counts"] == {"received": 4, "accepted": 3, "rejected": 1, "retry": 0}
    assert answer["results"][3]["errors"][0]["code"] == "missing_event"
    # AND the bus got the three mapped events under their name-based ids
    forwarded = {signal.event["event_id"]: signal.event for signal in harness.forwarded()}
    assert set(forwarded) == {event_id_of(SOURCE_ID, f"m-{n}") for n in (1, 2, 3)}
    assert sorted(event["event_type"] for event in forwarded.values()) == ["identify", "page", "track"]


def test_rejected_calls_are_logged_with_their_reasons(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the function logging at INFO, and a batch with a call that has no identity
    level = logger.log_level
    logger.setLevel("INFO")
    calls = [{"type": "track", "messageId": "m-9", "event": "A", "timestamp": _now_text()}]
    # WHEN the handler answers it
    try:
        status, _, _ = _post(harness, "/v1/batch", codec.dumps({"batch": calls}))
    finally:
        logger.setLevel(level)
    # THEN it answers 200 and the log records the rejection with its reason
    assert status == 200
    record = next(record for record in caplog.records if record.getMessage() == "events rejected")
    assert record.route == "/v1/batch"
    assert record.rejections[0]["errors"][0]["code"] == "missing_identity"


@pytest.mark.parametrize(
    ("path", "event_type"),
    [
        ("/v1/track", "track"),
        ("/v1/page", "page"),
        ("/v1/identify", "identify"),
        ("/v1/screen", "screen"),
        ("/v1/t", "track"),  # analytics.js's short paths
        ("/v1/p", "page"),
        ("/v1/i", "identify"),
    ],
)
def test_single_call_route_takes_its_type_from_the_path(harness: Harness, path: str, event_type: str) -> None:
    # GIVEN one call posted to a single-call route, without a type
    call = {"messageId": "m-1", "userId": "u1", "event": "Signed In", "timestamp": _now_text()}
    # WHEN the handler answers
    status, _, answer = _post(harness, path, codec.dumps(call))
    # THEN it is accepted as the route's call type
    assert status == 200, answer
    [signal] = harness.forwarded()
    assert signal.event["event_type"] == event_type


def test_short_batch_path_takes_a_batch(harness: Harness) -> None:
    # GIVEN analytics.js's batching body on /v1/b: text/plain, the key in the body
    body = codec.dumps({"batch": _calls()[:3], "writeKey": WRITE_KEY, "sentAt": _now_text()})
    # WHEN the handler answers
    status, _, answer = _post(harness, "/v1/b", body, content_type="text/plain", write_key=None)
    # THEN every call is accepted
    assert status == 200, answer
    assert answer["counts"]["accepted"] == 3


@pytest.mark.parametrize(("path", "size"), [("/v1/track", 32 * 1024 + 1), ("/v1/batch", 500 * 1024 + 1)])
def test_body_over_segments_limit_answers_400(harness: Harness, path: str, size: int) -> None:
    # GIVEN a body one byte over Segment's limit for the route (32 KB a call, 500 KB a batch)
    body = b" " * size
    # WHEN the handler answers
    status, _, answer = _post(harness, path, body)
    # THEN 400 (which neither library retries), code and message at the top where they read them
    assert status == 400
    assert answer["code"] == "payload_too_large"
    assert "at most" in answer["message"]


def test_call_over_32_kb_in_a_batch_is_rejected_and_its_neighbours_accepted(harness: Harness) -> None:
    # GIVEN a batch whose second call is over Segment's 32 KB per call, past the mapping's room
    calls = _calls()[:2]
    calls[1] = {**calls[1], "properties": {"x": "y" * (32 * 1024 + MAPPING_ROOM_BYTES)}}
    # WHEN the handler answers
    status, _, answer = _post(harness, "/v1/batch", codec.dumps({"batch": calls}))
    # THEN the big call is rejected with its reason, the other accepted
    assert status == 200
    assert [result["verdict"] for result in answer["results"]] == ["accepted", "rejected"]
    assert answer["results"][1]["errors"][0]["code"] == "event_too_large"


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track"])
def test_call_of_32_kb_as_sent_is_accepted_whatever_the_server_fills_in(harness: Harness, path: str) -> None:
    # GIVEN a track call of exactly 32,768 bytes as sent, from a browser whose User-Agent header is
    # longer than the envelope keeps and whose address is IPv6 (the mapping adds both, and the
    # envelope's identity and times: the judge measured 33,300 bytes and refused it)
    call = {**_calls()[0], "messageId": "m" * MAX_MESSAGE_ID_CHARS, "properties": {"x": ""}}
    call["properties"]["x"] = "y" * (32 * 1024 - len(codec.dumps(call)))
    sent = codec.dumps({"batch": [call]}) if path == "/v1/batch" else codec.dumps(call)
    assert len(codec.dumps(call)) == 32 * 1024
    event = http_api_event(sent, write_key=WRITE_KEY, headers={"user-agent": "Mozilla/5.0 " * 200})
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    event["requestContext"]["http"]["sourceIp"] = "2001:db8:85a3:1234:5678:8a2e:370:7334"
    # WHEN the handler answers
    status, _, answer = harness.invoke(event)
    # THEN the call is accepted and forwarded, with what the server saw
    assert status == 200, answer
    assert [result["verdict"] for result in answer["results"]] == ["accepted"], answer["results"]
    [signal] = harness.forwarded()
    assert len(signal.event["context"]["user_agent"]) == 1024


def test_missing_write_key_answers_401_in_segment_shape(harness: Harness) -> None:
    # GIVEN a batch with no key in a header or the body
    body = codec.dumps({"batch": _calls()[:1]})
    # WHEN the handler answers
    status, headers, answer = _post(harness, "/v1/batch", body, write_key=None)
    # THEN 401 with code and message at the top
    assert status == 401
    assert answer["code"] == "unauthenticated"
    assert headers["WWW-Authenticate"].startswith("Basic")


def test_beacon_with_write_key_in_text_plain_body_is_accepted(harness: Harness) -> None:
    # GIVEN what navigator.sendBeacon sends from a registered origin: text/plain, the key in the body
    call = {**_calls()[0], "writeKey": WRITE_KEY}
    # WHEN the handler answers
    status, _, answer = _post(
        harness,
        "/v1/track",
        codec.dumps(call),
        content_type="text/plain;charset=UTF-8",
        write_key=None,
        headers={"origin": ORIGIN},
    )
    # THEN the call is accepted and the key is not forwarded
    assert status == 200, answer
    [signal] = harness.forwarded()
    assert WRITE_KEY not in codec.dumps(signal.event).decode()


@pytest.mark.parametrize("path", ["/v1/track", "/v1/events"])
def test_origin_the_source_did_not_register_answers_403(harness: Harness, path: str) -> None:
    # GIVEN a browser request from an origin the source has not registered
    body = codec.dumps(_calls()[0] if path != "/v1/events" else page_view(SOURCE_ID))
    # WHEN the handler answers
    status, _, _ = _post(harness, path, body, headers={"origin": "https://evil.example.net"})
    # THEN it is refused and nothing is forwarded
    assert status == 403
    assert harness.forwarded() == []


def test_bus_outage_answers_503_with_retry_after_so_the_libraries_resend(harness: Harness) -> None:
    # GIVEN a bus that fails every entry
    class DownBus:
        def put_events(self, *, Entries: list[Any], **_: Any) -> dict[str, Any]:  # noqa: N803
            failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "down"}
            return {"FailedEntryCount": len(Entries), "Entries": [failed] * len(Entries)}

    down = BusPublisher(client=DownBus, sleep=lambda _seconds: None)
    harness.ingestor = dataclasses.replace(harness.ingestor, publisher=down)
    # WHEN a batch is posted
    status, headers, answer = _post(harness, "/v1/batch", codec.dumps({"batch": _calls()[:2]}))
    # THEN 503 + Retry-After: both libraries resend the batch, and the ids make that safe
    assert status == 503
    assert int(headers["Retry-After"]) > 0
    assert answer["code"] == "bus_unavailable"


def test_get_on_a_segment_route_answers_405(harness: Harness) -> None:
    # GIVEN a GET on /v1/batch
    event = http_api_event(None, write_key=WRITE_KEY)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/batch"
    event["requestContext"]["http"]["method"] = "GET"
    # WHEN the handler answers
    status, headers, answer = harness.invoke(event)
    # THEN 405 in Segment's shape
    assert status == 405
    assert headers["Allow"] == "POST"
    assert answer["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/v1/events", "/v1/track"])
def test_source_ip_and_user_agent_fill_the_context_when_the_client_sent_none(
    harness: Harness, path: str
) -> None:
    # GIVEN an event without ip or user agent (native or Segment), from 203.0.113.10 with UA "pytest"
    native = page_view(SOURCE_ID)
    native["context"] = {"session_id": "s-1"}
    body = codec.dumps(native if path == "/v1/events" else _calls()[0])
    # WHEN the handler answers
    status, _, _ = _post(harness, path, body)
    # THEN the forwarded event carries what the server saw (the address as its /24 network)
    assert status == 200
    [signal] = harness.forwarded()
    assert signal.event["context"]["ip"] == "203.0.113.0"
    assert signal.event["context"]["user_agent"] == "pytest"


def test_client_sent_ip_and_user_agent_win_over_the_request(harness: Harness) -> None:
    # GIVEN a server-side call that names the end user's ip and user agent
    call = {**_calls()[0], "context": {"ip": "198.51.100.7", "userAgent": "Mozilla/5.0"}}
    # WHEN the handler answers
    status, _, _ = _post(harness, "/v1/track", codec.dumps(call))
    # THEN the client's values are kept (the address as its /24 network)
    assert status == 200
    [signal] = harness.forwarded()
    assert signal.event["context"]["ip"] == "198.51.100.0"
    assert signal.event["context"]["user_agent"] == "Mozilla/5.0"


def test_write_key_in_header_beats_a_wrong_one_in_the_body(harness: Harness) -> None:
    # GIVEN a Basic-auth key and a body writeKey that is wrong
    call = {**_calls()[0], "writeKey": "web-shop.wrong"}
    # WHEN the handler answers
    status, _, _ = _post(harness, "/v1/track", codec.dumps(call), headers={"authorization": basic(WRITE_KEY)})
    # THEN the header decides
    assert status == 200


def test_base64_gzip_text_plain_is_accepted(harness: Harness) -> None:
    # GIVEN a gzip body sent as text/plain (API Gateway delivers it base64-encoded)
    body = codec.dumps({"batch": _calls()[:1], "writeKey": WRITE_KEY})
    event = http_api_event(body, gzip_body=True, content_type="text/plain")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/batch"
    # WHEN the handler answers
    status, _, answer = harness.invoke(event)
    # THEN it is accepted
    assert status == 200, answer
    assert base64.b64decode(event["body"])[:2] == gzip.compress(b"")[:2]


ODD_MESSAGE_IDS = (
    st.text(min_size=1, max_size=MAX_MESSAGE_ID_CHARS)  # any unicode, astral and controls included
    | st.text(min_size=MAX_MESSAGE_ID_CHARS + 1, max_size=400)
    | st.sampled_from(["", "\x00", "\U0001f600" * MAX_MESSAGE_ID_CHARS])
    | st.integers()  # beyond 64 bits too: a client may write any integer
    | st.booleans()
    | st.lists(st.text(max_size=3), max_size=2)
    | st.none()
)
ODD_IDS = st.text(max_size=60) | st.integers() | st.booleans() | st.none()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.lists(
        st.fixed_dictionaries(
            {"messageId": ODD_MESSAGE_IDS, "userId": ODD_IDS, "anonymousId": ODD_IDS},
            optional={"event": st.text(max_size=30) | st.integers(), "type": st.text(max_size=10)},
        ),
        min_size=1,
        max_size=8,
    )
)
def test_odd_message_ids_and_ids_get_a_verdict_each_never_a_server_error(
    harness: Harness, fields: list[dict[str, Any]]
) -> None:
    # GIVEN a batch of track calls with odd messageIds (huge, empty, non-string, unicode) and ids
    now = _now_text()
    calls = [{"type": "track", "event": "Clicked", "timestamp": now, **call} for call in fields]
    # WHEN the handler answers
    status, _, answer = _post(harness, "/v1/batch", dump_json({"batch": calls}))
    # THEN 200 with a verdict per call; a messageId out of Segment's rule is the reason for a rejection
    assert status == 200, answer
    assert len(answer["results"]) == len(calls)
    for call, result in zip(calls, answer["results"], strict=True):
        message_id = call["messageId"]
        if message_id is not None and not (
            isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS
        ):
            assert result["errors"][0]["code"] == "invalid_message_id"
        elif result["verdict"] == "accepted" and message_id is not None:
            assert result["event_id"] == event_id_of(SOURCE_ID, message_id)
