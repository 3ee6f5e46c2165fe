"""Hypothesis strategies for whole ingest requests: good events, bad neighbours, headers, encodings.

Good events are built from the registry's own examples (every event type and version), with a
fresh UUID in any letter case and times in every RFC 3339 form, inside the validator's limits.
Bad neighbours are arbitrary JSON, or a good event with one field replaced by arbitrary JSON or
by a boundary value of the format the schemas use there.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz.harness import SETTINGS, SOURCE_ID, WRITE_KEY, basic
from tests.http_events import http_api_event
from validator import dependencies

# Fixed examples per test (a tier's total is the sum), no example database in the working tree, no
# per-example deadline (the shared CI machine is slow at times; speed is not what is tested).
FUZZ = "fuzz"
settings.register_profile(
    FUZZ,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

REGISTRY = dependencies.schema_registry()
DATA_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (event_type, version, example)
    for event_type, versions in sorted(REGISTRY.event_types.items())
    for version in sorted(versions)
    for example in REGISTRY.data_schema(event_type, version)["examples"]
]
CONTEXTS: list[dict[str, Any]] = [
    example["context"] for example in REGISTRY.contract("envelope", "1-0-0")["examples"]
]

URI_FIELDS: dict[tuple[str, str], list[str]] = {
    (event_type, version): [
        name
        for name, member in REGISTRY.data_schema(event_type, version)["properties"].items()
        if member.get("format") == "uri"
    ]
    for event_type, versions in REGISTRY.event_types.items()
    for version in versions
}
# RFC 3986 absolute URIs, built from their grammar (hypothesis.provisional.urls() is far slower).
_PCHARS = st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@", max_size=12) | st.sampled_from(
    ["%20", "%C3%BC", "%2F"]
)
_HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
)
URLS = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS", "ftp", "git+ssh"]),
    _HOSTS,
    st.sampled_from(["", ":0", ":443", ":65535"]),
    st.lists(_PCHARS, max_size=4).map(lambda parts: "".join(f"/{part}" for part in parts)),
    st.sampled_from(["", "?", "?q=rain+jacket&page=2", "#frag", "?a=/b?c#d"]),
)

# Inside the default limits (1 h ahead, 7 days old) with a margin for the time the test takes.
GOOD_AGE = st.timedeltas(min_value=timedelta(minutes=-55), max_value=timedelta(days=6, hours=22))
CLIENT_SKEW = st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650))

# --- boundary values, per format the schemas use ---------------------------------------------------

DATE_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:60Z",
    "9999-12-31T23:59:59-14:00",
    "2016-12-31T23:59:60Z",
    "2026-11-26T12:59:60Z",
    "2026-11-26t12:00:00z",
    "2026-11-26T12:00:00.123456789012345Z",
    "2026-11-26T12:00:00+24:00",
    "2026-11-26T12:00:00+23:59",
    "2026-11-26T12:00:00-00:00",
    "2026-11-26 12:00:00Z",
    "2026-11-26T12:00:00",
    "20261126T120000Z",
    "2026-02-29T12:00:00Z",
    "2024-02-29T12:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-26T12:00Z",
    "\uff12\uff10\uff12\uff16-11-26T12:00:00Z"  # full-width digits,
    "",
]
UUIDS = [
    "00000000-0000-0000-0000-000000000000",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "{3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c}",
    "3f1c9b2e8a4d4c7e9b1a2d5e6f7a8b9c",
    "3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9",
    "3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9g",
    "3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c\n",
    "\u0663f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c",
]
URIS = [
    "",
    "relative/path",
    "http://",
    "https://例え.jp/パス?q=ü",
    "javascript:alert(1)",
    "http://[::1]:80/",
    "http://exa mple.com/",
    "https://shop.example.com/" + "a" * 2030,
    "https://shop.example.com/" + "a" * 2040,
]
IPS = [
    "256.0.0.1",
    "0.0.0.0",  # noqa: S104 - a value to validate, nothing binds
    "::",
    "::ffff:1.2.3.4",
    "1.2.3",
    "fe80::1%eth0",
    "2001:db8::1::1",
]
SCHEMAVERS = ["1-0-0", "1-1-0", "01-0-0", "1-0-0\n", "\u0661-0-0", "0-0-0", "1-0", "99999999999999999999-0-0"]
NUMBERS = [0, -0.0, 1.5, 2**31, 2**53, 2**53 + 1, 2**63, 2**64, 10**30, -(10**30), 1e308, 5e-324, True]
STRINGS = ["", "\x00", "\ud7ff\ue000", "😀" * 40, "a" * 70, "x" * 40_000]
BOUNDARY_VALUES = DATE_TIMES + UUIDS + URIS + IPS + SCHEMAVERS + NUMBERS + STRINGS


# --- arbitrary JSON -----------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(BOUNDARY_VALUES),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)


def dump_json(value: Any, *, ensure_ascii: bool = False) -> bytes:
    """Any JSON value as text; the standard library writes integers of any size, as a client may."""
    return json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=False).encode()


# --- good events -------------------------------------------------------------------------------------


def rfc3339(moment: datetime, offset_minutes: int, fraction_digits: int, lower: bool) -> str:
    """``moment`` written in one of RFC 3339's forms (offset, fraction length, letter case)."""
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction_digits:
        text += "." + f"{local.microsecond:06d}{'0' * 12}"[:fraction_digits]
    if offset_minutes == 0:
        text += "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        text += f"{sign}{hours:02d}:{minutes:02d}"
    return text.lower() if lower else text


