"""The lake property's machinery, shared by its tests (``test_accepted_reaches_lake*.py`` and
``test_dead_lettered_reaches_lake.py`` here, the front-door buffer's and the two Regions'):
requests of schema-valid events with odd content (``native_requests``, ``segment_requests``), one
request's run through the pipeline until it is quiet with what must hold of the lake, the partner
and the set-aside stores (``send``, or ``send_through_dlq`` with a target failing), what the lake
must hold of each accepted event (``check_lake``), and the property over many drawn requests
(``holds_for``).
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import os
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import jsonschema_rs
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st

from localcloud.cloud import LocalCloud
from localcloud.faults import TargetFault
from localcloud.http_api import HttpResponse
from localcloud.recovery import recover
from signal_platform.timeutil import format_rfc3339, parse_rfc3339
from tests.e2e.test_lake_table_reads import lake_objects, openx_row, serde_parameters
from tests.fuzz.harness import basic
from tests.fuzz.odd_content import (
    ODD_JSON,
    ODD_KEYS,
    PAST_INT64,
    USER_AGENTS,
    from_schema,
    odd_objects,
    odd_text,
)
from tests.fuzz.strategies import (
    CLIENT_SKEW,
    FUZZ,
    GOOD_AGE,
    REGISTRY,
    dump_json,
    event_ids,
    rfc3339,
    timestamps,
)
from validator.body import MAX_NESTING
from validator.segment import CALL_TYPES, TrackMapping

# The fuzz tier's profile, without shrinking: an example runs the whole pipeline (~0.15 s), and a
# shrink would outlast the test's timeout; the failing example is reported whole, with its blob.
LAKE_PROFILE = settings(settings.get_profile(FUZZ), phases=(Phase.explicit, Phase.reuse, Phase.generate))


def examples(in_ci: int) -> int:
    """A test's number of requests: ``in_ci`` times ``LAKE_PROPERTY_SCALE`` (default 1; the soak,
    ``make soak``, runs 10 times as many)."""
    return max(1, round(in_ci * float(os.environ.get("LAKE_PROPERTY_SCALE", "1"))))


NOW = datetime.now(UTC)
MAPPING = TrackMapping.load()
TYPES = sorted(
    (event_type, version) for event_type, versions in REGISTRY.event_types.items() for version in versions
)
CONTEXT_SCHEMA = REGISTRY.contract("envelope", "1-0-0")["properties"]["context"]
# The envelope's context but its ``ip`` (an anyOf of formats): addresses are drawn apart.
CONTEXT_BUT_IP = {
    **CONTEXT_SCHEMA,
    "properties": {name: member for name, member in CONTEXT_SCHEMA["properties"].items() if name != "ip"},
}
# Addresses at their edges, and text that only looks like one (a zone index, a prefix, a space).
ADDRESSES = st.ip_addresses().map(str) | st.sampled_from(
    [
        "::ffff:192.0.2.33",
        "::ffff:c000:221",
        "::",
        "0.0.0.0",  # noqa: S104 - a value to validate, nothing binds
        "255.255.255.255",
        "fe80::1",
        "2001:db8::",
        "fe80::1%eth0",
        "::ffff:192.0.2.33%1",
        "2001:db8::1/64",
        " 192.0.2.1",
    ]
)
IDENTITY_FIELDS = ("user_id", "anonymous_id", "session_id")
# The address the local front doors give as the client's (an event without one of its own gets it).
CLIENT_ADDRESS = "127.0.0.1"
# Every lake line is an enriched signal of the contract the enrichment writes (contracts/enriched_batch).
ENRICHED_SIGNAL = jsonschema_rs.Draft7Validator(
    REGISTRY.contract("enriched_batch", "1-1-0")["properties"]["signals"]["items"],
    validate_formats=True,
)
# Top-level call fields the Segment mapping places; any other is kept in data.origin.extra.
PLACED = frozenset(
    {"type", "messageId", "userId", "anonymousId", "context", "integrations", "timestamp", "sentAt"}
    | {"event", "properties", "traits", "name", "category", "groupId", "previousId", "writeKey"}
)
# Levels a body's own wrappers take before the free-form object at each spot, itself counted by
# ``room`` (body object, events/batch array, event or call object, data).
NATIVE_DATA_ROOM = MAX_NESTING - 3
CALL_ROOM = MAX_NESTING - 3
SHARED_CONTEXT_ROOM = MAX_NESTING - 1
# The dead-letter paths (template.yaml): the target that fails past its retries, and the DLQ its
# events then go to. A rule target's (the enrichment function, the signal stream), the enrichment's
# own failure (its async invocation), a consumer Pipe's (the lake's S3 writer, the partner's API),
# and with the front-door buffer its batcher's (the buffer stream's mapping).
DeadLetterPath = Literal[
    "enrichment-target", "enrichment-failure", "stream-target", "lake", "partner", "buffer"
]
FAILING_TARGET_AND_DLQ: dict[DeadLetterPath, tuple[str, str]] = {
    "buffer": ("BatcherFunction", "BufferDlq"),
    "enrichment-target": ("EnrichmentRule/enrichment", "EnrichmentTargetDlq"),
    "enrichment-failure": ("EnrichmentFunction", "EnrichmentFailureDlq"),
    "stream-target": ("SignalStream", "StreamTargetDlq"),
    "lake": ("S3WriterFunction", "LakePipeDlq"),
    "partner": ("PartnerApiDestination", "PartnerPipeDlq"),
}


# --- requests --------------------------------------------------------------------------------------


@dataclass
class OddRequest:
    """A request's route and body document; ``events`` are the sent events or calls, in order. The
    native events' ids and source are filled in when it is sent (every run needs ids of its own: a
    source of its own, ``source`` with a number)."""

    path: str
    document: Any
    events: list[dict[str, Any]]
    ensure_ascii: bool
    source: str
    shared_context: dict[str, Any] = field(default_factory=dict)


SOURCES = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)
# Requests of many events (most of the time a few): the same drawn events again, each its own event.
COPIES = st.sampled_from([1] * 8 + [20, 60])


def _copies(events: list[dict[str, Any]], copies: int, *, segment: bool) -> list[dict[str, Any]]:
    if copies == 1:
        return events
    many = [copy.deepcopy(event) for _ in range(copies) for event in events]
    if segment:
        for index, call in enumerate(many):
            call["messageId"] = f"{call['messageId'][:94]}~{index}"
    return many


def _moment(draw: st.DrawFn) -> datetime:
    return NOW - draw(GOOD_AGE)


@st.composite
def _any_offset(draw: st.DrawFn, moment: datetime) -> str:
    """``moment`` in RFC 3339 with any offset the format allows (up to ±23:59), fraction and case."""
    return rfc3339(
        moment,
        offset_minutes=draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)),
        fraction_digits=draw(st.integers(min_value=0, max_value=12)),
        lower=draw(st.booleans()),
    )


@st.composite
def _time(draw: st.DrawFn, moment: datetime) -> str:
    """``moment`` in any RFC 3339 form; now and then a leap second instead (23:59:60 UTC, the only one
    the ``date-time`` format takes) of one of the last days (then ``moment`` is ignored: use it only
    without a ``sent_at``)."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        day = NOW - timedelta(days=draw(st.integers(min_value=1, max_value=5)))
        fraction = draw(st.sampled_from(["", ".000", ".999", ".5", ".123456789"]))
        leap = f"{day:%Y-%m-%d}T23:59:60{fraction}Z"
        return leap.lower() if draw(st.booleans()) else leap
    text: str = draw(timestamps(moment) | _any_offset(moment))
    return text


