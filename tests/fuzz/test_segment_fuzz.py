"""Generated Segment HTTP Tracking API requests against the validator handler: never a 5xx, an answer
the Segment and RudderStack libraries understand, a verdict for every call, every good call accepted
under its name-based id whatever its neighbours, and only valid events forwarded."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies
from tests.fuzz.harness import ORIGIN, SOURCE_ID, WRITE_KEY, Harness, basic
from tests.fuzz.strategies import JSON_VALUES, RAW_BODIES, REGISTRY, dump_json, timestamps
from tests.http_events import http_api_event
from validator import api
from validator.segment import TrackMapping, event_id_of

SEGMENT_STATUSES = frozenset({200, 400, 401, 403, 415})
PATHS = sorted(api.SEGMENT_ROUTES)
MIXED_BATCHES = 1_000
WHOLE_REQUESTS = 600
NOW = datetime.now(UTC)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

# JSON a client's properties and traits may hold (orjson reads integers within 64 bits).
PLAIN_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)
PROPERTIES = st.dictionaries(st.text(max_size=12), PLAIN_JSON, max_size=5)
IDS = st.text(min_size=1, max_size=40) | st.integers(min_value=0, max_value=2**53).map(str)
MAPPING = TrackMapping.load()
PRODUCT_ADDED = MAPPING.events["Product Added"]
GOOD_PRODUCT = {
    "cart_id": "cart_1",
    "product_id": "prod_1",
    "sku": "TR2-BLU-42",
    "quantity": 1,
    "price": 129.95,
    "currency": "EUR",
}


@st.composite
def good_calls(draw: st.DrawFn, tag: str, call_type: str | None = None) -> dict[str, Any]:
    """A call Segment and the registry both accept; ``messageId`` unique by its ``tag``."""
    kind = call_type or draw(st.sampled_from(["track", "page", "screen", "identify", "group", "alias"]))
    gap = draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6)))
    call: dict[str, Any] = {
        "type": kind,
        "messageId": f"{tag}-{draw(st.text(max_size=20))}",
        "timestamp": draw(timestamps(NOW - gap)),
    }
    identity = draw(st.sampled_from(["userId", "anonymousId", "both"]))
    if identity in ("userId", "both") or kind == "alias":
        call["userId"] = draw(IDS)
    if identity in ("anonymousId", "both"):
        call["anonymousId"] = draw(IDS)
    if kind == "track":
        if draw(st.booleans()):
            extra = {k: v for k, v in draw(PROPERTIES).items() if k not in PRODUCT_ADDED.properties}
            call["event"], call["properties"] = "Product Added", {**extra, **GOOD_PRODUCT}
        else:
            name = draw(st.text(min_size=1, max_size=30).filter(lambda n: n not in MAPPING.events))
            call["event"], call["properties"] = name, draw(PROPERTIES)
    elif kind in ("page", "screen"):
        call["properties"] = draw(PROPERTIES)
        if draw(st.booleans()):
            call["name"] = draw(st.text(max_size=30))
    elif kind in ("identify", "group"):
        call["traits"] = draw(PROPERTIES)
    if kind == "group":
        call["groupId"] = draw(IDS)
    if kind == "alias":
        call["previousId"] = draw(IDS)
    if draw(st.booleans()):
        call["context"] = {
            "library": {"name": "analytics.js", "version": "1"},
            "page": draw(PROPERTIES),
            # Any value: an IP address moves to the envelope, anything else stays where it was sent.
            **({"ip": draw(st.sampled_from(strategies.IPS) | PLAIN_JSON)} if draw(st.booleans()) else {}),
        }
    if draw(st.booleans()):
        call["integrations"] = {"All": draw(st.booleans())}
    return call


@st.composite
def mutated_calls(draw: st.DrawFn, tag: str) -> Any:
    """A good call with one top-level field replaced by arbitrary JSON or removed, or any JSON."""
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        return draw(JSON_VALUES)
    call = draw(good_calls(tag))
    field = draw(st.sampled_from([*call, "context", "properties", "type", "sentAt", "extra"]))
    if draw(st.booleans()) and field in call:
        del call[field]
    else:
        call[field] = draw(JSON_VALUES)
    return call


@st.composite
def batches(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any], dict[int, str]]:
    """A /v1/batch body mixing good calls with mutated ones; the good ones' indexes and ids."""
    size = draw(st.integers(min_value=1, max_value=12))
    calls: list[Any] = []
    good: dict[int, str] = {}
    for index in range(size):
        if draw(st.integers(min_value=0, max_value=2)) > 0:
            call = draw(good_calls(f"g{index}"))
            good[index] = event_id_of(SOURCE_ID, call["messageId"])
        else:
            call = draw(mutated_calls(f"x{index}"))
        calls.append(call)
    document: dict[str, Any] = {"batch": calls}
    if draw(st.booleans()):
        document["sentAt"] = draw(timestamps(NOW))
    if draw(st.booleans()):
        document["context"] = {"library": {"name": "analytics-python", "version": "2.4.0"}}
    return document, calls, good


