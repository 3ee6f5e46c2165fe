"""6. What exactly-once costs the lake: AWS calls per 1,000 signals of the S3 writer, counted on moto.

The real writer (``BatchWriter`` with the DynamoDB ledger and the S3 adapter) writes Pipe batches of
the template's ``BatchSize`` records into moto S3 and DynamoDB; a botocore ``before-call`` hook on the
two clients counts every call by operation. "Extra" is what the ledger adds to the PutObject calls the
writer makes anyway: its conditional writes (one claim per record, begin and commit per invocation)
and its reads. Signals per record vary: the enrichment packs up to ``MAX_SIGNALS_PER_ENTRY`` (50) signals
of one partition key into a record, fewer when a request carries few signals of one user.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

from bench import report
from bench.report import Check

PIPE_BATCH_SIZE: Final = 64  # template.yaml, LakePipe: SourceParameters.KinesisStreamParameters.BatchSize
DEFAULT_SIGNALS_PER_RECORD: Final = 50  # the enrichment's MAX_SIGNALS_PER_ENTRY default
SIGNALS_PER_RECORD: Final = (50, 20, 5, 1)
BATCHES: Final = 4
WRITES: Final = frozenset({"PutObject", "DeleteObject", "PutItem", "UpdateItem", "DeleteItem"})
LEDGER_WRITES: Final = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
TARGET_EXTRA_WRITES_PER_SIGNAL: Final = 0.1
_REGION: Final = "us-west-2"
_BUCKET: Final = "bench-lake"
_TABLE: Final = "bench-lake-ledger"


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    signals_per_record: int
    signals: int
    calls: Counter[str]

    def per_thousand(self, operations: frozenset[str] | set[str]) -> float:
        return 1000 * sum(self.calls[name] for name in operations) / self.signals

    @property
    def extra_writes_per_signal(self) -> float:
        return sum(self.calls[name] for name in LEDGER_WRITES) / self.signals


def _signal(index: int, hour: int) -> dict[str, Any]:
    event_type = ("page_view", "click", "add_to_cart")[index % 3]
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": "1-0-0",
        "source": "web-shop",
        "occurred_at": f"2026-11-26T{hour:02d}:03:21.000Z",
        "derived_at": f"2026-11-26T{hour:02d}:03:21.000Z",
        "received_at": f"2026-11-26T{hour:02d}:03:22.000Z",
        "partition_key": f"user-{index}",
        "data": {"page_type": "product", "value": index},
        "device": {"browser_family": "Chrome", "os_family": "Mac OS X"},
    }


def _pipe_batch(first: int, signals_per_record: int) -> list[dict[str, Any]]:
    """``PIPE_BATCH_SIZE`` records of one shard over three event types and two hours."""
    records = []
    for offset in range(PIPE_BATCH_SIZE):
        index = first + offset
        signals = [_signal(index, 14 + index % 2) for _ in range(signals_per_record)]
        for item in signals:
            item["event_type"] = signals[0]["event_type"]
        detail = {
            "batch_id": uuid.uuid4().hex,
            "schema_version": "1-0-0",
            "event_type": signals[0]["event_type"],
            "partition_key": f"user-{index}",
            "signals": signals,
        }
        data = json.dumps({"detail-type": detail["event_type"], "detail": detail}).encode()
        records.append(
            {
                "sequenceNumber": str(index + 1),
                "eventID": f"shardId-000000000000:{index + 1}",
                "approximateArrivalTimestamp": 1_764_165_802.0,
                "data": base64.b64encode(data).decode(),
            }
        )
    return records


class _Counter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


def _play(signals_per_record: int, *, redelivered: bool = False) -> Outcome:
    import boto3
    from moto import mock_aws

    from s3_writer.ledger import DynamoDbLedger
    from s3_writer.records import parse_records
    from s3_writer.storage import LakeWriter
    from s3_writer.writer import BatchWriter

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    with mock_aws():
        session = boto3.session.Session(region_name=_REGION)
        s3, dynamodb = session.client("s3"), session.client("dynamodb")
        s3.create_bucket(Bucket=_BUCKET, CreateBucketConfiguration={"LocationConstraint": _REGION})
        s3.put_bucket_versioning(Bucket=_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb.create_table(
            TableName=_TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        counter = _Counter()
        for client in (s3, dynamodb):
            client.meta.events.register("before-call", counter)
        writer = BatchWriter(
            LakeWriter(_BUCKET, client=lambda: s3),
            DynamoDbLedger(_TABLE, retention_seconds=86_400, clock=time.time, client=lambda: dynamodb),
            lake_prefix="events",
            bad_prefix="bad",
        )
        batches = [_pipe_batch(b * PIPE_BATCH_SIZE, signals_per_record) for b in range(BATCHES)]
        for batch in batches:
            if not writer.write(parse_records(batch)).succeeded:
                raise RuntimeError("a benchmark batch failed")
        if redelivered:
            counter.calls.clear()
            for batch in batches:
                outcome = writer.write(parse_records(batch))
                if outcome.records_already_in_lake != PIPE_BATCH_SIZE:
                    raise RuntimeError("a redelivered batch was written again")
        writer.close()
    label = "redelivered (all in the lake)" if redelivered else "first delivery"
    return Outcome(label, signals_per_record, BATCHES * PIPE_BATCH_SIZE * signals_per_record, counter.calls)


def run() -> list[Check]:
    report.title(
        f"6. Exactly-once lake writes: AWS calls per 1,000 signals, Pipe batches of {PIPE_BATCH_SIZE} records"
    )
    outcomes = [_play(n) for n in SIGNALS_PER_RECORD]
    outcomes.append(_play(DEFAULT_SIGNALS_PER_RECORD, redelivered=True))
    report.table(
        (
            "delivery",
            "signals/record",
            "PutObject",
            "ledger PutItem",
            "ledger UpdateItem",
            "ledger BatchGetItem",
            "extra writes/1k signals",
            "extra writes/signal",
        ),
        [
            (
                o.label,
                str(o.signals_per_record),
                f"{o.per_thousand({'PutObject'}):.2f}",
                f"{o.per_thousand({'PutItem'}):.2f}",
                f"{o.per_thousand({'UpdateItem'}):.2f}",
                f"{o.per_thousand({'BatchGetItem'}):.2f}",
                f"{o.per_thousand(LEDGER_WRITES):.2f}",
                f"{o.extra_writes_per_signal:.4f}",
            )
            for o in outcomes
        ],
    )
    report.note(
        "per record: 1 conditional PutItem (claim); per invocation: 1 PutItem, 1 UpdateItem (begin, commit)"
    )
    report.note(
        "reads: 1 BatchGetItem per invocation, 2 when a record has an owner; S3 DELETE requests are free"
    )
    default = outcomes[0]
    return [
        Check(
            f"exactly-once, {DEFAULT_SIGNALS_PER_RECORD} signals/record: "
            f"<= {TARGET_EXTRA_WRITES_PER_SIGNAL} extra writes per signal",
            f"{default.extra_writes_per_signal:.4f} ({default.per_thousand(LEDGER_WRITES):.1f} per 1,000)",
            default.extra_writes_per_signal <= TARGET_EXTRA_WRITES_PER_SIGNAL,
        )
    ]


if __name__ == "__main__":
    from bench.__main__ import _use_lambda_layout, parse_arguments

    parse_arguments("python -m bench.lake_writes", __doc__)
    _use_lambda_layout()
    report.summary(run())