@st.composite
def timestamps(draw: st.DrawFn, moment: datetime) -> str:
    return rfc3339(
        moment,
        offset_minutes=draw(st.integers(min_value=-12 * 60, max_value=14 * 60)),
        fraction_digits=draw(st.integers(min_value=0, max_value=12)),
        lower=draw(st.booleans()),
    )


@st.composite
def event_ids(draw: st.DrawFn) -> str:
    text = str(draw(st.uuids()))
    case: Callable[[str], str] = draw(st.sampled_from([str.lower, str.upper, _mixed_case]))
    return case(text)


def _mixed_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c for i, c in enumerate(text))


@st.composite
def good_events(draw: st.DrawFn, now: datetime, batch_sent: datetime | None = None) -> dict[str, Any]:
    """A valid event whose derived time falls inside the limits; ``batch_sent`` is the client's
    clock when the batch carries a ``sent_at``."""
    event_type, version, data = draw(st.sampled_from(DATA_EXAMPLES))
    gap = draw(GOOD_AGE)  # sent_at - occurred_at on the client's clock: how old it is at sending
    event: dict[str, Any] = {
        "event_id": draw(event_ids()),
        "event_type": event_type,
        "schema_version": version,
        "source": SOURCE_ID,
        "data": data,
    }
    if draw(st.booleans()):  # a sent_at of its own, which wins over the batch's
        client_sent = now + draw(CLIENT_SKEW)
        event["sent_at"] = draw(timestamps(client_sent))
        occurred = client_sent - gap
    elif batch_sent is not None:
        occurred = batch_sent - gap
    else:
        occurred = now - gap
    event["occurred_at"] = draw(timestamps(occurred))
    if draw(st.booleans()):
        event["context"] = draw(st.sampled_from(CONTEXTS))
    if draw(st.integers(min_value=0, max_value=3)) == 0:  # one event in four: drawing URLs is slow
        _with_drawn_formats(draw, event)
    return event


def _with_drawn_formats(draw: st.DrawFn, event: dict[str, Any]) -> None:
    """Replace the example's `uri` and `ip` values by others the formats allow: what the schema
    accepts, the validator must accept too."""
    data = dict(event["data"])
    for name in URI_FIELDS[event["event_type"], event["schema_version"]]:
        data[name] = draw(URLS)
    event["data"] = data
    context = dict(event.get("context") or {})
    context["ip"] = str(draw(st.ip_addresses()))
    context["page"] = {**context.get("page", {}), "url": draw(URLS), "referrer": draw(URLS)}
    event["context"] = context


