"""Generated hostile bodies against the validator handler, behind either front door: values nested
to any depth, and floods of wrong values, anywhere in a good event or Segment call. Never a 5xx;
a body nested past the limit refused as a whole; an answer whose size follows the request's, not
the number of mistakes in it; whatever is accepted forwarded once, in a batch the next hop can
re-encode and verify."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec
from signal_platform.schema_registry import MAX_LISTED_ERRORS
from tests.fuzz import strategies
from tests.fuzz.harness import WRITE_KEY, Harness, nesting
from tests.fuzz.strategies import JSON_SCALARS, _paths, _replace, dump_json
from tests.http_events import as_load_balancer_event, http_api_event
from validator import api, dependencies
from validator.body import MAX_NESTING

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
