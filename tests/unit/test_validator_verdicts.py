"""Per-event verdicts: every rejection reason, the skew correction and the first-wins duplicate rule."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrichment.standardise import network_fields
from signal_platform import codec
from signal_platform.schema_registry import MAX_MESSAGE_CHARS, SchemaRegistry
from signal_platform.signal_batches import EncodedSignal
from signal_platform.timeutil import format_rfc3339, parse_rfc3339
from tests.http_events import page_view
from validator.event_time import derived_time
from validator.verdicts import EventJudge, Limits

RECEIVED = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
LIMITS = Limits(max_event_bytes=1536, max_future_skew=timedelta(hours=1), max_event_age=timedelta(days=7))


@pytest.fixture(scope="module")
def judge() -> EventJudge:
    return EventJudge(SchemaRegistry(), LIMITS)


def _judge_one(judge: EventJudge, event: Any, batch_sent_at: str | None = None) -> dict[str, Any]:
    """The result of ``event`` judged alone (a copy: the judge writes into the events it accepts)."""
    judgement = judge.judge(
        [copy.deepcopy(event)], source_id="web-shop", received_at=RECEIVED, batch_sent_at=batch_sent_at
    )
    return dict(judgement.results[0])


def _at(delta: timedelta) -> str:
    return (RECEIVED + delta).isoformat().replace("+00:00", "Z")


def test_judge_valid_event_accepted_and_encoded_once() -> None:
    # GIVEN a valid page_view from the authenticated source
    event = page_view(occurred=RECEIVED - timedelta(seconds=3))
    sent = copy.deepcopy(event)
    judge = EventJudge(SchemaRegistry(), LIMITS)
    # WHEN it is judged
    judgement = judge.judge([event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN it is accepted and its signal is the event plus derived_at, its IP address as the /24
    # network, canonically serialised
    assert judgement.results[0] == {
        "index": 0,
        "event_id": sent["event_id"],
        "verdict": "accepted",
    }
    (signal,) = judgement.signals
    assert type(signal) is EncodedSignal
    assert sent["context"]["ip"] == "198.51.100.23"
    expected = {**sent, "context": {**sent["context"], "ip": "198.51.100.0"}}
    assert codec.loads(signal.body) == {**expected, "derived_at": "2026-11-26T11:59:57.000Z"}
    assert signal.body == codec.canonical(codec.loads(signal.body))


@pytest.mark.parametrize(
    ("ip", "signed"),
    [
        ("198.51.100.23", "198.51.100.0"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::"),
        ("::ffff:198.51.100.7", "198.51.100.0"),
    ],
)
def test_judge_signs_the_ip_as_its_network_unless_raw_addresses_are_stored(ip: str, signed: str) -> None:
    # GIVEN an event with a client IP address, judged with and without StoreRawIp
    event = page_view(occurred=RECEIVED - timedelta(seconds=3))
    event["context"]["ip"] = ip
    raw_judge = EventJudge(SchemaRegistry(), dataclasses.replace(LIMITS, store_raw_ip=True))
    # WHEN each judges it (each its own parse of the request: the judge writes into the events)
    (truncated,) = (
        EventJudge(SchemaRegistry(), LIMITS)
        .judge([copy.deepcopy(event)], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
        .signals
    )
    (raw,) = raw_judge.judge([event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None).signals
    # THEN by default the bytes that get signed hold only the network's first address (enrichment
    # derives the same prefix from it as from the full one), never the address itself; with
    # StoreRawIp they hold the address as sent
    assert codec.loads(truncated.body)["context"]["ip"] == signed
    assert ip.encode() not in truncated.body
    assert codec.loads(raw.body)["context"]["ip"] == ip
    assert network_fields(signed, store_raw_ip=False) == network_fields(ip, store_raw_ip=False)


@pytest.mark.parametrize(
    ("mutate", "code", "path"),
    [
        (lambda e: e.update(event_type="teleport"), "unknown_event_type", "$.event_type"),
        (lambda e: e.pop("event_type"), "unknown_event_type", "$.event_type"),
        (lambda e: e.update(schema_version="9-0-0"), "unknown_schema_version", "$.schema_version"),
        (lambda e: e.update(source="someone-else"), "source_mismatch", "$.source"),
        (lambda e: e.update(occurred_at=_at(timedelta(hours=2))), "occurred_at_in_future", "$.occurred_at"),
        (lambda e: e.update(occurred_at=_at(-timedelta(days=8))), "occurred_at_too_old", "$.occurred_at"),
        (lambda e: e["data"].update(page_title="x" * 5000), "schema_violation", "$.data.page_title"),
        (lambda e: e["context"].update(user_agent="u" * 1000, session_id="s" * 128), "event_too_large", "$"),
    ],
    ids=[
        "unknown-type",
        "missing-type",
        "unknown-version",
        "other-source",
        "future",
        "too-old",
        "schema",
        "size",
    ],
)
def test_judge_bad_event_rejected_with_reason(judge: EventJudge, mutate: Any, code: str, path: str) -> None:
    # GIVEN a valid event with one defect
    event = page_view(occurred=RECEIVED - timedelta(seconds=3))
    mutate(event)
    # WHEN it is judged
    result = _judge_one(judge, event)
    # THEN it is rejected with that reason at that path
    assert result["verdict"] == "rejected"
    assert (result["errors"][0]["code"], result["errors"][0]["path"]) == (code, path)


def test_judge_schema_errors_lists_every_error(judge: EventJudge) -> None:
    # GIVEN an event with three schema defects
    event = page_view(occurred=RECEIVED)
    event["data"]["page_type"] = "spaceship"
    event["data"]["page_url"] = 42
    event["unexpected"] = True
    # WHEN it is judged
    result = _judge_one(judge, event)
    # THEN all three are reported with JSON paths
    paths = sorted(error["path"] for error in result["errors"])
    assert paths == ["$", "$.data.page_type", "$.data.page_url"]
    assert all(error["code"] == "schema_violation" and error["message"] for error in result["errors"])


def test_judge_not_an_object_rejected_without_event_id(judge: EventJudge) -> None:
    # GIVEN / WHEN a batch member that is not an object
    result = _judge_one(judge, ["not", "an", "event"])
    # THEN it is rejected, and no event_id is invented
    assert result == {
        "index": 0,
        "event_id": None,
        "verdict": "rejected",
        "errors": [{"code": "not_an_object", "path": "$", "message": "an event must be a JSON object"}],
    }


def test_judge_repeated_event_id_first_wins_later_rejected(judge: EventJudge) -> None:
    # GIVEN two events with the same event_id and one distinct
    first = page_view(occurred=RECEIVED)
    repeat = {**first, "data": {**first["data"], "page_title": "other"}}
    other = page_view(occurred=RECEIVED)
    # WHEN judged in one request
    judgement = judge.judge(
        [first, repeat, other], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None
    )
    # THEN the first is accepted, the repeat rejected, and only two signals are forwarded
    verdicts = [(r["verdict"], r["errors"][0]["code"] if "errors" in r else None) for r in judgement.results]
    assert verdicts == [("accepted", None), ("rejected", "duplicate_event_id"), ("accepted", None)]
    assert [s.event_id for s in judgement.signals] == [first["event_id"], other["event_id"]]


def test_judge_sent_at_corrects_client_clock_skew(judge: EventJudge) -> None:
    # GIVEN a client whose clock is 3 days behind: it says it sent 10 s after the event occurred
    skewed_occurred = RECEIVED - timedelta(days=3)
    event = page_view(occurred=skewed_occurred, sent_at=_at(-timedelta(days=3) + timedelta(seconds=10)))
    # WHEN judged
    judgement = judge.judge([event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN it is accepted with derived_at = received_at - (sent_at - occurred_at)
    assert judgement.results[0]["verdict"] == "accepted"
    assert codec.loads(judgement.signals[0].body)["derived_at"] == "2026-11-26T11:59:50.000Z"


def test_judge_batch_sent_at_applies_to_events_without_their_own(judge: EventJudge) -> None:
    # GIVEN a clock 2 hours ahead: occurred_at looks like the future, the batch sent_at explains it
    event = page_view(occurred=RECEIVED + timedelta(hours=2))
    # WHEN judged with and without the batch's sent_at
    with_sent = _judge_one(judge, event, batch_sent_at=_at(timedelta(hours=2, seconds=1)))
    without_sent = _judge_one(judge, event)
    # THEN only the corrected one passes
    assert with_sent["verdict"] == "accepted"
    assert without_sent["errors"][0]["code"] == "occurred_at_in_future"


@pytest.mark.parametrize(
    ("occurred", "sent", "expected"),
    [
        (RECEIVED, None, RECEIVED),
        (
            RECEIVED - timedelta(hours=5),
            RECEIVED - timedelta(hours=5) + timedelta(seconds=2),
            RECEIVED - timedelta(seconds=2),
        ),
        (RECEIVED + timedelta(minutes=30), RECEIVED + timedelta(minutes=31), RECEIVED - timedelta(minutes=1)),
    ],
)
def test_derived_time_formula(occurred: datetime, sent: datetime | None, expected: datetime) -> None:
    assert derived_time(occurred, sent, RECEIVED) == expected


def test_judge_results_keep_request_order_and_indexes(judge: EventJudge) -> None:
    # GIVEN good and bad events interleaved
    events = [page_view(occurred=RECEIVED), {"event_type": "nope"}, page_view(occurred=RECEIVED), 7]
    # WHEN judged
    judgement = judge.judge(events, source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN one result per event, in order, with its index
    assert [(r["index"], r["verdict"]) for r in judgement.results] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "accepted"),
        (3, "rejected"),
    ]


@pytest.mark.parametrize(
    ("occurred_at", "derived_at"),
    [
        ("2026-11-26T11:59:00.250Z", "2026-11-26T11:59:00.250Z"),
        ("2026-11-26T13:59:00+02:00", "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:59:00Z", "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:59:00.123456Z", "2026-11-26T11:59:00.123Z"),
    ],
)
def test_judge_derived_at_is_utc_with_milliseconds(
    judge: EventJudge, occurred_at: str, derived_at: str
) -> None:
    # GIVEN an event whose occurred_at has another form or offset
    event = page_view(occurred_at=occurred_at)
    # WHEN judged
    judgement = judge.judge([event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN derived_at is the same instant in one canonical form
    assert codec.loads(judgement.signals[0].body)["derived_at"] == derived_at


# --- the edges of the calendar and of the formats: a verdict for each, never an exception ----------

CALENDAR_EDGES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00")


@pytest.mark.parametrize("occurred_at", CALENDAR_EDGES)
@pytest.mark.parametrize("sent_at", [None, "2026-11-26T12:00:00Z", *CALENDAR_EDGES])
@pytest.mark.parametrize("on", ["event", "batch"])
def test_judge_calendar_edge_times_rejected_good_neighbour_accepted(
    judge: EventJudge, occurred_at: str, sent_at: str | None, on: str
) -> None:
    # GIVEN an event at the edge of the calendar (Go's and .NET's zero time, the year 9999), with
    # sent_at on the event or on the batch, next to a good event without a sent_at of its own
    edge = page_view(occurred_at=occurred_at, **({"sent_at": sent_at} if sent_at and on == "event" else {}))
    good = page_view(occurred=RECEIVED - timedelta(seconds=3))
    batch_sent_at = sent_at if on == "batch" else None
    if batch_sent_at:
        good["sent_at"] = _at(-timedelta(seconds=1))
    # WHEN both are judged
    judgement = judge.judge(
        [edge, good], source_id="web-shop", received_at=RECEIVED, batch_sent_at=batch_sent_at
    )
    # THEN the good one is accepted; the edge one is rejected for its time, unless sent_at is close
    # to occurred_at (both on the same wrong clock), which the skew rule moves next to received_at
    (edge_result, good_result) = judgement.results
    assert good_result["verdict"] == "accepted"
    client_age = parse_rfc3339(sent_at) - parse_rfc3339(occurred_at) if sent_at else None
    if client_age is not None and timedelta(0) <= client_age <= timedelta(days=1):
        assert edge_result["verdict"] == "accepted"
        assert codec.loads(judgement.signals[0].body)["derived_at"] == format_rfc3339(RECEIVED - client_age)
    else:
        assert edge_result["verdict"] == "rejected"
        assert edge_result["errors"][0]["code"] in {"occurred_at_in_future", "occurred_at_too_old"}
        assert [signal.event_id for signal in judgement.signals] == [good["event_id"]]


@pytest.mark.parametrize(
    ("occurred_at", "derived_at"),
    [
        ("2026-11-26t11:59:00z", "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:59:00.123456789012Z", "2026-11-26T11:59:00.123Z"),
        ("2026-11-27T01:59:00+14:00", "2026-11-26T11:59:00.000Z"),
        ("2026-11-25T23:59:00-12:00", "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:59:00.5-00:00", "2026-11-26T11:59:00.500Z"),
    ],
    ids=["lower-case-t-z", "nanoseconds-and-more", "plus-14", "minus-12", "minus-zero"],
)
def test_judge_rfc3339_forms_the_schema_allows_accepted(
    judge: EventJudge, occurred_at: str, derived_at: str
) -> None:
    # GIVEN an occurred_at in a form RFC 3339 (and the schema's date-time format) allows
    event = page_view(occurred_at=occurred_at)
    # WHEN judged
    judgement = judge.judge([event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN it is accepted, with derived_at in the one canonical form
    assert judgement.results[0]["verdict"] == "accepted", judgement.results[0]
    assert codec.loads(judgement.signals[0].body)["derived_at"] == derived_at


def test_judge_leap_second_accepted_as_next_minute(judge: EventJudge) -> None:
    # GIVEN an event at a leap second (the schema's date-time format allows 23:59:60)
    received = datetime(2017, 1, 1, 0, 0, 5, tzinfo=UTC)
    event = page_view(occurred_at="2016-12-31T23:59:60Z")
    # WHEN judged
    judgement = judge.judge([event], source_id="web-shop", received_at=received, batch_sent_at=None)
    # THEN it is accepted, its instant the first of the next minute
    assert judgement.results[0]["verdict"] == "accepted", judgement.results[0]
    assert codec.loads(judgement.signals[0].body)["derived_at"] == "2017-01-01T00:00:00.000Z"


# The one time the schema's date-time admits and datetime cannot hold: year 9999's last leap second,
# with a fraction of any length.
_UNREPRESENTABLE = "9999-12-31T23:59:60." + "9" * 15_000 + "Z"


@pytest.mark.parametrize("field", ["occurred_at", "sent_at"])
def test_judge_unrepresentable_time_rejected_with_a_bounded_reason(judge: EventJudge, field: str) -> None:
    # GIVEN an event whose time passes the schema but no datetime holds, 15,000 digits long
    event = page_view(occurred=RECEIVED)
    event[field] = _UNREPRESENTABLE
    # WHEN judged
    result = _judge_one(judge, event)
    # THEN it is rejected for that field, and the reason quotes the time clipped, not whole
    assert result["verdict"] == "rejected"
    (error,) = result["errors"]
    assert (error["code"], error["path"]) == ("invalid_timestamp", f"$.{field}")
    assert error["message"].startswith("date-time out of range: '9999-12-31T23:59:60.999")
    assert len(error["message"]) == MAX_MESSAGE_CHARS


def test_judge_overlong_event_id_echoed_clipped(judge: EventJudge) -> None:
    # GIVEN an event whose event_id is 10,000 characters of text, not a UUID
    event = page_view(occurred=RECEIVED, event_id="X" * 10_000)
    # WHEN judged
    result = _judge_one(judge, event)
    # THEN the rejection names it in lower case, clipped as a reason is, not whole
    assert result["verdict"] == "rejected"
    assert result["event_id"] == "x" * (MAX_MESSAGE_CHARS - 1) + "…"


def test_judge_event_id_in_any_letter_case_is_one_event_lowercase_forwarded(judge: EventJudge) -> None:
    # GIVEN the same UUID twice, once in upper case, and another in mixed case
    first = page_view(occurred=RECEIVED, event_id="9B2D4F61-0C3E-4A7B-8D15-E6F7A8B9C0D1")
    again = page_view(occurred=RECEIVED, event_id="9b2d4f61-0c3e-4a7b-8d15-e6f7a8b9c0d1")
    other = page_view(occurred=RECEIVED, event_id="3F1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9C")
    # WHEN judged in one request
    judgement = judge.judge(
        [first, again, other], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None
    )
    # THEN the lower-case form is the identity: in the results, the signals and their bodies
    results = [(r["event_id"], r["verdict"]) for r in judgement.results]
    assert results == [
        ("9b2d4f61-0c3e-4a7b-8d15-e6f7a8b9c0d1", "accepted"),
        ("9b2d4f61-0c3e-4a7b-8d15-e6f7a8b9c0d1", "rejected"),
        ("3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c", "accepted"),
    ]
    assert judgement.results[1]["errors"][0]["code"] == "duplicate_event_id"
    assert [s.event_id for s in judgement.signals] == [results[0][0], results[2][0]]
    assert [codec.loads(s.body)["event_id"] for s in judgement.signals] == [results[0][0], results[2][0]]


def test_judge_rejected_event_does_not_take_the_event_id_of_a_later_good_one(judge: EventJudge) -> None:
    # GIVEN an invalid event, then a valid one with the same event_id (the client fixed and resent it)
    good = page_view(occurred=RECEIVED)
    broken = {**good, "data": {**good["data"], "page_type": "spaceship"}}
    # WHEN both are judged in one request
    judgement = judge.judge([broken, good], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None)
    # THEN the bad neighbour is rejected for what is wrong with it, and the good one accepted
    assert [r["verdict"] for r in judgement.results] == ["rejected", "accepted"]
    assert judgement.results[0]["errors"][0]["code"] == "schema_violation"
    assert [s.event_id for s in judgement.signals] == [good["event_id"]]


# --- the accepting loop against the worded path -------------------------------------------------

_IDS = ("6f1c7a52-3b1e-4c8e-9a6f-2b4d8e1c3a5f", "6F1C7A52-3B1E-4C8E-9A6F-2B4D8E1C3A5F", "not-a-uuid", 7)
# Ages an event may have: fine, just inside and just outside the future skew, past the oldest.
_AGES = (
    timedelta(seconds=3),
    timedelta(hours=-1),
    timedelta(hours=-1, seconds=-1),
    timedelta(days=7, seconds=1),
)


def _time_text(moment: datetime, form: int) -> Any:
    """``moment`` in one of the forms a client may send: RFC 3339 in several spellings, or not at all."""
    return [
        moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        moment.isoformat(),  # "+00:00", microseconds (or none when they are zero)
        moment.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat(timespec="seconds"),
        moment.isoformat(timespec="milliseconds").replace("+00:00", "z").replace("T", "t"),
        moment.strftime("%Y-%m-%dT%H:%M:60Z"),  # a leap second
        moment.strftime("%Y-%m-%d %H:%M:%S"),  # no offset: not RFC 3339
    ][form]


@st.composite
def _client_events(draw: st.DrawFn) -> Any:
    """Mostly valid page_views: each field is most often the valid one, else one of its defects."""

    def pick(valid: Any, *others: Any) -> Any:
        return draw(st.sampled_from([valid, valid, valid, valid, valid, valid, *others]))

    if pick(False, True):
        return draw(st.sampled_from([["not", "an", "event"], "event", None]))
    event = page_view(occurred=RECEIVED - _AGES[0])
    event["event_id"] = pick(str(draw(st.uuids())), *_IDS)  # one id in two cases: a repeat
    moment = RECEIVED - pick(*_AGES)
    event["occurred_at"] = _time_text(moment, pick(0, 1, 2, 3, 4, 5))
    if draw(st.booleans()):
        event["sent_at"] = _time_text(moment + pick(*_AGES), pick(0, 1, 2, 4, 5))
    event["event_type"] = pick("page_view", "teleport", 3, ["page_view"])
    event["schema_version"] = pick("1-0-0", "9-0-0", None)
    event["source"] = pick("web-shop", "someone-else")
    event["context"]["ip"] = pick("198.51.100.23", "2001:db8::1", "::ffff:198.51.100.7")
    event["context"]["user_agent"] *= pick(1, 8)  # 8: over the event size limit
    if pick(False, True):
        del event["context"]
    return event


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_client_events(), min_size=1, max_size=6),
    batch_sent=st.one_of(st.none(), st.sampled_from(_AGES).map(lambda age: _at(-age))),
    store_raw_ip=st.booleans(),
)
def test_judge_agrees_with_judging_each_event_through_the_worded_path(
    events: list[Any], batch_sent: str | None, store_raw_ip: bool
) -> None:
    # GIVEN events valid and broken in every way the checks look at (unknown types and versions,
    # schema errors, other sources, repeated ids in either case, times too old or ahead, time
    # spellings the fast parse does not read, sizes over the limit, no context, not objects)
    judge = EventJudge(SchemaRegistry(), dataclasses.replace(LIMITS, store_raw_ip=store_raw_ip))
    batch_moment = parse_rfc3339(batch_sent) if batch_sent else None
    # WHEN they are judged as one request, and one by one through the path that words rejections
    judgement = judge.judge(
        copy.deepcopy(events), source_id="web-shop", received_at=RECEIVED, batch_sent_at=batch_sent
    )
    seen: set[str] = set()
    one_by_one = [
        judge._judge_one(index, event, seen, "web-shop", RECEIVED, batch_moment)
        for index, event in enumerate(copy.deepcopy(events))
    ]
    # THEN both give the same verdicts, reasons and signal bytes, in the same order
    assert judgement.results == [result for result, _ in one_by_one]
    assert judgement.signals == [signal for _, signal in one_by_one if signal is not None]
