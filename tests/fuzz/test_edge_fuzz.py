"""Generated hostile requests against the validator handler, behind either front door: values nested
to any depth, and floods of wrong values, anywhere in a good event or Segment call; odd text (lone
surrogates, control characters, very long values) in any header, the address, path, method or query
string. Never a 5xx; a body nested past the limit refused as a whole; an answer whose size follows
the request's, not the number of mistakes in it; an odd field the validator only records costs no
event; whatever is accepted forwarded once, in a batch the next hop can re-encode and verify."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec
from signal_platform.schema_registry import MAX_LISTED_ERRORS
from tests.fuzz import strategies
from tests.fuzz.harness import ORIGIN, WRITE_KEY, Harness, basic, nesting
from tests.fuzz.strategies import JSON_SCALARS, _paths, _replace, dump_json
from tests.http_events import as_load_balancer_event, http_api_event, with_multi_value_headers
from validator import api, dependencies
from validator.body import MAX_NESTING
from validator.handler import lambda_handler
from validator.segment import MAX_USER_AGENT_CHARS

DEEP_REQUESTS = 600
FLOOD_REQUESTS = 300
NOW = datetime.now(UTC)
SEGMENT_CALL = {"type": "track", "event": "Fuzzed", "messageId": "m-1", "anonymousId": "a-1"}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture(autouse=True)
def _both_doors_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "front_door", lambda: "Both")


# Body depths where something changed hands: the limit, orjson's write limit less the hops' wrappers,
# orjson's own write limit, jsonschema-rs's error-listing limit.
DEPTHS = [MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 200, *range(249, 259), 300]


@st.composite
def deep_values(draw: st.DrawFn, levels: int) -> Any:
    """A scalar under ``levels`` arrays and objects, in any order."""
    value = draw(JSON_SCALARS)
    pattern = draw(st.integers(min_value=0, max_value=2**16))
    for level in range(levels):
        value = {"k": value} if pattern >> (level % 16) & 1 else [value]
    return value


@st.composite
def floods(draw: st.DrawFn) -> Any:
    """Many wrong values at once: a long array, or an object with many members."""
    count = draw(st.integers(min_value=MAX_LISTED_ERRORS - 2, max_value=5_000))
    item = draw(JSON_SCALARS)
    if draw(st.booleans()):
        return [item] * count
    return {f"k{index}": item for index in range(count)}


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Any]:
    """A route and a good body for it: an event (native, alone or in a batch) or a Segment call."""
    if draw(st.booleans()):
        event = draw(strategies.good_events(NOW))
        return "/v1/events", {"events": [event]} if draw(st.booleans()) else event
    path = draw(st.sampled_from(["/v1/track", "/v1/batch"]))
    call = {**SEGMENT_CALL, "properties": draw(strategies.JSON_VALUES.filter(lambda v: isinstance(v, dict)))}
    return path, {"batch": [call]} if path == "/v1/batch" else call


@st.composite
def deep_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A good body with one member replaced by a value that brings the body to a drawn depth."""
    path, document = draw(documents())
    spot = draw(st.sampled_from(_paths(document)))
    depth = draw(st.sampled_from(DEPTHS) | st.integers(min_value=len(spot) + 1, max_value=300))
    value = draw(deep_values(max(1, depth - len(spot) - 1)))
    return path, dump_json(_replace(document, spot, value, delete=False))