def _segment_event(path: str, body: bytes, headers: dict[str, str], *, base64_body: bool) -> dict[str, Any]:
    event = http_api_event(None, content_type=None, headers=headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"] = body.decode(errors="replace")
    return event


def _check(harness: Harness, status: int, body: Any, calls: list[Any], good: dict[int, str]) -> None:
    assert status in SEGMENT_STATUSES, (status, body)
    assert isinstance(body, dict), body
    forwarded = harness.forwarded()
    if status != 200:
        # What the libraries log: code and message at the top; nothing forwarded.
        assert isinstance(body["code"], str) and isinstance(body["message"], str), body
        assert forwarded == []
        return
    results = body["results"]
    assert body["success"] is True
    assert [result["index"] for result in results] == list(range(len(calls)))
    for index, event_id in good.items():
        assert results[index]["verdict"] == "accepted", (results[index], calls[index])
        assert results[index]["event_id"] == event_id
    accepted = [result["event_id"] for result in results if result["verdict"] == "accepted"]
    assert sorted(signal.event["event_id"] for signal in forwarded) == sorted(accepted)
    for signal in forwarded:
        assert REGISTRY.is_valid(signal.event), REGISTRY.errors(signal.event)
        assert WRITE_KEY not in dump_json(signal.event).decode()


def test_good_calls_accepted_among_arbitrary_neighbours(harness: Harness) -> None:
    # GIVEN /v1/batch bodies mixing good calls with mutated ones and arbitrary JSON, sent as the
    # server libraries do (Basic auth, JSON, gzip or not) or as a browser beacon (text/plain, key in body)
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=MIXED_BATCHES)
    @given(batches(), st.booleans(), st.booleans())
    def check(batch: tuple[dict[str, Any], list[Any], dict[int, str]], beacon: bool, compress: bool) -> None:
        document, calls, good = batch
        headers = {"content-type": "application/json", "authorization": basic(WRITE_KEY)}
        if beacon:
            document = {**document, "writeKey": WRITE_KEY}
            headers = {"content-type": "text/plain;charset=UTF-8", "origin": ORIGIN}
        body = dump_json(document)
        if compress:
            body, headers["content-encoding"] = gzip.compress(body, compresslevel=1), "gzip"
        # WHEN the handler answers
        status, _, answer = harness.invoke(_segment_event("/v1/batch", body, headers, base64_body=compress))
        # THEN 200 with a verdict for each call, every good one accepted, only valid events forwarded
        _check(harness, status, answer, calls, good)

    check()
    assert harness.requests - start >= MIXED_BATCHES


AUTH = [
    {"authorization": basic(WRITE_KEY)},
    {"x-api-key": WRITE_KEY},
    {},
    {"authorization": basic("web-shop.wrong")},
    {"authorization": "Bearer x"},
    {"x-api-key": "nope"},
]
CONTENT_TYPES = ["application/json", "text/plain", "text/plain;charset=UTF-8", "text/html", "", None]


def test_any_segment_request_answered_without_a_5xx(harness: Harness) -> None:
    # GIVEN whole requests to every compatible route: keys in headers, the body or nowhere, media
    # types, origins, and bodies that are calls, batches, arbitrary JSON or bytes
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=WHOLE_REQUESTS)
    @given(
        st.sampled_from(PATHS),
        st.sampled_from(AUTH),
        st.sampled_from(CONTENT_TYPES),
        st.sampled_from([None, ORIGIN, "https://elsewhere.example", "null"]),
        st.one_of(
            RAW_BODIES,
            JSON_VALUES.map(dump_json),
            good_calls("w").map(lambda call: dump_json({**call, "writeKey": WRITE_KEY})),
            batches().map(lambda batch: dump_json({**batch[0], "writeKey": WRITE_KEY})),
        ),
        st.booleans(),
    )
    def check(
        path: str, auth: dict[str, str], content_type: str | None, origin: str | None, body: bytes, b64: bool
    ) -> None:
        headers = dict(auth)
        if content_type is not None:
            headers["content-type"] = content_type
        if origin is not None:
            headers["origin"] = origin
        # WHEN the handler answers
        status, _, answer = harness.invoke(_segment_event(path, body, headers, base64_body=b64))
        # THEN a status the libraries act on, never a 5xx, with code/message or per-call verdicts
        assert status < 500, (status, answer)
        assert status in SEGMENT_STATUSES, (status, answer)
        if status == 200:
            assert answer["counts"]["received"] == len(answer["results"])
            for signal in harness.forwarded():
                assert REGISTRY.is_valid(signal.event), REGISTRY.errors(signal.event)
        else:
            assert isinstance(answer["code"], str), answer
            assert harness.forwarded() == []

    check()
    assert harness.requests - start >= WHOLE_REQUESTS
