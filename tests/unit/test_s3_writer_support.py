"""Builders for the S3 writer's tests (no tests here): enriched signals, EventBridge events on the
Kinesis stream, and the Pipe's payload (a bare array of flat Kinesis records) around them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any

from signal_platform import codec

SHARD_ID = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-west-2:123456789012:stream/signals-data-platform"
PIPE_ROLE_ARN = "arn:aws:iam::123456789012:role/signals-lake-pipe"
# A Kinesis sequence number; records of a batch follow it at a fixed stride.
BASE_SEQUENCE = 49656587465798458729356783712498412578390451387635154946
SEQUENCE_STRIDE = 1_000_000
ARRIVAL = 1764165802.157  # 2025-11-26T14:03:22.157Z
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)


def sequence(index: int) -> str:
    return str(BASE_SEQUENCE + index * SEQUENCE_STRIDE)


def signal(
    event_type: str = "page_view",
    *,
    event_id: str | None = None,
    derived_at: str = "2025-11-26T14:03:21.602Z",
    anonymous_id: str = "a7c2e4f0-51b3-4d8e-9f6a-0c1b2d3e4f50",
    browser: str = "Safari",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An enriched signal of about 1 KB, as the enrichment function puts it in a batch."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": "1-0-0",
        "occurred_at": derived_at,
        "derived_at": derived_at,
        "received_at": "2025-11-26T14:03:22.157Z",
        "source": "web-storefront",
        "partition_key": anonymous_id,
        "context": {
            "anonymous_id": anonymous_id,
            "session_id": "sess_1764165801_7f3a",
            "page": {
                "url": "https://shop.example.com/products/trail-runner-2?color=blue",
                "path": "/products/trail-runner-2",
                "referrer": "https://www.google.com/",
                "title": "Trail Runner 2 | Example Shop",
            },
            "user_agent": USER_AGENT,
            "locale": "en-US",
            "library": {"name": "signals-js", "version": "2.4.1"},
        },
        "data": data
        if data is not None
        else {
            "page_url": "https://shop.example.com/products/trail-runner-2?color=blue",
            "page_title": "Trail Runner 2 | Example Shop",
            "referrer_url": "https://www.google.com/",
            "page_type": "product",
        },
        "enrichment": {
            "user_agent": {
                "browser": {"family": browser, "version": "17.4"},
                "os": {"family": "Mac OS X", "version": "10.15.7"},
                "device": {"family": "Mac", "type": "desktop"},
            },
            "ingest_region": "us-west-2",
            "enriched_at": "2025-11-26T14:03:22.310Z",
        },
    }


def enriched_batch(signals: Sequence[dict[str, Any]], *, batch_id: str | None = None) -> dict[str, Any]:
    """The Detail the enrichment function puts on the data-platform bus."""
    first = signals[0]
    return {
        "batch_id": batch_id or uuid.uuid4().hex,
        "schema_version": "1-0-0",
        "event_type": first["event_type"],
        "partition_key": first["partition_key"],
        "source_batch_id": uuid.uuid4().hex,
        "enriched_at": "2025-11-26T14:03:22.310Z",
        "signals": list(signals),
    }


def eventbridge_event(detail: dict[str, Any]) -> dict[str, Any]:
    """The whole EventBridge event a rule on the data-platform bus puts on the Kinesis stream."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail.get("event_type", "page_view"),
        "source": "signals.enriched",
        "account": "123456789012",
        "time": "2025-11-26T14:03:22Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }


def kinesis_record(
    data: bytes,
    index: int,
    *,
    shard_id: str = SHARD_ID,
    partition_key: str = "a7c2e4f0-51b3-4d8e-9f6a-0c1b2d3e4f50",
    arrival: float = ARRIVAL,
) -> dict[str, Any]:
    """One flat Kinesis record of a Pipe batch (sequence number ``sequence(index)``)."""
    seq = sequence(index)
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": partition_key,
        "sequenceNumber": seq,
        "data": base64.b64encode(data).decode(),
        "approximateArrivalTimestamp": arrival + index / 1000,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": PIPE_ROLE_ARN,
        "awsRegion": "us-west-2",
        "eventSourceARN": STREAM_ARN,
    }


def batch_record(signals: Sequence[dict[str, Any]], index: int, **kwargs: Any) -> dict[str, Any]:
    """A Kinesis record whose data is an EventBridge event carrying an enriched batch of ``signals``."""
    return kinesis_record(codec.dumps(eventbridge_event(enriched_batch(signals))), index, **kwargs)


def pipe_batch(*batches: Sequence[dict[str, Any]], first_index: int = 0) -> list[dict[str, Any]]:
    """The Pipe's payload: one record per enriched batch, in stream order."""
    return [batch_record(signals, first_index + offset) for offset, signals in enumerate(batches)]


def event_ids(payload: Sequence[dict[str, Any]]) -> list[str]:
    return [record["eventID"] for record in payload]


def failures(*event_ids: str) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": event_id} for event_id in event_ids]}