@st.composite
def flooded_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A good body with one member replaced by thousands of values. Not ``event_type`` or
    ``schema_version``: the judge's reasons for those quote the value's repr whole, up to five times
    its size in the request (a character "\x7f" is answered as "\\x7f")."""
    path, document = draw(documents())
    spots = [spot for spot in _paths(document) if spot[-1] not in ("event_type", "schema_version")]
    spot = draw(st.sampled_from(spots))
    return path, dump_json(_replace(document, spot, draw(floods()), delete=False))


def _invoke(harness: Harness, path: str, body: bytes, *, compress: bool, balanced: bool) -> tuple[int, Any]:
    event = http_api_event(body, write_key=WRITE_KEY, gzip_body=compress)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    status, _, answer = harness.invoke(as_load_balancer_event(event) if balanced else event)
    return status, answer


def _check(harness: Harness, path: str, status: int, answer: Any) -> list[dict[str, Any]]:
    """Never a 5xx; per-event answers count what they list; every accepted event forwarded once,
    its batch verified as the next hop verifies it (``Harness.forwarded``)."""
    assert status < 500, (status, answer)
    results: list[dict[str, Any]] = answer.get("results", [])
    accepted = [result["event_id"] for result in results if result["verdict"] == "accepted"]
    assert sorted(signal.event["event_id"] for signal in harness.forwarded()) == sorted(accepted)
    if results:
        assert answer["counts"]["received"] == len(results)
        assert answer["counts"]["accepted"] == len(accepted)
    if path in api.SEGMENT_ROUTES and status == 400:
        assert answer["code"] in ("malformed_request", "payload_too_large"), answer
    return results


def test_values_nested_anywhere_answered_without_a_5xx(harness: Harness) -> None:
    # GIVEN a good event or call with one member replaced by a value nested 1 to 300 levels
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=DEEP_REQUESTS)
    @given(deep_bodies(), st.booleans(), st.booleans())
    def check(request: tuple[str, bytes], compress: bool, balanced: bool) -> None:
        path, body = request
        # WHEN the handler answers
        status, answer = _invoke(harness, path, body, compress=compress, balanced=balanced)
        # THEN past the limit the body is refused as a whole, within it the events are judged
        _check(harness, path, status, answer)
        if nesting(codec.loads(body)) > MAX_NESTING:
            assert status == 400, answer
            assert harness.forwarded() == []

    check()
    assert harness.requests - start >= DEEP_REQUESTS


def test_floods_of_wrong_values_answered_briefly(harness: Harness) -> None:
    # GIVEN a good event or call with one member replaced by thousands of values
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=FLOOD_REQUESTS)
    @given(flooded_bodies(), st.booleans(), st.booleans())
    def check(request: tuple[str, bytes], compress: bool, balanced: bool) -> None:
        path, body = request
        # WHEN the handler answers
        status, answer = _invoke(harness, path, body, compress=compress, balanced=balanced)
        # THEN at most the first errors and their count per event, in an answer no larger than the
        # request, a short verdict per event and a short answer (a message quotes a value at most
        # once, cut at 300 characters)
        results = _check(harness, path, status, answer)
        for result in results:
            assert len(result.get("errors", [])) <= MAX_LISTED_ERRORS
        assert len(codec.dumps(answer)) <= len(body) + 200 * len(results) + 4096, len(codec.dumps(answer))

    check()
    assert harness.requests - start >= FLOOD_REQUESTS


# --- odd text in the request's fields -----------------------------------------------------------------

ODD_REQUESTS = 600
# Text a JSON-decoded Lambda event can hold in any field: a lone surrogate ("\\udc80" in the event's
# JSON), NUL and other control characters, line and paragraph separators, a byte order mark,
# noncharacters, quotes and separators the headers' own syntax uses.
ODD_CHARACTERS = ["\udc80", "\ud800", "\x00", "\x1b", "\r\n", "\x7f", "\x85", "\u2028", "\ufeff", "\uffff"]
ODD_CHARACTERS += ["\U0010ffff", "é", '"', "\\", ",", ";", "=", " ", "%", "%ZZ", "?", "#", "/"]
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates included
_SURROGATE = re.compile("[\ud800-\udfff]")
ODD_TEXT = st.sampled_from(ODD_CHARACTERS) | st.text(ANY_CHARACTER, min_size=1, max_size=6)
LONG = 20_000  # past what API Gateway (10 KB of headers) and a load balancer (16 KB a header) pass on
# Fields whose odd value must cost no event: what the server sees of the client (User-Agent, address)
# and what the validator only logs or echoes (the trace id, the query string, a header it ignores).
HARMLESS = frozenset(
    {"user-agent", "x-forwarded-for", "source-ip", "x-amzn-trace-id", "query", "other-header"}
)
REFUSABLE = {"origin", "authorization", "x-api-key", "content-type", "content-encoding", "path", "method"}
FIELDS = sorted(HARMLESS | REFUSABLE)


@st.composite
def odd_values(draw: st.DrawFn, good: str) -> str:
    """``good`` with odd text inserted, replaced by it, or followed by it many times over."""
    odd = draw(ODD_TEXT)
    how = draw(st.sampled_from(["insert", "replace", "long"]))
    if how == "insert":
        at = draw(st.integers(min_value=0, max_value=len(good)))
        return good[:at] + odd + good[at:]
    if how == "replace":
        return odd
    return good + odd * draw(st.integers(min_value=1, max_value=LONG // len(odd)))


GOOD_VALUES = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    "origin": ORIGIN,
    "authorization": basic(WRITE_KEY),
    "x-api-key": WRITE_KEY,
    "content-type": "application/json",
    "content-encoding": "identity",
    "x-forwarded-for": "198.51.100.7",
    "source-ip": "203.0.113.10",
    "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
    "query": "a=1",
    "other-header": "x",
    "path": "/v1/events",
    "method": "POST",
}


@dataclass(frozen=True)
class OddRequest:
    path: str
    body: bytes
    door: str  # http-api, load-balancer, or load-balancer with multi-value headers
    odd: dict[str, str]  # field -> its odd value


@st.composite
def odd_requests(draw: st.DrawFn) -> OddRequest:
    """A good request (an event or Segment call without a context of its own, so the server's view
    fills it) with one or more of its fields made odd."""
    path, document = draw(documents())
    if path == "/v1/events":
        for event in document.get("events", [document]):
            event.pop("context", None)
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    odd = {name: draw(odd_values(path if name == "path" else GOOD_VALUES[name])) for name in fields}
    door = draw(st.sampled_from(["http-api", "load-balancer", "multi-value"]))
    return OddRequest(path, dump_json(document), door, odd)


HEADERS = ("user-agent", "origin", "authorization", "x-api-key", "content-type", "content-encoding")


def _odd_event(request: OddRequest) -> dict[str, Any]:
    """The request as its front door delivers it, its odd fields where that door carries them."""
    odd = request.odd
    headers = {"user-agent": GOOD_VALUES["user-agent"], "origin": ORIGIN}
    headers.update(
        {name: odd[name] for name in (*HEADERS, "x-forwarded-for", "x-amzn-trace-id") if name in odd}
    )
    if "other-header" in odd:
        headers[odd["other-header"][:40]] = odd["other-header"]
    event = http_api_event(request.body, write_key=WRITE_KEY, headers=headers)
    path = odd.get("path", request.path)
    http = event["requestContext"]["http"]
    event["rawPath"] = http["path"] = path
    http["sourceIp"] = odd.get("source-ip", GOOD_VALUES["source-ip"])
    http["method"] = odd.get("method", "POST")
    if "query" in odd:
        event["rawQueryString"] = odd["query"]
        event["queryStringParameters"] = {"q": odd["query"]}
    if request.door == "http-api":
        return event
    balanced = as_load_balancer_event(event)
    # A hand-built event's: the load balancer appends the address it saw to X-Forwarded-For, and
    # inserts a trace id of its own next to a client's Root.
    balanced["headers"].update(
        {name: odd[name] for name in ("x-forwarded-for", "x-amzn-trace-id") if name in odd}
    )
    balanced["path"] = path
    if "query" in odd:
        balanced["queryStringParameters"] = {"q": odd["query"]}
    return with_multi_value_headers(balanced) if request.door == "multi-value" else balanced


def test_odd_text_in_any_request_field_answered_without_a_5xx(harness: Harness) -> None:
    # GIVEN a good request with a lone surrogate, a control character or other odd text (or many of
    # them) in its headers, address, path or query string, through either front door
    start = harness.requests

    def answer(request: OddRequest) -> tuple[int, Any, str]:
        harness.bus.entries.clear()
        harness.requests += 1
        response = lambda_handler(_odd_event(request), harness.context)
        return response["statusCode"], codec.loads(response["body"]), response["body"]

    @settings(settings.get_profile("fuzz"), max_examples=ODD_REQUESTS)
    @given(odd_requests())
    def check(request: OddRequest) -> None:
        # (the same request with every field good: the generated bodies may hold what the judge
        # refuses anyway, an integer past int64 or a call over Segment's 32 KB)
        good_status, good, _ = answer(replace(request, odd={}))
        # WHEN the handler answers
        status, odd, text = answer(request)
        # THEN never a 5xx; a JSON answer that quotes at most a bounded part of what was sent; an
        # odd field the validator only records costs no event: the good request's verdicts
        results = _check(harness, request.path, status, odd)
        assert len(text) <= 4096 + 200 * len(results), text[:5000]
        if HARMLESS.issuperset(request.odd):
            assert status == good_status, (status, odd, good)
            assert [result["verdict"] for result in results] == [
                result["verdict"] for result in good.get("results", [])
            ], (odd, good)
            # the User-Agent kept, each lone surrogate in it replaced, within the envelope's bound
            sent = request.odd.get("user-agent", GOOD_VALUES["user-agent"])
            kept = _SURROGATE.sub("\ufffd", sent)[:MAX_USER_AGENT_CHARS] or None
            forwarded = harness.forwarded()
            assert [signal.event["context"].get("user_agent") for signal in forwarded] == [kept] * len(
                forwarded
            )

    check()
    assert harness.requests - start >= ODD_REQUESTS
