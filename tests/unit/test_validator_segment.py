"""The Segment call mapping (pure): identity, types, Segment's rules, and what is kept where."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.timeutil import parse_rfc3339
from validator.segment import (
    CALL_TYPES,
    MAPPING_PATH,
    MAX_MESSAGE_ID_CHARS,
    MESSAGE_ID_NAMESPACE,
    Refusal,
    SegmentMapper,
    TrackMapping,
    TrackTarget,
    event_id_of,
    mapped_event_schema,
)
from validator.verdicts import EventJudge, Limits

SOURCE = "web-shop"
RECEIVED = "2026-12-06T10:00:05.000Z"
# JSON as orjson reads it (integers within 64 bits), for calls' odd fields.
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
# A few names, so that generated rename tables swap, share and shadow them.
NAMES = st.sampled_from(["a", "b", "c", "name", "price"])
CALL_FIELDS = (
    *("type", "messageId", "userId", "anonymousId", "context", "event", "properties", "traits"),
    *("groupId", "previousId", "timestamp", "sentAt", "integrations", "name", "channel"),
)


@pytest.fixture(scope="module")
def mapper() -> SegmentMapper:
    return SegmentMapper(TrackMapping.load())


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry()


def _call(call_type: str, **fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": call_type,
        "messageId": "ajs-next-1733479200000-5b7c1e0a",
        "anonymousId": "a7c2e4f0-51b3-4d8e-9f6a-0c1b2d3e4f50",
        "timestamp": "2026-12-06T10:00:00.000Z",
        "context": {
            "ip": "203.0.113.42",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {"url": "https://shop.example.com/", "referrer": "", "search": ""},
        },
    }
    call.update(fields)
    return {key: value for key, value in call.items() if value is not None}


def _map(mapper: SegmentMapper, call: Any, call_type: Any = None) -> dict[str, Any] | Refusal:
    return mapper.map_call(call, call_type=call_type, source_id=SOURCE, received_at=RECEIVED)


def _event(mapper: SegmentMapper, call: Any, call_type: Any = None) -> dict[str, Any]:
    mapped = _map(mapper, call, call_type)
    assert isinstance(mapped, dict), mapped
    return mapped


def _refusal(mapper: SegmentMapper, call: Any, call_type: Any = None) -> Refusal:
    mapped = _map(mapper, call, call_type)
    assert isinstance(mapped, Refusal), mapped
    return mapped


def test_message_id_becomes_name_based_uuid_of_source_and_message_id(mapper: SegmentMapper) -> None:
    # GIVEN a call whose messageId is not a UUID (as browser libraries make them)
    call = _call("page", properties={"title": "Home"})
    # WHEN it is mapped for two sources
    event = _event(mapper, call)
    other = mapper.map_call(call, call_type=None, source_id="app-ios", received_at=RECEIVED)
    # THEN its event_id is uuid5(source, messageId), the original kept; another source gets another id
    assert event["event_id"] == str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{SOURCE}\n{call['messageId']}"))
    assert event["data"]["origin"]["message_id"] == call["messageId"]
    assert isinstance(other, dict)
    assert other["event_id"] != event["event_id"]
    assert _event(mapper, dict(call))["event_id"] == event["event_id"]


def test_call_without_message_id_gets_content_hash_identity(mapper: SegmentMapper) -> None:
    # GIVEN a call without messageId, sent twice, and a different call without one
    call = _call("identify", messageId=None, userId="u1", traits={"plan": "pro"})
    other = _call("identify", messageId=None, userId="u1", traits={"plan": "free"})
    # WHEN they are mapped
    first, again, different = _event(mapper, call), _event(mapper, dict(call)), _event(mapper, other)
    # THEN the identical resend keeps the identity, the different call does not, and it is marked
    assert first["event_id"] == again["event_id"] != different["event_id"]
    assert first["data"]["origin"]["message_id_derived"] is True
    assert len(first["data"]["origin"]["message_id"]) == 64


def test_mapped_track_name_renames_properties_and_keeps_the_rest(
    mapper: SegmentMapper, registry: SchemaRegistry
) -> None:
    # GIVEN a "Product Added" track call with properties the add_to_cart type names and one it does not
    properties = {
        "cart_id": "cart_1",
        "product_id": "prod_1",
        "sku": "TR2-BLU-42",
        "name": "Trail Runner 2",
        "price": 129.95,
        "quantity": 1,
        "currency": "EUR",
        "brand": "Example",
    }
    # WHEN it is mapped
    event = _event(mapper, _call("track", event="Product Added", properties=properties))
    # THEN it is an add_to_cart 1-1-0 event with renamed fields, the rest kept in origin, and valid
    assert (event["event_type"], event["schema_version"]) == ("add_to_cart", "1-1-0")
    data = dict(event["data"])
    origin = data.pop("origin")
    assert data == {
        "cart_id": "cart_1",
        "product_id": "prod_1",
        "sku": "TR2-BLU-42",
        "product_name": "Trail Runner 2",
        "unit_price": 129.95,
        "quantity": 1,
        "currency": "EUR",
    }
    assert origin["event"] == "Product Added"
    assert origin["properties"] == {"brand": "Example"}
    assert registry.is_valid(event), registry.errors(event)


def test_unmapped_track_name_is_generic_track_with_properties_as_sent(
    mapper: SegmentMapper, registry: SchemaRegistry
) -> None:
    # GIVEN a track call whose name the mapping does not list, with nested properties
    properties = {"video": {"id": "v1", "chapters": [1, 2]}, "autoplay": False}
    # WHEN it is mapped
    event = _event(mapper, _call("track", event="Video Played", properties=properties))
    # THEN it is the generic track type carrying name and properties unchanged
    assert (event["event_type"], event["schema_version"]) == ("track", "1-0-0")
    assert event["data"]["event"] == "Video Played"
    assert event["data"]["properties"] == properties
    assert registry.is_valid(event), registry.errors(event)


@pytest.mark.parametrize(
    ("call_type", "fields", "data"),
    [
        ("page", {"name": "Home", "properties": {"p": "/"}}, {"name": "Home", "properties": {"p": "/"}}),
        ("screen", {"properties": {"items": 2}}, {"properties": {"items": 2}}),
        ("identify", {"traits": {"email": "a@example.com"}}, {"traits": {"email": "a@example.com"}}),
        ("group", {"groupId": 42, "traits": {"n": 1}}, {"group_id": "42", "traits": {"n": 1}}),
        ("alias", {"previousId": "anon-1", "userId": "u1"}, {"previous_id": "anon-1"}),
    ],
)
def test_other_calls_are_registry_types_of_their_own(
    mapper: SegmentMapper,
    registry: SchemaRegistry,
    call_type: str,
    fields: dict[str, Any],
    data: dict[str, Any],
) -> None:
    # GIVEN a page, screen, identify, group or alias call
    # WHEN it is mapped
    event = _event(mapper, _call(call_type, **fields))
    # THEN it is the type of that name, its fields kept, and valid in the registry
    assert event["event_type"] == call_type
    assert {key: value for key, value in event["data"].items() if key != "origin"} == data
    assert registry.is_valid(event), registry.errors(event)


def test_context_ip_and_user_agent_move_to_envelope_and_the_rest_stays_in_origin(
    mapper: SegmentMapper,
) -> None:
    # GIVEN a call with ip, userAgent, library and page in its context, and a batch-level context
    call = _call("page", userId="u1")
    # WHEN it is mapped with a shared context under its own
    event = mapper.map_call(
        call,
        call_type=None,
        source_id=SOURCE,
        received_at=RECEIVED,
        shared_context={"locale": "de-DE", "library": {"name": "shared"}},
    )
    assert isinstance(event, dict)
    # THEN ids, ip and user agent are in the envelope's context (where enrichment truncates the IP),
    # and nothing else of the context is lost or duplicated
    assert event["context"] == {
        "user_id": "u1",
        "anonymous_id": call["anonymousId"],
        "ip": "203.0.113.42",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    assert event["data"]["origin"]["context"] == {
        "locale": "de-DE",
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {"url": "https://shop.example.com/", "referrer": "", "search": ""},
    }
    assert call["context"]["ip"] == "203.0.113.42"  # the call itself is left as it was


@pytest.mark.parametrize("ip", ["256.0.0.1", "fe80::1%eth0", 42, {"v4": "1.2.3.4"}])
def test_context_ip_that_is_no_address_stays_where_it_was_sent(
    mapper: SegmentMapper, registry: SchemaRegistry, ip: Any
) -> None:
    # GIVEN a call whose context.ip is not an IP address (Segment accepts any value there)
    call = _call("page", context={"ip": ip, "userAgent": "x" * 2000})
    # WHEN it is mapped
    event = _event(mapper, call)
    # THEN the value stays in origin.context, the user agent is clipped to the envelope's bound,
    # and the event is valid
    assert "ip" not in event["context"]
    assert event["data"]["origin"]["context"] == {"ip": ip}
    assert event["context"]["user_agent"] == "x" * 1024
    assert registry.is_valid(event), registry.errors(event)


def test_times_and_unknown_fields_are_kept_and_write_key_is_dropped(mapper: SegmentMapper) -> None:
    # GIVEN a call with sentAt, originalTimestamp, channel, integrations and a writeKey
    call = _call(
        "track",
        event="Clicked",
        timestamp=None,
        originalTimestamp="2026-12-06T09:59:58.000Z",
        sentAt="2026-12-06T09:59:59.000Z",
        channel="web",
        integrations={"All": True},
        writeKey="web-shop.secret",
    )
    # WHEN it is mapped
    event = _event(mapper, call)
    origin = event["data"]["origin"]
    # THEN originalTimestamp is occurred_at, sentAt is sent_at (skew correction), the rest is in
    # origin, and the write key is nowhere
    assert event["occurred_at"] == "2026-12-06T09:59:58.000Z"
    assert event["sent_at"] == "2026-12-06T09:59:59.000Z"
    assert origin["integrations"] == {"All": True}
    assert origin["extra"] == {"originalTimestamp": "2026-12-06T09:59:58.000Z", "channel": "web"}
    assert "web-shop.secret" not in str(event)


def test_call_without_any_time_occurs_at_receive_time(mapper: SegmentMapper) -> None:
    # GIVEN a call with neither timestamp nor originalTimestamp
    # WHEN it is mapped
    event = _event(mapper, _call("identify", timestamp=None, traits={}))
    # THEN it happened when it was received
    assert event["occurred_at"] == RECEIVED


@pytest.mark.parametrize(
    ("call", "route_type", "code", "path"),
    [
        ([1, 2], None, "not_an_object", "$"),
        (_call("track", event="A", messageId=7), None, "invalid_message_id", "$.messageId"),
        (_call("track", event="A", messageId="x" * 101), None, "invalid_message_id", "$.messageId"),
        (_call("purchase"), None, "unknown_call_type", "$.type"),
        (_call("track", event="A", anonymousId=None), None, "missing_identity", "$"),
        (_call("track", event="A", anonymousId=""), None, "missing_identity", "$"),
        (_call("track", event="A", anonymousId=True), None, "missing_identity", "$"),
        (_call("track"), None, "missing_event", "$.event"),
        (_call("track", event=""), None, "missing_event", "$.event"),
        (_call("group"), None, "missing_group_id", "$.groupId"),
        (_call("alias", userId="u1"), None, "missing_previous_id", "$.previousId"),
        (_call("alias", previousId="a1"), None, "missing_user_id", "$.userId"),
        (_call("track", event="A", context=[1]), None, "invalid_context", "$.context"),
        (_call("track", event="Product Added", properties=[1]), None, "invalid_properties", "$.properties"),
        (_call("page", type=None), None, "unknown_call_type", "$.type"),
    ],
)
def test_call_breaking_a_segment_rule_is_refused_with_its_reason(
    mapper: SegmentMapper, call: Any, route_type: Any, code: str, path: str
) -> None:
    # GIVEN a call that breaks one of Segment's rules
    # WHEN it is mapped
    refusal = _refusal(mapper, call, route_type)
    # THEN it is refused with the rule's code and the path of the field
    assert (refusal.error.code, refusal.error.path) == (code, path)


def test_route_type_wins_over_the_body_type(mapper: SegmentMapper) -> None:
    # GIVEN a body without a type (or another one) posted to /v1/identify
    call = _call("track", traits={"a": 1})
    # WHEN it is mapped as the route's type
    event = _event(mapper, call, "identify")
    # THEN it is an identify
    assert event["event_type"] == "identify"


def test_track_mapping_targets_exist_and_name_fields_of_their_type(registry: SchemaRegistry) -> None:
    # GIVEN the track mapping kept with the registry
    mapping = TrackMapping.load(MAPPING_PATH)
    targets = [*mapping.events.values(), mapping.unmapped]
    for target in targets:
        # WHEN each target is looked up in the registry
        # THEN its type and version exist, and every renamed property is a field of its data schema
        assert registry.has_version(target.event_type, target.schema_version), target
        fields = registry.data_schema(target.event_type, target.schema_version)["properties"]
        assert set(target.properties.values()) <= set(fields), target
        assert "origin" in fields, target
    assert all(registry.has_version(call_type, "1-0-0") for call_type in CALL_TYPES)


@pytest.mark.parametrize("message_id", ["m-1", "", "ü" * 100, "ajs-next-1733479200000-5b7c1e0a", "\n"])
def test_event_id_of_is_uuid5_of_source_and_message_id(message_id: str) -> None:
    # GIVEN a source and a messageId
    # WHEN the event id is derived
    # THEN it is exactly uuid5 in the namespace fixed forever (a change would break deduplication)
    expected = uuid.uuid5(MESSAGE_ID_NAMESPACE, f"web-shop\n{message_id}")
    assert event_id_of("web-shop", message_id) == str(expected)
    assert expected.version == 5
    assert str(MESSAGE_ID_NAMESPACE) == "6f1d3c58-2b7e-5a4f-9c61-0e8d2a7b4c19"


@settings(max_examples=300, deadline=None)
@given(source_id=st.text(min_size=1, max_size=40), message_id=st.text(max_size=150))
def test_event_id_of_is_uuid5_for_any_text(source_id: str, message_id: str) -> None:
    # GIVEN any source and messageId text (astral characters, controls, lengths beyond Segment's)
    # WHEN the event id is derived
    # THEN it is exactly the uuid module's uuid5 of "<source>\n<messageId>"
    assert event_id_of(source_id, message_id) == str(
        uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{source_id}\n{message_id}")
    )


@settings(max_examples=300, deadline=None)
@given(
    renames=st.dictionaries(NAMES, NAMES, max_size=5),
    properties=st.dictionaries(NAMES, JSON, max_size=5),
)
def test_track_renames_are_the_name_by_name_mapping_whatever_the_table(
    renames: dict[str, str], properties: dict[str, Any]
) -> None:
    # GIVEN a track mapping whose renames may swap names, share a field or shadow another name
    mapping = TrackMapping({"E": TrackTarget("t", "1-0-0", renames)}, TrackTarget("track", "1-0-0", {}))
    # WHEN a call of that name is mapped
    event = _event(SegmentMapper(mapping), _call("track", event="E", properties=properties))
    data = dict(event["data"])
    origin = data.pop("origin")
    # THEN each named property is under its field (the table's order decides a shared field), the
    # others are kept as sent in origin.properties, and the call's properties are left as they were
    expected = {field: properties[name] for name, field in renames.items() if name in properties}
    assert data == expected
    assert origin.get("properties", {}) == {k: v for k, v in properties.items() if k not in renames}
    assert event["data"] is not properties


@settings(max_examples=500, deadline=None)
@given(
    call=st.one_of(
        JSON,
        st.dictionaries(
            st.sampled_from(CALL_FIELDS),
            JSON | st.text(max_size=150) | st.sampled_from(["track", "Product Added", "group", "alias"]),
        ),
    ),
    call_type=st.sampled_from([None, *CALL_TYPES]),
)
def test_any_json_call_maps_to_an_event_or_a_refusal(
    mapper: SegmentMapper, call: Any, call_type: Any
) -> None:
    # GIVEN any JSON value as a call: odd messageIds, non-string ids, unicode, wrong shapes
    before = codec.canonical(call)
    # WHEN it is mapped
    mapped = _map(mapper, call, call_type)
    # THEN it is an event with a name-based id, or a refusal with a reason; the call is unchanged
    assert codec.canonical(call) == before
    if isinstance(mapped, Refusal):
        assert mapped.error.code and mapped.error.path.startswith("$")
        return
    message_id = call.get("messageId")
    if message_id is not None:
        assert isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS
        assert mapped["event_id"] == event_id_of(SOURCE, message_id)
    codec.canonical(mapped)  # what the judge signs: serialisable whatever the call held


# Field values that break the registry's checks of a mapped event, and ones that pass them.
ODD_VALUES = st.one_of(
    JSON,
    st.text(max_size=600),
    st.sampled_from(["", "x" * 513, "EUR", "TR2-BLU-42", "203.0.113.42", "2026-12-06T10:00:00Z"]),
    st.integers(min_value=-2, max_value=1_000_001),
)


@st.composite
def _mixed_calls(draw: st.DrawFn) -> dict[str, Any]:
    """A call of each type, mostly valid, with fields of any JSON replaced or added (properties,
    traits and context entries too): what the registry's checks look at in a mapped event."""
    kind = draw(st.sampled_from(CALL_TYPES))
    call = _call(
        kind,
        messageId=draw(st.text(min_size=1, max_size=MAX_MESSAGE_ID_CHARS)),
        userId="u1",
        previousId="anon-1",
        groupId="g1",
        event=draw(st.sampled_from(["Product Added", "Products Searched", "Video Played", "V" * 513])),
        properties={
            "cart_id": "cart_1",
            "product_id": "prod_1",
            "sku": "TR2-BLU-42",
            "quantity": 1,
            "price": 129.95,
            "currency": "EUR",
            "query": "shoes",
        },
        traits={"plan": "pro"},
        sentAt="2026-12-06T10:00:04.000Z",
    )
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        parts = [call, *(call.get(name) for name in ("properties", "traits", "context"))]
        where = draw(st.sampled_from([part for part in parts if isinstance(part, dict)]))
        keys = [*CALL_FIELDS, "integrations", "sku", "quantity", "name", "userAgent", "ip", "url"]
        where[draw(st.sampled_from(keys))] = draw(ODD_VALUES)
    return call


