"""Generated requests against the validator handler: never a 5xx, answers as docs/openapi.yaml
documents them, a verdict for every event, every good event accepted whatever its neighbours, and
nothing invalid forwarded.

Each test runs a fixed number of generated requests and checks that they all ran; together they
are the tier's >= 10,000 requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies
from tests.fuzz.harness import SOURCE_ID, WRITE_KEY, Harness, basic, within_limits
from tests.fuzz.strategies import REGISTRY, Request
from tests.http_events import http_api_event
from tests.openapi_spec import response_problems

# Every status the function may answer (docs/openapi.yaml); none of them a 5xx, since the fake bus
# and sources table never fail.
REQUEST_STATUSES = frozenset({200, 207, 400, 401, 403, 404, 405, 413, 415})
WHOLE_REQUESTS = 3_000
MIXED_BATCHES = 2_500
SINGLE_MUTATIONS = 4_600
NOW = datetime.now(UTC)
# The fixture turns the handler's EMF output off; Powertools then warns at each flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def _check_answer(
    harness: Harness, request: Request, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    """The oracle shared by every test."""
    assert status in REQUEST_STATUSES, (status, body)
    # The answer is the one docs/openapi.yaml documents: status, body schema, headers.
    assert not response_problems(status, headers or {}, body), (status, headers, body)
    results: list[dict[str, Any]] = body.get("results", []) if isinstance(body, dict) else []
    if request.judged:
        # A verdict for every event, in order; every good event accepted under its lower-case id.
        assert status in (200, 207, 400), (status, body)
        assert [result["index"] for result in results] == list(range(len(request.events)))
        for index, event_id in request.good.items():
            assert results[index] == {"index": index, "event_id": event_id, "verdict": "accepted"}, (
                index,
                request.events[index],
                results[index],
            )
    else:
        assert 400 <= status < 500, (status, body)
    if results:
        counts = body["counts"]
        assert counts["accepted"] + counts["rejected"] == counts["received"] == len(results)
    # Nothing invalid forwarded: exactly the accepted events, each valid, once, within the limits.
    accepted = [result["event_id"] for result in results if result["verdict"] == "accepted"]
    forwarded = harness.forwarded()
    assert sorted(signal.event["event_id"] for signal in forwarded) == sorted(accepted)
    assert len(set(accepted)) == len(accepted)
    for signal in forwarded:
        event = signal.event
        assert event["event_id"] == event["event_id"].lower()
        assert event["source"] == SOURCE_ID
        assert REGISTRY.has_version(event["event_type"], event["schema_version"])
        assert REGISTRY.is_valid(event), REGISTRY.errors(event)
        assert within_limits(signal.derived_at, body["received_at"]), (signal.derived_at, body["received_at"])


def test_any_request_answered_with_a_4xx_or_verdicts(harness: Harness) -> None:
    # GIVEN whole requests: write keys, media types, encodings, base64 flags, header case and bodies,
    # each drawn good or bad
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=WHOLE_REQUESTS)
    @given(strategies.requests(NOW))
    def check(request: Request) -> None:
        # WHEN the handler answers each
        status, headers, body = harness.invoke(request.event)
        # THEN the oracle holds
        _check_answer(harness, request, status, body, headers)

    check()
    assert harness.requests - start >= WHOLE_REQUESTS


def test_good_events_accepted_among_arbitrary_neighbours(harness: Harness) -> None:
    # GIVEN well-formed requests whose batches mix good events with arbitrary JSON and broken events
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=MIXED_BATCHES)
    @given(strategies.documents(NOW), st.sampled_from([basic(WRITE_KEY), None]))
    def check(document: tuple[Any, list[Any], dict[int, str]], authorization: str | None) -> None:
        value, events, good = document
        headers = {"authorization": authorization} if authorization else {"x-api-key": WRITE_KEY}
        event = http_api_event(strategies.dump_json(value), headers=headers)
        # WHEN the handler answers
        status, headers, body = harness.invoke(event)
        # THEN every event has a verdict, the good ones accepted, only valid ones forwarded
        judged = Request(event, judged=bool(events), events=events, good=good)
        _check_answer(harness, judged, status, body, headers)

    check()
    assert harness.requests - start >= MIXED_BATCHES


def test_event_with_one_field_replaced_rejected_or_valid_next_to_a_good_one(harness: Harness) -> None:
    # GIVEN a good event and one whose field is arbitrary JSON, a boundary value, missing or extra
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=SINGLE_MUTATIONS)
    @given(strategies.good_events(NOW), strategies.mutated_events(NOW), st.booleans())
    def check(good: dict[str, Any], mutated: dict[str, Any], good_first: bool) -> None:
        events = [good, mutated] if good_first else [mutated, good]
        good_index = 0 if good_first else 1
        mutated_id = mutated.get("event_id")
        shares_id = isinstance(mutated_id, str) and mutated_id.lower() == good["event_id"].lower()
        event = http_api_event(strategies.dump_json({"events": events}), write_key=WRITE_KEY)
        # WHEN the handler answers
        status, headers, body = harness.invoke(event)
        # THEN the good one is accepted, the other has a verdict, and only valid events are forwarded
        expected_good = {} if shares_id else {good_index: good["event_id"].lower()}
        request = Request(event, judged=True, events=events, good=expected_good)
        _check_answer(harness, request, status, body, headers)

    check()
    assert harness.requests - start >= SINGLE_MUTATIONS