# --- bad neighbours ----------------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _replace(value: Any, path: tuple[Any, ...], new: Any, *, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if rest:
        copy[head] = _replace(value[head], rest, new, delete=delete)
    elif delete:
        del copy[head]
    else:
        copy[head] = new
    return copy


@st.composite
def mutated_events(draw: st.DrawFn, now: datetime) -> dict[str, Any]:
    """A good event with one member replaced (arbitrary JSON or a boundary value), removed or added."""
    event = draw(good_events(now))
    paths = _paths(event)
    how = draw(st.sampled_from(["json", "boundary", "delete", "add"]))
    if how == "add":
        objects = [()] + [path for path in paths if isinstance(_at(event, path), dict)]
        parent = draw(st.sampled_from(objects))
        added: dict[str, Any] = _replace(
            event, (*parent, draw(st.text(max_size=8))), draw(JSON_VALUES), delete=False
        )
        return added
    path = draw(st.sampled_from(paths))
    new = draw(JSON_VALUES) if how == "json" else draw(st.sampled_from(BOUNDARY_VALUES))
    mutated: dict[str, Any] = _replace(event, path, new, delete=how == "delete")
    return mutated


def bad_neighbours(now: datetime) -> st.SearchStrategy[Any]:
    return st.one_of(JSON_VALUES, mutated_events(now))


# --- whole requests ----------------------------------------------------------------------------------


@dataclass
class Request:
    """An HTTP API event, and what the oracle needs: should the events be judged, which are good."""

    event: dict[str, Any]
    judged: bool
    events: list[Any] = field(default_factory=list)
    good: dict[int, str] = field(default_factory=dict)  # index -> expected event_id (lower case)


GOOD_AUTH = [{"authorization": basic(WRITE_KEY)}, {"x-api-key": WRITE_KEY}]
BAD_AUTH = [
    {},
    {"authorization": basic("web-shop.wrong")},
    {"authorization": basic("other-source.secret")},
    {"authorization": "Bearer " + WRITE_KEY},
    {"authorization": "Basic"},
    {"authorization": "Basic !!!"},
    {"authorization": "Basic d2Vi\u00e9"},
    {"authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
    {"authorization": basic(WRITE_KEY) + ", " + basic(WRITE_KEY)},
    {"x-api-key": f"{WRITE_KEY},{WRITE_KEY}"},
    {"x-api-key": "web-shop.s\u00e9cret"},
    {"x-api-key": "."},
]
GOOD_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/json;",
    "application/json, application/json",  # sent twice, as API Gateway joins them
]
BAD_CONTENT_TYPES = [None, "text/plain", "application/json, text/html", "application/x-ndjson", ""]
GOOD_ENCODINGS = [None, "identity", "gzip", " GZIP ", "x-gzip", "gzip, identity"]
BAD_ENCODINGS = ["br", "gzip, gzip", "deflate", "gzip;q=1", "gzip, br"]


def _header_case(headers: dict[str, str], draw: st.DrawFn) -> dict[str, str]:
    """API Gateway sends lower-case names; a direct invocation may use any case."""
    cases: list[Callable[[str], str]] = [str.lower, str.title, str.upper]
    return {draw(st.sampled_from(cases))(name): value for name, value in headers.items()}


