"""DLQ message shapes, the store's naming convention and the hydrate settings (pure, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dlq_hydrate import keys
from dlq_hydrate.hydrate import range_problems
from dlq_hydrate.messages import (
    AsyncInvocationFailure,
    KinesisBatchFailure,
    RuleTargetFailure,
    UnparsedMessage,
    parse_message,
    parse_timestamp,
)
from dlq_hydrate.settings import HydrateSettings
from dlq_hydrate.stream_reader import StreamRecord
from signal_platform import codec
from signal_platform.errors import ConfigurationError
from tests.conftest import load_event


def first_record(name: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event(name)["Records"][0]
    return record


# --- shapes -------------------------------------------------------------------------------------------


def test_parse_message_pipe_dlq_sample_is_a_kinesis_batch_failure() -> None:
    message = parse_message(first_record("dlq-hydrate-pipe-dlq.json"))
    assert isinstance(message, KinesisBatchFailure)
    assert message.shape == "pipe"
    assert message.batch.shard_id == "shardId-000000000001"
    assert message.batch.batch_size == 3
    assert message.batch.region == "us-west-2"
    assert message.batch.start < message.batch.end
    assert message.batch.first_arrival == datetime(2026, 11, 26, 10, 15, 0, 123000, tzinfo=UTC)
    assert message.envelope.queue_name == "signals-partner-pipe-dlq"
    assert message.envelope.receive_count == 1
    assert message.envelope.sent_at == datetime(2026, 11, 26, 10, 16, 5, 101000, tzinfo=UTC)


def test_parse_message_esm_on_failure_sample_is_a_kinesis_batch_failure() -> None:
    message = parse_message(first_record("dlq-hydrate-esm-on-failure.json"))
    assert isinstance(message, KinesisBatchFailure)
    assert message.shape == "esm"
    assert message.batch.batch_size == 2
    assert message.body["responseContext"]["functionError"] == "Unhandled"


def test_parse_message_rule_target_sample_keeps_the_body_bytes_and_attributes() -> None:
    record = first_record("dlq-hydrate-rule-target-dlq.json")
    message = parse_message(record)
    assert isinstance(message, RuleTargetFailure)
    assert message.body == record["body"].encode()
    assert message.event_id == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert message.partition_key == "web-shop"  # the ingress batch's source: it has no partition key
    assert message.time == datetime(2026, 11, 26, 10, 14, 58, tzinfo=UTC)
    assert set(message.envelope.message_attributes) >= {
        "ERROR_CODE",
        "ERROR_MESSAGE",
        "RULE_ARN",
        "TARGET_ARN",
    }


def enrichment_failure(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sample Lambda on-failure record as an SQS record, its body changed by ``changes``."""
    record = first_record("dlq-hydrate-enrichment-failure.json")
    body = codec.loads(record["body"])
    for name, value in changes.items():
        if value is None:
            del body[name]
        else:
            body[name] = value
    return {**record, "body": codec.dumps(body).decode()}, body


@pytest.mark.parametrize(("condition", "invokes"), [("RetriesExhausted", 3), ("EventAgeExceeded", 1)])
def test_parse_message_lambda_destination_record_is_the_event_it_carries(
    condition: str, invokes: int
) -> None:
    record, body = enrichment_failure()
    body["requestContext"].update(condition=condition, approximateInvokeCount=invokes)
    message = parse_message({**record, "body": codec.dumps(body).decode()})
    assert isinstance(message, AsyncInvocationFailure)
    assert codec.loads(message.body) == body["requestPayload"]
    assert message.event_id == "3d1c9a52-8e7f-4b06-a2c4-91f0e5d7b3a8"
    assert message.time == datetime(2026, 11, 26, 10, 20, 3, tzinfo=UTC)
    assert message.partition_key == "web-shop"
    assert message.failure == {
        "condition": condition,
        "approximateInvokeCount": invokes,
        "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:signals-enrichment:$LATEST",
        "requestId": "e4b7c2d1-6f38-4a90-b5e1-0c9d8a7f6e52",
        "timestamp": "2026-11-26T10:23:07.518Z",
        "functionError": "Unhandled",
        "errorType": "BusUnavailableError",
        "errorMessage": body["responsePayload"]["errorMessage"],
    }
    assert "stackTrace" not in codec.dumps(message.failure).decode()
    assert message.envelope.queue_name == "signals-enrichment-failure-dlq"


