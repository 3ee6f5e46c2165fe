"""Generated requests against the validator handler: never a 5xx, answers as docs/openapi.yaml
documents them, a verdict for every event, every good event accepted whatever its neighbours, and
nothing invalid forwarded.

Each test runs a fixed number of generated requests and checks that they all ran; together they
are the tier's >= 10,000 requests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec
from signal_platform.timeutil import format_rfc3339, parse_rfc3339
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


# --- the batch's sent_at judged as an event's --------------------------------------------------------

SENT_AT_PAIRS = 400


@st.composite
def date_time_texts(draw: st.DrawFn) -> str:
    """Text in RFC 3339's shape, any field in or out of its range; leap seconds (second 60) at any
    minute, in any offset; or a boundary value of the format."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(st.sampled_from(strategies.DATE_TIMES))
    year = draw(st.sampled_from([1, 2016, 2026, 9999]) | st.integers(min_value=0, max_value=9999))
    month = draw(st.sampled_from([6, 12]) | st.integers(min_value=0, max_value=13))
    day = draw(st.sampled_from([30, 31]) | st.integers(min_value=0, max_value=32))
    hour = draw(st.sampled_from([22, 23, 0]) | st.integers(min_value=0, max_value=24))
    minute = draw(st.sampled_from([59, 29]) | st.integers(min_value=0, max_value=60))
    second = draw(st.sampled_from([60, 59, 0, 61]))
    fraction = draw(st.sampled_from(["", ".5", ".123456789012"]))
    offset = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+00:30", "+23:59"]))
    separator = draw(st.sampled_from(["T", "T", "t", " "]))
    return (
        f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"
    )


def _occurred_near(sent_at: str) -> str:
    """An occurred_at 5 minutes before ``sent_at`` on the client's clock (after it, near year 1), or
    before now when ``sent_at`` is no time: an event whose age is within the limits either way."""
    try:
        sent = parse_rfc3339(sent_at).astimezone(UTC)
    except (ValueError, OverflowError):
        sent = NOW
    gap = timedelta(minutes=5)
    return format_rfc3339(sent - gap if sent.year > 1 else sent + gap)


def _judged(harness: Harness, path: str, document: dict[str, Any]) -> tuple[int, Any, list[timedelta]]:
    """Status, answer, and the age (received_at - derived_at) of each event forwarded."""
    event = http_api_event(codec.dumps(document), write_key=WRITE_KEY)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    status, _, body = harness.invoke(event)
    ages = [parse_rfc3339(body["received_at"]) - parse_rfc3339(s.derived_at) for s in harness.forwarded()]
    return status, body, ages


def test_batch_sent_at_judged_by_the_rule_of_an_event_sent_at(harness: Harness) -> None:
    # GIVEN text in RFC 3339's shape (a second 60 at any minute and offset, fields out of range)
    start = harness.requests

    @settings(settings.get_profile("fuzz"), max_examples=SENT_AT_PAIRS)
    @given(date_time_texts(), strategies.good_events(NOW))
    def check(sent_at: str, good: dict[str, Any]) -> None:
        good = {key: value for key, value in good.items() if key not in ("sent_at", "context")}
        good["occurred_at"] = _occurred_near(sent_at)
        call = {"type": "track", "event": "Checked", "messageId": good["event_id"], "anonymousId": "a-1"}
        call["timestamp"] = good["occurred_at"]
        for path, own, shared in (
            (
                "/v1/events",
                {"events": [{**good, "sent_at": sent_at}]},
                {"events": [good], "sent_at": sent_at},
            ),
            ("/v1/batch", {"batch": [{**call, "sentAt": sent_at}]}, {"batch": [call], "sentAt": sent_at}),
        ):
            # WHEN it is an event's own sent_at, and then the batch's
            _, own_body, own_ages = _judged(harness, path, own)
            shared_status, shared_body, shared_ages = _judged(harness, path, shared)
            # THEN a batch refused for it (400, with the reason) is an event rejected for it; else
            # the event has the same verdict both ways, and if accepted the same clock correction
            [own_result] = own_body["results"]
            if "results" not in shared_body:  # refused as a whole
                assert shared_status == 400, shared_body
                message = (
                    shared_body["error"]["message"] if "error" in shared_body else shared_body["message"]
                )
                assert '"sent_at"' in message or '"sentAt"' in message, message
                assert own_result["verdict"] == "rejected", (sent_at, own_result)
                assert [error["path"] for error in own_result["errors"]] == ["$.sent_at"], own_result
            else:
                assert shared_body["results"] == [own_result], (sent_at, own_body, shared_body)
                # (each time is written to the millisecond: the ages may differ by one)
                pairs = zip(shared_ages, own_ages, strict=True)
                assert all(abs(a - b) <= timedelta(milliseconds=1) for a, b in pairs), (shared_ages, own_ages)

    check()
    assert harness.requests - start >= 4 * SENT_AT_PAIRS