@st.composite
def documents(draw: st.DrawFn, now: datetime) -> tuple[Any, list[Any], dict[int, str]]:
    """A batch (good events and bad neighbours, maybe a sent_at) or a single event, with the events
    the validator must judge (none when the body is not an event or a batch) and the good ones."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        if draw(st.booleans()):
            event = draw(good_events(now))
            return event, [event], {0: event["event_id"].lower()}
        single = draw(bad_neighbours(now))
        judged = isinstance(single, dict) and "events" not in single
        return single, [single] if judged else [], {}
    batch_sent = now + draw(CLIENT_SKEW) if draw(st.booleans()) else None
    goods = draw(
        st.lists(good_events(now, batch_sent), max_size=5, unique_by=lambda e: e["event_id"].lower())
    )
    bads = draw(st.lists(bad_neighbours(now), max_size=4))
    events: list[Any] = [*goods, *bads]
    if not events:
        events = [draw(JSON_VALUES)]
    order = draw(st.permutations(range(len(events))))
    events = [events[i] for i in order]
    # A neighbour may copy a good event's id only by chance; then first-wins decides, so drop it.
    bad_ids = {
        e["event_id"].lower() for e in bads if isinstance(e, dict) and isinstance(e.get("event_id"), str)
    }
    good = {
        index: event["event_id"].lower()
        for index, event in enumerate(events)
        if any(event is g for g in goods) and event["event_id"].lower() not in bad_ids
    }
    document: dict[str, Any] = {"events": events}
    if batch_sent is not None:
        document["sent_at"] = draw(timestamps(batch_sent))
    return document, events, good


RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'{"events": []}',
            b'{"events": {}}',
            b'{"events": [1], "sent_at": "yesterday"}',
            b'{"events": [NaN]}',
            b'{"events": [Infinity, -Infinity]}',
            b'{"events": [1e400]}',
            b"[" * 2000 + b"]" * 2000,
            b'{"events": ' + b"[" * 1100 + b"]" * 1100 + b"}",
            b'{"events": [' + b",".join([b"{}"] * 501) + b"]}",
            b'{"a": "\\ud800"}',
            b"\xef\xbb\xbf{}",
            b'{"events": [{}]}\x00',
        ]
    ),
)


@st.composite
def requests(draw: st.DrawFn, now: datetime) -> Request:
    """A whole request: write key, media type, encoding, base64 flag and body, each good or bad."""
    auth_ok = draw(st.booleans()) or draw(st.booleans())
    auth = draw(st.sampled_from(GOOD_AUTH if auth_ok else BAD_AUTH))
    type_ok = draw(st.integers(min_value=0, max_value=7)) > 0
    content_type = draw(st.sampled_from(GOOD_CONTENT_TYPES if type_ok else BAD_CONTENT_TYPES))
    encoding_ok = draw(st.integers(min_value=0, max_value=7)) > 0
    encoding = draw(st.sampled_from(GOOD_ENCODINGS if encoding_ok else BAD_ENCODINGS))

    events: list[Any] = []
    good: dict[int, str] = {}
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        body = draw(RAW_BODIES)
    else:
        document, events, good = draw(documents(now))
        body = dump_json(document, ensure_ascii=draw(st.booleans()))
    body_ok = bool(events) and len(body) <= SETTINGS.max_body_bytes
    gzipped = encoding is not None and "gzip" in encoding.lower()
    if gzipped:
        compressed = gzip.compress(body, compresslevel=1)
        damage = draw(st.sampled_from(["none", "none", "none", "truncate", "garbage"]))
        if damage == "truncate":
            compressed = compressed[: draw(st.integers(min_value=0, max_value=len(compressed) - 1))]
            body_ok = False
        elif damage == "garbage":
            compressed = b"\x1f\x8b" + draw(st.binary(max_size=32))
            body_ok = False
        body = compressed
    headers = {**auth, "content-encoding": encoding} if encoding is not None else dict(auth)
    if content_type is not None:
        headers["content-type"] = content_type
    event = http_api_event(None, content_type=None, headers=_header_case(headers, draw))
    base64_flag = gzipped or draw(st.booleans())
    try:
        text = body.decode()
    except UnicodeDecodeError:
        base64_flag = True
    event["isBase64Encoded"] = base64_flag
    event["body"] = base64.b64encode(body).decode() if base64_flag else text
    judged = auth_ok and type_ok and encoding_ok and body_ok
    return Request(event, judged, events, good)