@st.composite
def _event_times(draw: st.DrawFn) -> dict[str, str]:
    """``occurred_at`` inside the limits, with or without a ``sent_at`` of a skewed client clock."""
    if draw(st.booleans()):
        return {"occurred_at": draw(_time(_moment(draw)))}
    client_sent = NOW + draw(CLIENT_SKEW)
    return {
        "sent_at": draw(timestamps(client_sent)),
        "occurred_at": draw(timestamps(client_sent - draw(GOOD_AGE))),
    }


@st.composite
def native_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type, version = draw(st.sampled_from(TYPES))
    event: dict[str, Any] = {
        "event_id": draw(event_ids()),  # its letter case: the id itself is made when sent
        "event_type": event_type,
        "schema_version": version,
        "data": draw(from_schema(REGISTRY.data_schema(event_type, version), NATIVE_DATA_ROOM)),
    }
    event.update(draw(_event_times()))
    if draw(st.integers(min_value=0, max_value=3)) > 0:
        context = draw(from_schema(CONTEXT_BUT_IP, 3))
        if draw(st.booleans()):
            context["ip"] = draw(ADDRESSES)
        if draw(st.booleans()):
            context["user_agent"] = draw(USER_AGENTS)
        event["context"] = context
    return event


@st.composite
def native_requests(draw: st.DrawFn) -> OddRequest:
    events = draw(st.lists(native_events(), min_size=1, max_size=4))
    source, ascii_only = draw(SOURCES), draw(st.booleans())
    if len(events) == 1 and draw(st.booleans()):
        return OddRequest("/v1/events", events[0], events, ascii_only, source)
    events = _copies(events, draw(COPIES), segment=False)
    return OddRequest("/v1/events", {"events": events}, events, ascii_only, source)


