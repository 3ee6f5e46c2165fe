"""Measure the dead-letter path against moto: GetRecords calls per DLQ message, hydration and replay rates.

    python -m tools.dlq_bench [--replay 300]

1. GetRecords calls per DLQ message, for batch sizes around the 10,000-record page limit (the reads
   only: a null store, so that moto's S3 does not dominate), against the target ceil(n/10,000) + 1.
2. The whole handler on a 1,000-record batch (reads + one conditional PutObject per record).
3. The replay tool to a local HTTP partner, rate limit off: in-process moto, then a moto SERVER
   reached through AWS_ENDPOINT_URL (as the local cloud is), with 1 and 8 workers. moto itself is
   the bottleneck there (a few ms per S3 call, serialised), so:
4. the same replay loop over a modelled store (in memory, a fixed latency per S3 call): the tool's
   own ceiling, and how --workers hides S3 latency.
Never touches a real account (fake credentials, no AWS_PROFILE).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REGION = "us-west-2"
STREAM = "signals-data-platform"
BUCKET = "signals-dlq-store"
PAGE = 10_000


def _isolate_from_real_aws() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "dlq-bench",
            "POWERTOOLS_METRICS_NAMESPACE": "CustomerSignalsBench",
            "POWERTOOLS_METRICS_DISABLED": "1",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "DLQ_STORE_BUCKET_NAME": BUCKET,
            "CONSUMER_BY_QUEUE": '{"signals-partner-pipe-dlq": "partner"}',
            "PARTNER_API_KEY": "bench-key",
        }
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


@dataclass
class _Context:
    function_name: str = "dlq-hydrate"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:dlq-hydrate"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _put(kinesis: Any, count: int, partition_keys: int = 50) -> None:
    from signal_platform import codec  # noqa: PLC0415

    for start in range(0, count, 500):
        entries = [
            {
                "Data": codec.dumps({"detail": {"batch_id": f"{start + i:032x}", "n": start + i}}),
                "PartitionKey": f"user-{(start + i) % partition_keys}",
            }
            for i in range(min(500, count - start))
        ]
        kinesis.put_records(StreamName=STREAM, Records=entries)


def _message(start: int, end: int, size: int) -> dict[str, Any]:
    from signal_platform import codec  # noqa: PLC0415

    body = {
        "context": {"partnerResourceArn": "arn:aws:pipes:us-west-2:123456789012:pipe/p", "condition": "X"},
        "version": "1.0",
        "timestamp": "2026-11-26T10:16:05.101Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": str(start),
            "endSequenceNumber": str(end),
            "approximateArrivalOfFirstRecord": "2026-11-26T10:15:00.000Z",
            "approximateArrivalOfLastRecord": "2026-11-26T10:15:01.000Z",
            "batchSize": size,
            "streamArn": f"arn:aws:kinesis:{REGION}:123456789012:stream/{STREAM}",
        },
    }
    return {
        "messageId": f"m-{start}-{end}",
        "receiptHandle": "r",
        "body": codec.dumps(body).decode(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795688165101"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:signals-partner-pipe-dlq",
        "awsRegion": REGION,
    }


def get_records_calls(sizes: list[int]) -> None:
    from moto import mock_aws  # noqa: PLC0415

    from dlq_hydrate.stream_reader import StreamReader  # noqa: PLC0415
    from signal_platform import aws_clients  # noqa: PLC0415

    print("GetRecords calls per DLQ message (page limit 10,000; target ceil(n/10,000) + 1)")
    print(f"  {'batch size':>10} {'calls':>6} {'target':>7} {'iterators':>10} {'read s':>7}")
    with mock_aws():
        aws_clients.reset()
        kinesis = aws_clients.client("kinesis", REGION)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        _put(kinesis, max(sizes) + 100)
        reader = StreamReader()
        for size in sizes:
            started = time.perf_counter()
            result = reader.read_range(
                stream_arn=f"arn:aws:kinesis:{REGION}:123456789012:stream/{STREAM}",
                region=REGION,
                shard_id="shardId-000000000000",
                start="51",
                end=str(50 + size),
                expected=size,
                deadline=time.monotonic() + 600,
            )
            if len(result.records) != size:
                raise SystemExit(f"read {len(result.records)} records of {size}")
            print(
                f"  {size:>10,} {result.get_records_calls:>6} {math.ceil(size / PAGE) + 1:>7} "
                f"{result.get_shard_iterator_calls:>10} {time.perf_counter() - started:>7.2f}"
            )
        aws_clients.reset()


def hydrate_rate(count: int) -> None:
    from moto import mock_aws  # noqa: PLC0415

    from dlq_hydrate import dependencies  # noqa: PLC0415
    from dlq_hydrate.handler import lambda_handler  # noqa: PLC0415
    from signal_platform import aws_clients  # noqa: PLC0415

    with mock_aws():
        aws_clients.reset()
        dependencies.reset()
        aws_clients.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        kinesis = aws_clients.client("kinesis", REGION)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        _put(kinesis, count)
        started = time.perf_counter()
        answer = lambda_handler({"Records": [_message(1, count, count)]}, _Context())
        seconds = time.perf_counter() - started
        if answer != {"batchItemFailures": []}:
            raise SystemExit(f"hydrate failed: {answer}")
        print(
            f"hydrate, whole handler, {count:,} records -> {count:,} objects (moto in-process): "
            f"{seconds:.2f} s, {count / seconds:,.0f} records/s"
        )
        dependencies.reset()
        aws_clients.reset()


@contextlib.contextmanager
def _partner() -> Iterator[tuple[str, list[int]]]:
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append(1)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 - quiet
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # many replay workers connect at once

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/events", received
    finally:
        server.shutdown()
        server.server_close()


def _replay_runs(count: int, label: str) -> None:
    """Hydrate ``count`` records per run, then replay them with 1 and 8 workers (same account)."""
    from dlq_hydrate import dependencies  # noqa: PLC0415
    from dlq_hydrate.handler import lambda_handler  # noqa: PLC0415
    from signal_platform import aws_clients  # noqa: PLC0415
    from tools import dlq  # noqa: PLC0415

    aws_clients.reset()
    dependencies.reset()
    aws_clients.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    kinesis = aws_clients.client("kinesis", REGION)
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    _put(kinesis, 2 * count)
    with _partner() as (url, received):
        for run, workers in enumerate((1, 8)):
            first = run * count + 1
            lambda_handler({"Records": [_message(first, first + count - 1, count)]}, _Context())
            before = len(received)
            started = time.perf_counter()
            with contextlib.redirect_stdout(None):
                status = dlq.main(
                    [
                        "--bucket",
                        BUCKET,
                        "replay",
                        "--consumer",
                        "partner",
                        "--partner-url",
                        url,
                        "--api-key-env",
                        "PARTNER_API_KEY",
                        "--no-progress",
                        "--workers",
                        str(workers),
                    ]
                )
            seconds = time.perf_counter() - started
            sent = len(received) - before
            if status != 0 or sent != count:
                raise SystemExit(f"replay status {status}, {sent} of {count} records sent")
            print(
                f"replay to a local HTTP partner, {label}, {workers} worker(s): "
                f"{count} records in {seconds:.2f} s = {count / seconds:,.0f} records/s"
            )
    dependencies.reset()
    aws_clients.reset()


def replay_in_process(count: int) -> None:
    from moto import mock_aws  # noqa: PLC0415

    with mock_aws():
        _replay_runs(count, "moto in-process")


def replay_through_endpoint(count: int) -> None:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    try:
        _replay_runs(count, "moto server via AWS_ENDPOINT_URL")
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()


def replay_with_a_modelled_store(count: int, latencies_ms: tuple[float, ...] = (0.0, 15.0)) -> None:
    """The tool's own ceiling: an in-memory store that sleeps a fixed S3-like latency per call."""
    from dlq_replay.engine import Replayer, run_replay  # noqa: PLC0415
    from dlq_replay.pacing import Pacer  # noqa: PLC0415
    from dlq_replay.store import ReplayStore, StoredObject  # noqa: PLC0415
    from dlq_replay.targets import HttpTarget  # noqa: PLC0415
    from signal_platform import codec  # noqa: PLC0415
    from tools.dlq_progress import ProgressBar  # noqa: PLC0415

    class ModelledStore(ReplayStore):
        def __init__(self, latency: float) -> None:
            super().__init__("modelled", client=lambda: None)
            self.latency = latency
            self.objects: dict[str, bytes] = {}
            self.lock = threading.Lock()

        def _wait(self) -> None:
            if self.latency:
                time.sleep(self.latency)

        def get(self, key: str) -> StoredObject | None:
            self._wait()
            with self.lock:
                raw = self.objects.get(key)
            return None if raw is None else StoredObject(key, codec.loads(raw), "etag")

        def replace(self, stored: StoredObject) -> None:
            self.put(stored.key, codec.dumps(stored.body))

        def put(self, key: str, body: bytes) -> None:
            self._wait()
            with self.lock:
                self.objects[key] = body

        def delete(self, key: str) -> None:
            self._wait()
            with self.lock:
                self.objects.pop(key, None)

    with _partner() as (url, received):
        for latency in latencies_ms:
            for workers in (1, 8, 32):
                store = ModelledStore(latency / 1000)
                keys = [
                    f"dlq/partner/2026/11/26/10/user-{i % 50}/20261126T101500000Z-{i}.json"
                    for i in range(count)
                ]
                for index, key in enumerate(keys):
                    record = {
                        "sequenceNumber": str(index),
                        "shardId": "shardId-000000000000",
                        "data": {"n": index},
                    }
                    store.objects[key] = codec.dumps({"record": record, "replay": {"count": 0}})
                before = len(received)
                summary = run_replay(
                    Replayer(store, HttpTarget(url, "k")),
                    keys,
                    pacer=Pacer(None),
                    progress=ProgressBar(count, enabled=False),
                    workers=workers,
                )
                if summary.counts["replayed"] != count or len(received) - before != count:
                    raise SystemExit(f"modelled replay: {summary.counts}")
                print(
                    f"replay, modelled store ({latency:.0f} ms per S3 call, 4 calls per record), "
                    f"{workers:>2} worker(s): {count / summary.seconds:,.0f} records/s"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dlq_bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--replay", type=int, default=300, help="records per replay run")
    parser.add_argument("--hydrate", type=int, default=1000, help="records in the whole-handler run")
    args = parser.parse_args(argv)
    _isolate_from_real_aws()
    get_records_calls([1, 300, 9_999, 10_000, 10_001, 12_000, 25_000])
    hydrate_rate(args.hydrate)
    replay_in_process(args.replay)
    replay_through_endpoint(args.replay)
    replay_with_a_modelled_store(args.replay)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
