"""A buffer record that is not a signal batch, set aside (pure; no I/O).

Retrying such a record cannot help, and the mapping would hold its shard behind it until the record
ages out (a day). The batcher writes for it, to BufferDlq, the message the mapping itself writes for
a range that aged out: a Lambda event source mapping's on-failure record whose ``KinesisBatchInfo``
names just that record (its shard, its sequence number as start and end, batch size 1). The
DLQ-hydrate then re-reads it from the stream into the DLQ store like any aged-out range, and the
replay tool and the runbook treat it the same way (docs/runbook.md#bufferdlq).

Marked as the batcher's own: ``requestContext.condition`` is ``MalformedRecordSetAside`` (the
mapping's conditions are AWS's names, such as ``RetryAttemptsExhausted``), and ``setAside`` says
why; the hydrate keeps the whole message with every object it stores (``dlq.message``). There is
no ``approximateInvokeCount``: the batcher does not know how often the mapping handed it the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from batcher.models import Invocation, KinesisRecord
from signal_platform.errors import MalformedBatchError
from signal_platform.timeutil import format_rfc3339

CONDITION: Final = "MalformedRecordSetAside"
# The reason names the record and what broke; a longer one is cut (it is also in the batcher's log).
MAX_REASON_CHARS: Final = 1_000


def on_failure_record(
    record: KinesisRecord, invocation: Invocation, error: MalformedBatchError, now: datetime
) -> dict[str, Any]:
    """The on-failure record that sets ``record`` aside, in the mapping's shape."""
    arrival = format_rfc3339(datetime.fromtimestamp(record.arrival, UTC))
    return {
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": invocation.function_arn,
            "condition": CONDITION,
        },
        "responseContext": {"statusCode": 200, "executedVersion": invocation.version},
        "version": "1.0",
        "timestamp": format_rfc3339(now),
        "KinesisBatchInfo": {
            "shardId": record.shard_id,
            "startSequenceNumber": record.sequence_number,
            "endSequenceNumber": record.sequence_number,
            "approximateArrivalOfFirstRecord": arrival,
            "approximateArrivalOfLastRecord": arrival,
            "batchSize": 1,
            "streamArn": record.stream_arn,
        },
        "setAside": {"error": error.code, "reason": str(error)[:MAX_REASON_CHARS]},
    }