# Segment ids are strings, or numbers taken as their text: integers of any size too.
INTEGERS = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.sampled_from(PAST_INT64)
IDS = odd_text(1, 128) | INTEGERS
EXTRA_KEYS = (
    ODD_KEYS | st.sampled_from(["originalTimestamp", "channel", "version", "Context", "EVENT"])
).filter(lambda key: key not in PLACED)


def _unmapped(name: str) -> bool:
    return name not in MAPPING.events


@st.composite
def mapped_properties(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Properties of a mapped track name: what its type's data allows, under the names the mapping
    renames them from, and odd ones it does not name."""
    target = MAPPING.events[name]
    schema = REGISTRY.data_schema(target.event_type, target.schema_version)
    without_origin = {
        **schema,
        "properties": {k: v for k, v in schema["properties"].items() if k != "origin"},
    }
    data = draw(from_schema(without_origin, CALL_ROOM))
    named = {prop: data[data_field] for prop, data_field in target.properties.items() if data_field in data}
    extra = draw(
        st.dictionaries(ODD_KEYS.filter(lambda key: key not in target.properties), ODD_JSON, max_size=3)
    )
    return {**extra, **named}


@st.composite
def _call_content(draw: st.DrawFn, kind: str, room: int) -> dict[str, Any]:
    """The members of a call of ``kind`` that carry its content (properties, traits, names, ids)."""
    content: dict[str, Any] = {}
    if kind == "track":
        name = draw(st.sampled_from(sorted(MAPPING.events)) | odd_text(1, 512).filter(_unmapped))
        content["event"] = name
        if name in MAPPING.events:
            content["properties"] = draw(mapped_properties(name))
        elif draw(st.integers(min_value=0, max_value=5)) > 0:  # absent: the mapping sends {}
            content["properties"] = draw(odd_objects(room))
    elif kind in ("page", "screen"):
        content["properties"] = draw(odd_objects(room))
        for member in ("name", "category"):
            if draw(st.booleans()):
                content[member] = draw(odd_text(0, 512))
    elif kind in ("identify", "group"):
        content["traits"] = draw(odd_objects(room))
    if kind == "group":
        content["groupId"] = draw(odd_text(1, 256) | INTEGERS)
    if kind == "alias":
        content["previousId"] = draw(odd_text(1, 256) | INTEGERS)
    return content


@st.composite
def segment_calls(draw: st.DrawFn, kind: str, room: int) -> dict[str, Any]:
    """A call of ``kind`` with odd content anywhere: its own members, ``context`` (an address and a
    user agent now and then), ``integrations`` and top-level fields the mapping does not place."""
    times = draw(_event_times())
    call: dict[str, Any] = {"type": kind, "messageId": draw(odd_text(1, 100))}
    # Where the call's time is: timestamp, originalTimestamp (timestamp absent or null), or nowhere
    # (the receive time; only without a sentAt, which would then make the call look skewed).
    placed = draw(st.sampled_from(["timestamp"] * 5 + ["originalTimestamp", "null", "nowhere"]))
    if placed == "null":
        call["timestamp"] = None
    if placed != "nowhere":
        call["originalTimestamp" if placed in ("originalTimestamp", "null") else "timestamp"] = times[
            "occurred_at"
        ]
    if "sent_at" in times and placed != "nowhere":
        call["sentAt"] = times["sent_at"]
    identity = draw(st.sampled_from(["userId", "anonymousId", "both"]))
    if identity != "anonymousId" or kind == "alias":
        call["userId"] = draw(IDS)
    if identity != "userId":
        call["anonymousId"] = draw(IDS)
    call.update(draw(_call_content(kind, room)))
    if draw(st.booleans()):
        context = draw(odd_objects(room))
        if draw(st.booleans()):
            context["ip"] = draw(ADDRESSES | odd_text())
        if draw(st.booleans()):
            context["userAgent"] = draw(USER_AGENTS | odd_text(0, 1100))
        call["context"] = context
    if draw(st.booleans()):
        call["integrations"] = draw(odd_objects(room))
    if draw(st.booleans()):
        call.update(draw(st.dictionaries(EXTRA_KEYS, ODD_JSON, min_size=1, max_size=3)))
    return call


@st.composite
def segment_requests(draw: st.DrawFn) -> OddRequest:
    if draw(st.integers(min_value=0, max_value=3)) == 0:  # a call type's own route
        kind = draw(st.sampled_from(CALL_TYPES))
        call = draw(segment_calls(kind, MAX_NESTING - 1))
        if draw(st.booleans()):
            del call["type"]  # the route names it
        return OddRequest(f"/v1/{kind}", call, [{**call, "type": kind}], draw(st.booleans()), draw(SOURCES))
    calls = [
        draw(segment_calls(kind, CALL_ROOM))
        for kind in draw(st.lists(st.sampled_from(CALL_TYPES), min_size=1, max_size=4))
    ]
    calls = _copies(calls, draw(COPIES), segment=True)
    for index, call in enumerate(calls):  # one messageId is one event: a repeat would be a duplicate
        if any(call["messageId"] == other["messageId"] for other in calls[:index]):
            call["messageId"] = f"{call['messageId'][:96]}~{index}"
    document: dict[str, Any] = {"batch": calls}
    shared: dict[str, Any] = {}
    if draw(st.booleans()):
        shared = document["context"] = draw(odd_objects(SHARED_CONTEXT_ROOM))
    if draw(st.booleans()):  # the clock of the calls without a sentAt of their own: this instant's
        document["sentAt"] = draw(timestamps(NOW))
    return OddRequest("/v1/batch", document, calls, draw(st.booleans()), draw(SOURCES), shared)


# --- one run: send, drain, read the lake ------------------------------------------------------------

_RUNS = itertools.count(1)


class FrontDoor(Protocol):
    """Where a request goes in: a Region's HTTP API or load balancer (``localcloud.http_api``)."""

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> HttpResponse: ...


def _same(lake: Any, sent: Any) -> bool:
    """Equal as JSON text, kinds included (1 is not 1.0, -0.0 is not 0.0; integers of any size)."""
    return json.dumps(lake, sort_keys=True) == json.dumps(sent, sort_keys=True)


def _fresh_id(case_of: str) -> str:
    fresh = str(uuid.uuid4())
    return "".join(new.upper() if old.isupper() else new for new, old in zip(fresh, case_of, strict=True))


@dataclass
class Run:
    """What one request left: the answer's accepted events and the lake's rows by event_id."""

    accepted: dict[str, dict[str, Any]]  # event_id -> the event or call as sent
    rows: dict[str, dict[str, Any]]


def send(
    cloud: LocalCloud,
    request: OddRequest,
    *,
    front_door: FrontDoor | None = None,
    recovery: Callable[[], None] = lambda: None,
) -> Run:
    """``request`` sent on a fresh (warm) pipeline of a source of its own, which then drains: every
    accepted event is one lake line in its partition, of the enriched contract, read by the SerDe,
    and reached the partner once with the line's content; nothing is quarantined, set aside as bad,
    dead-lettered or dropped. ``front_door``: the primary's HTTP API unless given; ``recovery``:
    what follows the drain before the checks (an incident's end, an operator's replay)."""
    accepted = _post(cloud, request, front_door=front_door)
    # WHEN the pipeline drains (and recovers)
    assert cloud.settle(timeout=60.0), "the pipeline did not go quiet"
    recovery()
    assert cloud.settle(timeout=60.0), "the pipeline did not go quiet after the recovery"
    _check_nothing_aside(cloud, request)
    return _read_lake(cloud, accepted, request)


def send_through_dlq(cloud: LocalCloud, request: OddRequest, failing: DeadLetterPath) -> Run:
    """``request`` sent while the ``failing`` path's target fails past its retries: every accepted
    event goes to that DLQ and the DLQ-hydrate stores it; then the runbook's recovery
    (``localcloud.recovery.recover``) replays the store. Afterwards the lake and the partner hold
    what ``send`` finds on the direct path (for a consumer Pipe's path, the other consumer's copy
    is the direct path's), and no DLQ or store holds anything."""
    target, dlq = FAILING_TARGET_AND_DLQ[failing]
    cloud.reset(warm=True)
    cloud.faults.add(TargetFault(target))
    accepted = _post(cloud, request, reset=False)
    assert cloud.settle(timeout=60.0), "the pipeline did not go quiet"
    census = cloud.census()
    stored = census.hydrated.get(dlq, Counter())
    # A request of FrontDoorBufferBelowSignals signals or more skips the buffer: the bus the direct way.
    direct = set(census.lake) if failing == "buffer" else set()
    reached = {"lake": set(census.lake) - direct, "partner": set(census.partner) - direct}
    if failing in reached:  # the other consumer got its copy the direct way
        reached = {failing: reached[failing]}
    assert not any(reached.values()), (reached, request.document)
    assert stored == dict.fromkeys(set(accepted) - direct, 1), (
        census.hydrated,
        census.dlq,
        sorted(accepted),
        request.document,
    )
    # WHEN the cause is fixed and an operator runs the runbook's recovery
    recovery = recover(cloud)
    assert recovery.ok, (recovery.describe(), recovery.output, request.document)
    _check_nothing_aside(cloud, request)
    return _read_lake(cloud, accepted, request)


def _post(
    cloud: LocalCloud, request: OddRequest, *, reset: bool = True, front_door: FrontDoor | None = None
) -> dict[str, dict[str, Any]]:
    """Send ``request`` through ``front_door`` (on a fresh warm pipeline unless ``reset`` is false)
    from a source of its own; the accepted events, by event_id, as sent."""
    if reset:
        cloud.reset(warm=True)
    suffix = f"-{next(_RUNS)}"
    source = request.source[: 64 - len(suffix)] + suffix
    write_key = cloud.register_source(source)
    native = request.path == "/v1/events"
    if native:  # a Segment call's id is made of the source and its messageId
        for event in request.events:
            event["event_id"] = _fresh_id(event["event_id"])
            event["source"] = source
    headers = {"content-type": "application/json"}
    headers |= {"x-api-key": write_key} if native else {"authorization": basic(write_key)}
    body = dump_json(request.document, ensure_ascii=request.ensure_ascii)
    answer = (front_door or cloud.api).request("POST", request.path, body, headers)
    assert answer.status in (200, 207, 400, 413), (answer.status, answer.body[:2000])
    results = answer.json().get("results", [])
    assert all(result["verdict"] != "retry" for result in results), results
    return {
        result["event_id"]: request.events[result["index"]]
        for result in results
        if result["verdict"] == "accepted"
    }


def _check_nothing_aside(cloud: LocalCloud, request: OddRequest) -> None:
    """Nothing quarantined, set aside as bad, dead-lettered, waiting in the DLQ store or dropped, in
    any Region."""
    for region in cloud.regions.values():
        census = cloud.census(region)
        set_aside = {
            "quarantined": +census.quarantine,
            "bad records": +census.bad,
            "dead-lettered": {name: ids for name, ids in census.dlq.items() if ids},
            "DLQ messages": +census.dlq_messages,
            "in the DLQ store": {name: ids for name, ids in census.hydrated.items() if ids},
            "in the DLQ store, of no known DLQ": +census.dlq_store,
            "stored, not replayable": +(census.unparsed + census.unrecoverable),
            "dropped": +census.dropped,
        }
        assert not any(set_aside.values()), (region.name, set_aside, request.document)


def _read_lake(cloud: LocalCloud, accepted: dict[str, dict[str, Any]], request: OddRequest) -> Run:
    """Each accepted event is one lake line in its partition (of all the lakes, with two Regions
    that process), of the enriched contract, read by the SerDe, and at the partner once
    (``_check_partner``)."""
    rows: dict[str, dict[str, Any]] = {}
    written: dict[str, Any] = {}  # event_id -> the lake line as JSON, keys as written
    copies: Counter[str] = Counter()
    parameters = serde_parameters()
    lakes = [region for region in cloud.regions.values() if region.pipes]  # the Regions that process
    for key, lines in (entry for region in lakes for entry in lake_objects(cloud, region)):
        for line in lines:
            row = openx_row(line, parameters)
            written[row["event_id"]] = json.loads(line)
            copies[row["event_id"]] += 1
            errors = [
                f"{list(error.instance_path)}: {error.message}" for error in ENRICHED_SIGNAL.iter_errors(row)
            ]
            assert errors == [], (errors, request.document)
            rows[row["event_id"]] = row
            derived = row["derived_at"]
            assert f"/event_type={row['event_type']}/dt={derived[:10]}/hour={derived[11:13]}/" in key, (
                key,
                derived,
            )
    assert copies == dict.fromkeys(accepted, 1), (copies, sorted(accepted), request.document)
    _check_partner(cloud, written, request)
    return Run(accepted, rows)


def _check_partner(cloud: LocalCloud, written: Mapping[str, Any], request: OddRequest) -> None:
    """The partner (the API destination Pipe's target) got each lake line's signal exactly once, in
    one of the enriched batches it was sent, with the same content as the line."""
    assert cloud.partner is not None, "the partner Pipe is not deployed"
    assert not cloud.partner.refused, (cloud.partner.refused, request.document)
    sent = [signal for got in cloud.partner.received for signal in got.body["detail"]["signals"]]
    assert Counter(signal["event_id"] for signal in sent) == dict.fromkeys(written, 1), request.document
    for signal in sent:
        line = written[signal["event_id"]]
        assert _same(signal, line), (signal, line)


# --- what the lake holds of what was sent -----------------------------------------------------------


def _utc(text: str) -> str:
    return format_rfc3339(parse_rfc3339(text))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address ``text`` names: without its zone index, an IPv4-mapped one as IPv4."""
    parsed = ipaddress.ip_address(text)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return parsed.ipv4_mapped
        return ipaddress.IPv6Address(int(parsed))
    return parsed


def _check_network(row: Mapping[str, Any], address: str, *, raw_ip: bool) -> None:
    """The lake's network columns of a sent ``address``: its /24 or /48 network, and the address
    itself only when raw addresses are kept (StoreRawIp)."""
    parsed = _address(address)
    network = str(ipaddress.ip_network((parsed, 24 if parsed.version == 4 else 48), strict=False))
    expected = {"ip_prefix": network, "ip": str(parsed)} if raw_ip else {"ip_prefix": network}
    assert row["network"] == expected, (row["network"], address)


def _check_context(row: Mapping[str, Any], context: Mapping[str, Any], *, raw_ip: bool) -> None:
    """The envelope's context as the lake's columns hold it: trimmed, codes lower case (clipped to the
    contract's bound), the address as its network; a field whose text is blank is absent (user) or
    comes from elsewhere (page, campaign: the event's data, the URL's utm_ parameters)."""
    for name in IDENTITY_FIELDS:
        assert row["user"].get(name) == ((context.get(name) or "").strip() or None), (name, row["user"])
    sent_page, page = context.get("page", {}), row["page"]
    for name in ("url", "path", "referrer", "title"):
        if value := sent_page.get(name, "").strip():
            assert page[name] == value, (name, page)
    library = context.get("library", {})
    if name := library.get("name", "").strip():
        assert row["library"]["name"] == name.lower()[:64]
    if version := library.get("version", "").strip():
        assert row["library"]["version"] == version
    for name, value in context.get("campaign", {}).items():
        if value.strip():
            expected = value.strip().lower()[:256] if name in ("source", "medium") else value.strip()
            assert row["campaign"][name] == expected, (name, row["campaign"])
    if "locale" in context:
        assert row["locale"] == context["locale"]
    _check_network(row, context.get("ip", CLIENT_ADDRESS), raw_ip=raw_ip)


def _check_native(row: Mapping[str, Any], sent: Mapping[str, Any], *, raw_ip: bool) -> None:
    assert (row["event_type"], row["schema_version"], row["source"]) == (
        sent["event_type"],
        sent["schema_version"],
        sent["source"],
    )
    assert row["occurred_at"] == _utc(sent["occurred_at"])
    assert _same(row["data"], sent["data"]), (row["data"], sent["data"])
    _check_context(row, sent.get("context", {}), raw_ip=raw_ip)


def _is_address(value: Any) -> bool:
    """An IP address without a zone index: what the Segment mapping moves to the envelope."""
    if not isinstance(value, str) or len(value) > 45 or "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _check_call(
    row: Mapping[str, Any], call: Mapping[str, Any], shared: Mapping[str, Any], *, raw_ip: bool
) -> None:
    data, kind = row["data"], call["type"]
    origin = data["origin"]
    assert (origin["protocol"], origin["message_id"], origin["type"]) == ("segment", call["messageId"], kind)
    occurred_at = call.get("timestamp") or call.get("originalTimestamp")
    if occurred_at is not None:  # else the receive time
        assert row["occurred_at"] == _utc(occurred_at)
    context = {**shared, **call.get("context", {})}
    _check_network(
        row, context.pop("ip") if _is_address(context.get("ip")) else CLIENT_ADDRESS, raw_ip=raw_ip
    )
    if isinstance(context.get("userAgent"), str):
        del context["userAgent"]
    assert _same(origin.get("context", {}), context), (origin.get("context"), context)
    assert _same(origin.get("integrations"), call.get("integrations")), origin
    assert _same(origin.get("extra", {}), {k: v for k, v in call.items() if k not in PLACED}), origin
    for member, name in (("userId", "user_id"), ("anonymousId", "anonymous_id")):
        sent = str(call[member]) if member in call else ""
        assert row["user"].get(name) == (sent.strip() or None), (name, row["user"])
    properties = call.get("properties", {})
    if kind == "track" and call["event"] in MAPPING.events:
        target = MAPPING.events[call["event"]]
        assert origin["event"] == call["event"]
        kept = {
            prop: data[data_field] for prop, data_field in target.properties.items() if data_field in data
        }
        assert _same({**origin.get("properties", {}), **kept}, properties), (data, properties)
    elif kind == "track":
        assert data["event"] == call["event"]
        assert _same(data["properties"], properties), (data["properties"], properties)
    elif kind in ("page", "screen"):
        assert _same(data["properties"], properties)
        assert [data.get(member) for member in ("name", "category")] == [
            call.get("name"),
            call.get("category"),
        ]
    elif kind in ("identify", "group"):
        assert _same(data["traits"], call["traits"])
    if kind == "group":
        assert data["group_id"] == str(call["groupId"])
    if kind == "alias":
        assert data["previous_id"] == str(call["previousId"])


def check_lake(run: Run, request: OddRequest, *, raw_ip: bool = False) -> None:
    """Each accepted event's lake row holds what was sent, but for the documented standardisation;
    ``raw_ip``: the stack keeps raw addresses (StoreRawIp), else only their networks."""
    for event_id, sent in run.accepted.items():
        if request.path == "/v1/events":
            _check_native(run.rows[event_id], sent, raw_ip=raw_ip)
        else:
            _check_call(run.rows[event_id], sent, request.shared_context, raw_ip=raw_ip)


# Native and Segment requests, either.
ANY_REQUESTS = st.one_of(native_requests(), segment_requests())


def holds_for(
    requests: st.SearchStrategy[OddRequest],
    count: int,
    run_one: Callable[[OddRequest], Run],
    *,
    raw_ip: bool = False,
    and_then: Callable[[], None] = lambda: None,
) -> None:
    """The property over ``count`` drawn ``requests``: each is run by ``run_one`` (``send`` or
    ``send_through_dlq`` on a cloud, which check where every accepted event went), then its accepted
    events' lake lines are held to what was sent (``check_lake``), then ``and_then`` checks what a
    test adds. At least ``count`` events must be accepted in all: the property is about them.

    Each test draws a fixed sample, seeded by its pytest id: a CI failure is then a defect, never
    the luck of a small draw; ``LAKE_PROPERTY_SCALE`` draws more of the same sequence."""
    accepted = 0
    test_id = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]

    @seed(zlib.crc32(test_id.encode()))
    @settings(LAKE_PROFILE, max_examples=count)
    @given(requests)
    def check(request: OddRequest) -> None:
        nonlocal accepted
        run = run_one(request)
        check_lake(run, request, raw_ip=raw_ip)
        and_then()
        accepted += len(run.accepted)

    check()
    assert accepted >= count, accepted