@settings(max_examples=400, deadline=None)
@given(
    calls=st.lists(_mixed_calls(), min_size=1, max_size=8),
    max_event_bytes=st.sampled_from([900, 32 * 1024]),
)
def test_judge_of_mapped_calls_agrees_with_judging_them_as_any_events(
    mapper: SegmentMapper, registry: SchemaRegistry, calls: list[dict[str, Any]], max_event_bytes: int
) -> None:
    # GIVEN mapped calls valid and broken in the registry's eyes, some over the event size limit
    judge = EventJudge(
        registry, Limits(max_event_bytes, max_future_skew=timedelta(hours=1), max_event_age=timedelta(days=7))
    )

    def judged(judge: EventJudge) -> Any:
        events = mapper.map_calls(calls, call_type=None, source_id=SOURCE, received_at=RECEIVED)
        return judge.judge(events, source_id=SOURCE, received_at=parse_rfc3339(RECEIVED), batch_sent_at=None)

    # WHEN they are judged by the judge of mapped calls (the mapping's own parts not checked again)
    # and by the judge of any client events
    fast, full = judged(judge.with_schemas(mapped_event_schema)), judged(judge)
    # THEN both give the same verdicts, reasons and signal bytes
    assert fast.results == full.results
    assert fast.signals == full.signals