def test_parse_message_lambda_destination_record_without_error_payload_keeps_what_it_has() -> None:
    record, _ = enrichment_failure(responsePayload=None, responseContext=None)
    message = parse_message(record)
    assert isinstance(message, AsyncInvocationFailure)
    assert message.failure["condition"] == "RetriesExhausted"
    assert message.failure["errorType"] is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"requestPayload": None}, "the Lambda destination record has no requestPayload"),
        ({"requestPayload": {"just": "a payload"}}, "the Lambda destination record's requestPayload is not"),
        ({"requestPayload": "text"}, "the Lambda destination record's requestPayload is not"),
    ],
)
def test_parse_message_lambda_destination_record_without_an_event_is_unparsed(
    changes: dict[str, Any], reason: str
) -> None:
    record, _ = enrichment_failure(**changes)
    message = parse_message(record)
    assert isinstance(message, UnparsedMessage)
    assert message.reason.startswith(reason)


def test_parse_message_lambda_destination_record_with_an_invalid_event_time_is_unparsed() -> None:
    _, body = enrichment_failure()
    body["requestPayload"]["time"] = "later"
    record, _ = enrichment_failure(requestPayload=body["requestPayload"])
    message = parse_message(record)
    assert isinstance(message, UnparsedMessage)
    assert "time" in message.reason


def test_parse_message_esm_on_failure_record_is_not_taken_for_a_destination_record() -> None:
    # both have requestContext.condition and responseContext; the ESM's carries KinesisBatchInfo
    # and no requestPayload
    message = parse_message(first_record("dlq-hydrate-esm-on-failure.json"))
    assert isinstance(message, KinesisBatchFailure)
    record, body = enrichment_failure(requestPayload=None)
    body["KinesisBatchInfo"] = codec.loads(first_record("dlq-hydrate-esm-on-failure.json")["body"])[
        "KinesisBatchInfo"
    ]
    message = parse_message({**record, "body": codec.dumps(body).decode()})
    assert isinstance(message, KinesisBatchFailure)
    assert message.shape == "esm"


@pytest.mark.parametrize(
    "name",
    [
        "dlq-hydrate-pipe-dlq.json",
        "dlq-hydrate-esm-on-failure.json",
        "dlq-hydrate-rule-target-dlq.json",
        "dlq-hydrate-enrichment-failure.json",
    ],
)
def test_parse_message_every_dlq_hydrate_sample_is_a_known_shape(name: str) -> None:
    assert not isinstance(parse_message(first_record(name)), UnparsedMessage)


def test_parse_message_kinesis_info_without_a_known_wrapper_is_still_hydrated() -> None:
    record = first_record("dlq-hydrate-pipe-dlq.json")
    body = codec.loads(record["body"])
    del body["context"]
    message = parse_message({**record, "body": codec.dumps(body).decode()})
    assert isinstance(message, KinesisBatchFailure)
    assert message.shape == "other"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"batchSize": 0}, "KinesisBatchInfo.batchSize is not a positive integer: 0"),
        ({"batchSize": True}, "KinesisBatchInfo.batchSize is not a positive integer: True"),
        (
            {"startSequenceNumber": "12a"},
            "KinesisBatchInfo.startSequenceNumber is not a sequence number: '12a'",
        ),
        (
            {"streamArn": "arn:aws:sqs:us-west-2:123456789012:q"},
            "KinesisBatchInfo.streamArn is not a Kinesis",
        ),
        ({"startSequenceNumber": "9", "endSequenceNumber": "3"}, "KinesisBatchInfo range is reversed: 9 > 3"),
    ],
)
def test_parse_message_broken_kinesis_info_is_unparsed_with_the_reason(
    change: dict[str, Any], reason: str
) -> None:
    record = first_record("dlq-hydrate-pipe-dlq.json")
    body = codec.loads(record["body"])
    body["KinesisBatchInfo"].update(change)
    message = parse_message({**record, "body": codec.dumps(body).decode()})
    assert isinstance(message, UnparsedMessage)
    assert message.reason.startswith(reason)


