"""Helpers of the DLQ tests (no tests here): a moto account with a stream and the DLQ store,
SQS records in the exact DLQ shapes, and a local HTTP partner that can be told to fail.

moto numbers every shard's records 1, 2, 3... (AWS numbers them stream-wide with ~56 digits) and, on
``split_shard``, moves the parent's records into the children (AWS keeps them in the closed parent
until retention ends). ``seed`` writes records with explicit sequence numbers and arrival times
straight into moto's shard, which emulates AWS in both respects.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kinesis.models import Record, kinesis_backends

from dlq_hydrate import dependencies
from signal_platform import codec
from tests.conftest import REGION

ACCOUNT = DEFAULT_ACCOUNT_ID
STREAM = "signals-data-platform"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STREAM}"
BUCKET = "signals-dlq-store"
CONSUMERS = {
    "signals-lake-pipe-dlq": "lake",
    "signals-partner-pipe-dlq": "partner",
    "signals-enrichment-target-dlq": "enrichment",
    "signals-stream-target-dlq": "stream",
}
BASE_TIME = datetime(2026, 11, 26, 10, 15, 0, 123000, tzinfo=UTC)


def hydrate_environment(**overrides: str) -> dict[str, str]:
    return {
        "DLQ_STORE_BUCKET_NAME": BUCKET,
        "CONSUMER_BY_QUEUE": codec.dumps(CONSUMERS).decode(),
        **overrides,
    }


def platform_event(index: int, partition_key: str) -> dict[str, Any]:
    """What the data-platform bus's Kinesis target writes: the whole EventBridge event."""
    return {
        "version": "0",
        "id": str(uuid.UUID(int=index)),
        "detail-type": "page_view",
        "source": "signals.enriched",
        "account": ACCOUNT,
        "time": "2026-11-26T10:15:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "batch_id": f"{index:032x}",
            "event_type": "page_view",
            "schema_version": "1-0-0",
            "partition_key": partition_key,
            "signals": [
                {
                    "event_id": str(uuid.UUID(int=10_000 + index)),
                    "event_type": "page_view",
                    "derived_at": "2026-11-26T10:14:55.120Z",
                    "data": {"url": f"https://shop.example.com/p/{index}"},
                }
            ],
        },
    }


@dataclass(frozen=True)
class Seeded:
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime


@dataclass
class DlqCloud:
    """The moto account of one test."""

    session: Any
    kinesis: Any
    s3: Any
    sqs: Any
    written: int = 0  # records put so far: each gets its own event (batch id = its number)

    def create_stream(self, shards: int = 1, name: str = STREAM) -> str:
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"

    def shard(self, shard_id: str, name: str = STREAM) -> Any:
        return kinesis_backends[ACCOUNT][REGION].streams[name].shards[shard_id]

    def seed(
        self,
        shard_id: str,
        sequence_numbers: Sequence[int],
        *,
        partition_key: Callable[[int], str] = lambda index: f"user-{index % 7}",
        data: Callable[[int], bytes] | None = None,
        start: datetime = BASE_TIME,
        step: timedelta = timedelta(milliseconds=111),
        name: str = STREAM,
    ) -> list[Seeded]:
        """Records with these (ascending) sequence numbers appended to ``shard_id``."""
        shard = self.shard(shard_id, name)
        seeded = []
        for index, sequence in enumerate(sequence_numbers):
            key = partition_key(index)
            payload = data(index) if data else codec.dumps(platform_event(sequence % 1_000_000, key))
            record = Record(key, base64.b64encode(payload).decode(), sequence, "0")
            arrival = start + index * step
            record.created_at_datetime = arrival.replace(tzinfo=None)  # moto keeps naive UTC
            record.created_at = arrival.timestamp()
            shard.records[sequence] = record
            seeded.append(Seeded(str(sequence), key, payload, arrival))
        return seeded

    def put(self, count: int, *, partition_key: str = "user-1", name: str = STREAM) -> list[dict[str, Any]]:
        """Records through the API (moto's own numbering), in order; returns the put results."""
        results = []
        for start in range(0, count, 500):
            entries = [
                {
                    "Data": codec.dumps(platform_event(self.written + i, partition_key)),
                    "PartitionKey": partition_key,
                }
                for i in range(min(500, count - start))
            ]
            self.written += len(entries)
            results.extend(self.kinesis.put_records(StreamName=name, Records=entries)["Records"])
        return results

    def keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def read(self, key: str) -> Any:
        return codec.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


@contextmanager
def open_dlq_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[DlqCloud]:
    """A moto account with the DLQ store bucket and the hydrate function's environment."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, value in hydrate_environment().items():
            monkeypatch.setenv(name, value)
        dependencies.reset()
        yield DlqCloud(session, session.client("kinesis"), s3, session.client("sqs"))
        dependencies.reset()


# --- DLQ messages in the exact shapes --------------------------------------------------------------


def batch_info(
    shard_id: str, first: Seeded | str, last: Seeded | str, batch_size: int, stream_arn: str = STREAM_ARN
) -> dict[str, Any]:
    def sequence(value: Seeded | str) -> str:
        return value.sequence_number if isinstance(value, Seeded) else value

    def arrival(value: Seeded | str) -> str:
        moment = value.arrival if isinstance(value, Seeded) else BASE_TIME
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "shardId": shard_id,
        "startSequenceNumber": sequence(first),
        "endSequenceNumber": sequence(last),
        "approximateArrivalOfFirstRecord": arrival(first),
        "approximateArrivalOfLastRecord": arrival(last),
        "batchSize": batch_size,
        "streamArn": stream_arn,
    }


def pipe_dlq_body(info: dict[str, Any], pipe: str = "signals-partner") -> dict[str, Any]:
    return {
        "context": {
            "partnerResourceArn": f"arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/{pipe}",
            "condition": "RetryAttemptsExhausted",
        },
        "version": "1.0",
        "timestamp": "2026-11-26T10:16:05.101Z",
        "KinesisBatchInfo": info,
    }


def esm_body(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4fb5-a5a5-3b1a3c2f1a10",
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:signals-lake-writer",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-26T11:02:17.904Z",
        "KinesisBatchInfo": info,
    }


def sqs_record(
    body: Any,
    queue: str = "signals-partner-pipe-dlq",
    *,
    message_id: str | None = None,
    attributes: dict[str, str] | None = None,
    receive_count: int = 1,
) -> dict[str, Any]:
    text = body if isinstance(body, str) else codec.dumps(body).decode()
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + hashlib.sha256(text.encode()).hexdigest(),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795688165101",
            "SenderId": "AROAIWPX5BD2BHG722MW4:pipes-session",
            "ApproximateFirstReceiveTimestamp": "1795688165312",
        },
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in (attributes or {}).items()
        },
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


# --- a partner endpoint on 127.0.0.1 ---------------------------------------------------------------


@dataclass
class Partner:
    """Records every POST; answers 503 for bodies ``fail`` picks (and always 200 otherwise)."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail: Callable[[bytes], bool] = lambda _body: False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [codec.loads(body) for headers, body in self.received if headers.get("x-status") == "200"]


@contextmanager
def run_partner() -> Iterator[Partner]:
    """A partner endpoint on 127.0.0.1 in a thread, for as long as the context lasts."""
    state = Partner()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real partner endpoint

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = 503 if state.fail(body) else 200
            headers = {name.lower(): value for name, value in self.headers.items()}
            headers["x-status"] = str(status)
            with state.lock:
                state.received.append((headers, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 - quiet: no access log
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # many replay workers connect at once

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/events"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
