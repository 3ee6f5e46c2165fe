"""Builders for the S3 writer's tests (no tests here): enriched signals, EventBridge events on the
Kinesis stream, the Pipe's payload (a bare array of flat Kinesis records) around them, and an
in-memory object store and lake ledger with injectable failures."""

from __future__ import annotations

import base64
import gzip
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from s3_writer.lake import PutRequest
from s3_writer.ledger import Attempt, State
from signal_platform import codec
from signal_platform.errors import LakeLedgerError, LakeWriteError

SHARD_ID = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-west-2:123456789012:stream/signals-data-platform"
PIPE_ROLE_ARN = "arn:aws:iam::123456789012:role/signals-lake-pipe"
# A Kinesis sequence number; records of a batch follow it at a fixed stride.
BASE_SEQUENCE = 49656587465798458729356783712498412578390451387635154946
SEQUENCE_STRIDE = 1_000_000
ARRIVAL = 1764165802.157  # 2025-11-26T14:03:22.157Z


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
    """An enriched signal of about 1 KB, in the shape of contracts/enriched_batch/1-0-0."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": "1-0-0",
        "source": "web-storefront",
        "occurred_at": derived_at,
        "derived_at": derived_at,
        "received_at": "2025-11-26T14:03:22.157Z",
        "ingest_region": "us-west-2",
        "request_id": "0f6d3c1e-2b7a-4e59-9c8d-7a1b2c3d4e5f",
        "partition_key": anonymous_id,
        "data": data
        if data is not None
        else {
            "page_url": "https://shop.example.com/products/trail-runner-2?color=blue",
            "page_title": "Trail Runner 2 | Example Shop",
            "referrer_url": "https://www.google.com/",
            "page_type": "product",
        },
        "user": {"anonymous_id": anonymous_id, "session_id": "sess_1764165801_7f3a"},
        "page": {
            "host": "shop.example.com",
            "path": "/products/trail-runner-2",
            "referrer": "https://www.google.com/",
            "title": "Trail Runner 2 | Example Shop",
            "url": "https://shop.example.com/products/trail-runner-2?color=blue",
        },
        "campaign": {"source": "google", "medium": "cpc", "name": "autumn_running_2025"},
        "device": {
            "browser_family": browser,
            "browser_version": "17.4",
            "device_brand": "Apple",
            "device_family": "Mac",
            "device_model": "Mac",
            "os_family": "Mac OS X",
            "os_version": "10.15.7",
        },
        "network": {"ip_prefix": "203.0.113.0/24"},
        "locale": "en-US",
        "library": {"name": "signals-js", "version": "2.4.1"},
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


class FakeStore:
    """An in-memory bucket; ``fail_put`` / ``fail_delete`` decide per key whether the call fails."""

    def __init__(
        self,
        *,
        fail_put: Callable[[str], bool] = lambda key: False,
        fail_delete: Callable[[str], bool] = lambda key: False,
        crash_put: Callable[[str], bool] = lambda key: False,
    ) -> None:
        self.objects: dict[str, PutRequest] = {}
        self.versions: dict[str, str] = {}
        self.puts: list[str] = []
        self.deletes: list[str] = []
        self._fail_put, self._fail_delete, self._crash_put = fail_put, fail_delete, crash_put
        self._lock = threading.Lock()

    def put(self, request: PutRequest) -> str | None:
        with self._lock:
            self.puts.append(request.key)
        if self._crash_put(request.key):
            raise RuntimeError("a bug, not an S3 error")
        if self._fail_put(request.key):
            raise LakeWriteError(f"PutObject {request.key} failed: SlowDown")
        with self._lock:
            self.objects[request.key] = request
            self.versions[request.key] = version = uuid.uuid4().hex
        return version

    def delete(self, key: str, version_id: str | None = None) -> None:
        with self._lock:
            self.deletes.append(key)
            if version_id is not None and self.versions.get(key) != version_id:
                return  # another version: this one is not the current object
        if self._fail_delete(key):
            raise LakeWriteError(f"DeleteObject {key} failed: InternalError")
        with self._lock:
            self.objects.pop(key, None)

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [codec.loads(line) for line in gzip.decompress(self.objects[key].body).splitlines()]

    def event_ids(self) -> list[str]:
        """Every event_id in the lake objects, as often as it is stored."""
        return [
            line["event_id"] for key in self.objects if key.startswith("events/") for line in self.lines(key)
        ]


class FakeLedger:
    """The lake ledger in memory, with the DynamoDB ledger's conditions; ``fail`` names operations
    that raise ``LakeLedgerError`` (each entry fails one call)."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}
        self.attempt: dict[str, Attempt] = {}
        self.writes: list[str] = []
        self.fail: list[str] = []
        self._lock = threading.Lock()

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.fail:
            self.fail.remove(operation)
            raise LakeLedgerError(f"{operation} failed: InternalServerError")

    def owners(self, record_ids: Any) -> dict[str, str]:
        self._maybe_fail("owners")
        return {rid: self.owner[rid] for rid in record_ids if rid in self.owner}

    def attempts(self, attempt_ids: Any) -> dict[str, Attempt]:
        self._maybe_fail("attempts")
        return {aid: self.attempt[aid] for aid in attempt_ids if aid in self.attempt}

    def begin(self, attempt: Attempt) -> None:
        with self._lock:
            self.writes.append("begin")
            self._maybe_fail("begin")
            assert attempt.attempt_id not in self.attempt
            self.attempt[attempt.attempt_id] = attempt

    def claim(self, record_id: str, attempt_id: str, *, previous: str | None) -> bool:
        with self._lock:
            self.writes.append("claim")
            self._maybe_fail("claim")
            if self.owner.get(record_id) != previous:
                return False
            self.owner[record_id] = attempt_id
            return True

    def commit(self, attempt_id: str) -> bool:
        with self._lock:
            self.writes.append("commit")
            self._maybe_fail("commit")
            return self._set(attempt_id, "committed")

    def abandon(self, attempt_id: str, *, expired_at: float | None = None) -> bool:
        with self._lock:
            self.writes.append("abandon")
            self._maybe_fail("abandon")
            current = self.attempt.get(attempt_id)
            if current is None or current.state == "abandoned":
                return True
            if expired_at is not None and current.deadline >= expired_at:
                return False
            return self._set(attempt_id, "abandoned")

    def _set(self, attempt_id: str, state: State) -> bool:
        current = self.attempt[attempt_id]
        if current.state != "pending":
            return False
        self.attempt[attempt_id] = Attempt(attempt_id, state, current.deadline, current.keys)
        return True

    def states(self) -> list[State]:
        return [attempt.state for attempt in self.attempt.values()]