def test_parse_message_event_without_a_valid_time_is_unparsed() -> None:
    record = first_record("dlq-hydrate-rule-target-dlq.json")
    body = codec.loads(record["body"])
    body["time"] = "yesterday"
    message = parse_message({**record, "body": codec.dumps(body).decode()})
    assert isinstance(message, UnparsedMessage)
    assert "time" in message.reason


def test_parse_message_without_body_or_source_is_unparsed_but_named() -> None:
    message = parse_message({"messageId": "m-1"})
    assert isinstance(message, UnparsedMessage)
    assert message.envelope.queue_name == "unknown-queue"
    assert message.envelope.message_id == "m-1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T10:15:00.123Z", datetime(2026, 11, 26, 10, 15, 0, 123000, tzinfo=UTC)),
        ("2026-11-26T11:15:00+01:00", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
        (1795688100.5, datetime(2026, 11, 26, 10, 15, 0, 500000, tzinfo=UTC)),
        (1795688100500, datetime(2026, 11, 26, 10, 15, 0, 500000, tzinfo=UTC)),
        ("soon", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_timestamp_accepts_rfc3339_and_epochs(value: Any, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


# --- keys ---------------------------------------------------------------------------------------------


def test_record_key_follows_the_convention() -> None:
    moment = datetime(2026, 11, 26, 10, 15, 0, 123456, tzinfo=UTC)
    key = keys.record_key("dlq", "partner", moment, "user/42 é", "4965")
    # the partition key (a person's id) only as its digest: sha256("user/42 é")[:32]
    assert key == "dlq/partner/2026/11/26/10/f7ba996eddc7bec9c856f13818f431a9/20261126T101500123Z-4965.json"
    parsed = keys.parse_record_key("dlq", key)
    assert parsed is not None
    assert (parsed.consumer, parsed.hour, parsed.unique_id) == (
        "partner",
        datetime(2026, 11, 26, 10, tzinfo=UTC),
        "4965",
    )
    assert parsed.partition_segment == keys.partition_segment("user/42 é")
    assert "user" not in key


@pytest.mark.parametrize("partition_key", ["alice@example.com", "user/42", "😀" * 256])
def test_record_key_holds_no_partition_key_text_and_one_listing_still_finds_it(partition_key: str) -> None:
    # GIVEN a record whose partition key is a person's id
    moment = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    # WHEN its key is made
    key = keys.record_key("dlq", "lake", moment, partition_key, "4965")
    # THEN neither the id nor its escape appears in it (keys show in listings and S3 access logs),
    # and the replay tool's listing of that partition key and hour is still one exact prefix
    assert partition_key not in key
    assert keys.escape_segment(partition_key).partition("~")[0] not in key
    assert key.startswith(keys.hour_prefix("dlq", "lake", moment, partition_key))
    assert not key.startswith(keys.hour_prefix("dlq", "lake", moment, partition_key + "x"))


@pytest.mark.parametrize("value", [".", "..", "_", "a~b", "%2F"])
def test_escape_segment_never_yields_a_path_or_marker_segment(value: str) -> None:
    escaped = keys.escape_segment(value)
    assert escaped not in {".", "..", "_", ""}
    assert "/" not in escaped
    assert "~" not in escaped
    assert keys.unescape_segment(escaped) == value


def test_escape_segment_bounds_long_keys_and_keeps_them_distinct() -> None:
    first, second = "😀" * 255 + "a", "😀" * 255 + "b"
    escaped = keys.escape_segment(first)
    assert len(escaped) <= keys.MAX_SEGMENT
    assert escaped != keys.escape_segment(second)
    assert escaped == keys.escape_segment(first)
    assert "%" not in escaped.partition("~")[0][-2:]


def test_no_partition_key_has_its_own_segment() -> None:
    moment = datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert "/_/" in keys.record_key("dlq", "enrichment", moment, None, "id")


def test_manifest_and_unparsed_keys() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert keys.manifest_key("unrecoverable", "lake", moment, "shardId-000000000001", "10", "20") == (
        "unrecoverable/lake/2026/01/02/shardId-000000000001-10-20.json"
    )
    assert keys.unparsed_key("unparsed", moment, "m-1") == "unparsed/2026/01/02/m-1.json"
    assert keys.replayed_key("dlq/a") == "replayed/dlq/a"


def test_parse_record_key_refuses_other_layouts() -> None:
    assert keys.parse_record_key("dlq", "dlq/partner/2026/11/26/10/pk/garbage.json") is None
    assert keys.parse_record_key("dlq", "dlq/partner/2026/13/26/10/pk/20261126T101500123Z-1.json") is None
    assert keys.parse_record_key("dlq", "other/partner/2026/11/26/10/pk/20261126T101500123Z-1.json") is None


# --- range check --------------------------------------------------------------------------------------


def _records(*positions: int) -> list[StreamRecord]:
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    return [StreamRecord("pk", str(position), moment, b"{}") for position in positions]


@pytest.mark.parametrize(
    ("found", "problems"),
    [
        ((10, 11, 12), []),
        ((), ["no_records_found"]),
        ((11, 12), ["start_not_found", "count_mismatch"]),
        ((10, 11), ["end_not_found", "count_mismatch"]),
        ((10, 12), ["count_mismatch"]),
        ((10, 11, 11, 12), ["count_mismatch"]),
    ],
)
def test_range_problems_names_every_mismatch(found: tuple[int, ...], problems: list[str]) -> None:
    assert range_problems(3, 10, 12, _records(*found)) == problems


@pytest.mark.parametrize(
    ("found", "problems"),
    [
        ((10, 11, 12), []),
        ((11, 12), ["start_not_found"]),
        ((10, 11), ["end_not_found"]),
        ((10,), ["end_not_found", "count_mismatch"]),
    ],
)
def test_range_problems_takes_the_range_of_a_parallelized_batch(
    found: tuple[int, ...], problems: list[str]
) -> None:
    # a batch of 10 and 12 (ParallelizationFactor 2): 11 belongs to the shard's other batch
    assert range_problems(2, 10, 12, _records(*found)) == problems


# --- settings -----------------------------------------------------------------------------------------


def test_settings_defaults_and_consumer_fallback() -> None:
    settings = HydrateSettings.from_env(
        {"DLQ_STORE_BUCKET_NAME": "b", "CONSUMER_BY_QUEUE": '{"signals-lake-pipe-dlq": "lake"}'}
    )
    assert (settings.dlq_prefix, settings.unrecoverable_prefix, settings.unparsed_prefix) == (
        "dlq",
        "unrecoverable",
        "unparsed",
    )
    assert settings.get_records_limit == 10_000
    assert settings.consumer_for("signals-lake-pipe-dlq") == "lake"
    assert settings.consumer_for("some-other-dlq") == "some-other-dlq"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "DLQ_STORE_BUCKET_NAME is not set"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "CONSUMER_BY_QUEUE": "{"}, "CONSUMER_BY_QUEUE is not JSON"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "CONSUMER_BY_QUEUE": '["lake"]'}, "must be a JSON object"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "CONSUMER_BY_QUEUE": '{"q": "a/b"}'}, "must match"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "DLQ_PREFIX": "x/../y"}, "must be an S3 key prefix"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "UNPARSED_PREFIX": "dlq/unparsed"}, "must not contain one another"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "DLQ_PREFIX": "replayed"}, "must not contain one another"),
        ({"DLQ_STORE_BUCKET_NAME": "b", "GET_RECORDS_LIMIT": "10001"}, "outside"),
    ],
)
def test_settings_refuse_bad_values_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HydrateSettings.from_env(environ)
