"""The lake's layout: partition grouping, attempt-owned keys, NDJSON lines, dedup, bad-record objects."""

from __future__ import annotations

import gzip
from typing import Any

from s3_writer.lake import BadObject, BatchPlan, LakeObject, decode_records, plan_batch
from s3_writer.records import parse_records
from signal_platform import codec
from tests.unit.test_s3_writer_support import (
    SHARD_ID,
    batch_record,
    kinesis_record,
    pipe_batch,
    sequence,
    signal,
)

LAKE = "events"
BAD = "bad"
ATTEMPT = "0123456789abcdef"


def _plan(payload: list[dict[str, Any]], done: frozenset[str] = frozenset()) -> BatchPlan:
    return plan_batch(
        decode_records(parse_records(payload)), lake_prefix=LAKE, bad_prefix=BAD, attempt=ATTEMPT, done=done
    )


def _keys(objects: list[LakeObject]) -> list[str]:
    return [item.key for item in objects]


def test_plan_batch_groups_by_event_type_date_and_hour_one_object_each() -> None:
    # GIVEN records whose signals span two event types and two hours of page views
    views_14 = [signal(), signal()]
    clicks = [signal("click", data={"element": "buy"})]
    views_15 = [signal(derived_at="2025-11-26T15:59:59.999Z")]
    more_clicks = [signal("click", data={"element": "cart"}), signal(derived_at="2025-11-26T14:59:00.000Z")]
    payload = pipe_batch(views_14, clicks, views_15, more_clicks)
    # WHEN planned
    plan = _plan(payload)
    # THEN there is exactly one object per (event type, dt, hour), keyed by its first and last record
    assert _keys(plan.lake_objects) == [
        f"events/event_type=page_view/dt=2025-11-26/hour=14/{SHARD_ID}-{sequence(0)}-{sequence(3)}-{ATTEMPT}.json.gz",
        f"events/event_type=click/dt=2025-11-26/hour=14/{SHARD_ID}-{sequence(1)}-{sequence(3)}-{ATTEMPT}.json.gz",
        f"events/event_type=page_view/dt=2025-11-26/hour=15/{SHARD_ID}-{sequence(2)}-{sequence(2)}-{ATTEMPT}.json.gz",
    ]
    # AND every signal is one line, in delivery order, in its partition's object
    lines = [[codec.loads(line) for line in item.lines] for item in plan.lake_objects]
    assert lines == [[*views_14, more_clicks[1]], [clicks[0], more_clicks[0]], views_15]
    assert [len(item.records) for item in plan.lake_objects] == [2, 2, 1]
    assert plan.signals == 6
    assert plan.duplicates_dropped == 0


def test_plan_batch_key_uses_lowest_and_highest_sequence_numbers_not_string_order() -> None:
    # GIVEN two records whose sequence numbers differ in length (string order would be wrong)
    short = kinesis_record(b"", 0) | {"sequenceNumber": "999", "eventID": f"{SHARD_ID}:999"}
    long = kinesis_record(b"", 1) | {"sequenceNumber": "1000", "eventID": f"{SHARD_ID}:1000"}
    short["data"], long["data"] = batch_record([signal()], 0)["data"], batch_record([signal()], 1)["data"]
    # WHEN planned (delivered highest first)
    (item,) = _plan([long, short]).lake_objects
    # THEN first/last follow the numeric order
    assert item.key.endswith(f"/{SHARD_ID}-999-1000-{ATTEMPT}.json.gz")


def test_plan_batch_repeated_event_id_first_wins_and_is_counted() -> None:
    # GIVEN the same event_id in two records (a resend enriched twice) and twice within one record
    first = signal(event_id="3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c", data={"copy": 1})
    again = signal(event_id=first["event_id"], data={"copy": 2})
    other = signal()
    payload = pipe_batch([first, other, {**other, "data": {"copy": 3}}], [again])
    # WHEN planned
    plan = _plan(payload)
    # THEN each event_id is written once, the first copy wins, and the drops are counted
    (item,) = plan.lake_objects
    assert [codec.loads(line) for line in item.lines] == [first, other]
    assert plan.duplicates_dropped == 2
    assert plan.signals == 2
    # AND a record whose signals were all duplicates contributes to no key
    assert item.key.endswith(f"-{sequence(0)}-{sequence(0)}-{ATTEMPT}.json.gz")


def test_lake_object_body_is_gzip_ndjson_with_metadata() -> None:
    # GIVEN a planned object of three signals from two records
    signals = [signal(), signal(), signal()]
    (item,) = _plan(pipe_batch(signals[:2], signals[2:])).lake_objects
    # WHEN its PutObject request is built
    request = item.put_request(6)
    # THEN it is gzip NDJSON, one line per signal, newline-terminated, with content headers and counts
    text = gzip.decompress(request.body)
    assert text.endswith(b"\n")
    assert [codec.loads(line) for line in text.splitlines()] == signals
    assert request.content_type == "application/x-ndjson"
    assert request.content_encoding == "gzip"
    assert request.metadata == {"record-count": "2", "signal-count": "3"}


def test_lake_object_body_is_deterministic_for_a_retried_batch() -> None:
    # GIVEN the same Pipe batch planned twice (a retry)
    payload = pipe_batch([signal(), signal("click")], [signal()])
    first, second = _plan(payload), _plan(payload)
    # WHEN the requests are built THEN keys and bytes are identical (no gzip timestamp, same line order)
    assert [(r.key, r.body) for r in (item.put_request(6) for item in first.lake_objects)] == [
        (r.key, r.body) for r in (item.put_request(6) for item in second.lake_objects)
    ]


def test_plan_batch_bad_record_becomes_bad_object_and_others_go_on() -> None:
    # GIVEN a batch whose middle record is not base64
    payload = pipe_batch([signal()], [signal()], [signal()])
    payload[1]["data"] = "%%% not base64 %%%"
    # WHEN planned
    plan = _plan(payload)
    # THEN the bad record is set aside under its arrival date and the others still form the group
    (bad,) = plan.bad_objects
    assert isinstance(bad, BadObject)
    assert bad.key == f"bad/2025/11/26/{SHARD_ID}-{sequence(1)}-{ATTEMPT}.json"
    (item,) = plan.lake_objects
    assert [record.sequence_number for record in item.records] == [sequence(0), sequence(2)]
    # AND the bad object keeps the reason and the whole record, raw data included
    request = bad.put_request(6)
    document = codec.loads(request.body)
    assert document["reason"]["code"] == "bad_base64"
    assert document["record"] == payload[1]
    assert request.content_type == "application/json"
    assert request.content_encoding is None
    assert request.metadata == {"reason": "bad_base64", "record-count": "1"}


def test_plan_batch_records_from_two_shards_never_share_a_key() -> None:
    # GIVEN (defensively; a Pipe batch holds one shard) page views from two shards
    payload = [batch_record([signal()], 0), batch_record([signal()], 1, shard_id="shardId-000000000001")]
    # WHEN planned THEN each shard gets its own object
    keys = _keys(_plan(payload).lake_objects)
    assert [key.rsplit("/", 1)[1] for key in keys] == [
        f"{SHARD_ID}-{sequence(0)}-{sequence(0)}-{ATTEMPT}.json.gz",
        f"shardId-000000000001-{sequence(1)}-{sequence(1)}-{ATTEMPT}.json.gz",
    ]


def test_plan_batch_empty_gives_nothing_to_write() -> None:
    plan = _plan([])
    assert plan.objects == []
    assert plan.signals == 0
