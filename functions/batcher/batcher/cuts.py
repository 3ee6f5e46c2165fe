"""``SegmentCuts``: the DynamoDB adapter that remembers where a segment that was not delivered ended.

A segment is cut by its signal count, except the last of an invocation, which ends where the batch
ends. The mapping retries from the segment's first record, and by then the shard may hold more
records: the retry's batch is longer, its last segment would take them in, and the batches already
delivered from it would come again under new ids, past the enrichment's idempotency. So the cut of a
segment that fails is kept, keyed by its shard and first record, and a retry that starts at that
record ends its first segment there (ADR 0009). SDK errors become ``SegmentCutsError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.errors import SegmentCutsError

# A cut is needed while its records can be retried: the mapping gives up on records a day old
# (MaximumRecordAgeInSeconds); a second day covers a retry that starts just before that.
CUT_TTL_SECONDS: Final = 2 * 86_400


class SegmentCuts:
    """Reads and writes one table's cuts; the DynamoDB client is resolved on first use."""

    def __init__(
        self,
        table_name: str,
        *,
        client: Callable[[], Any] = lambda: aws_clients.client("dynamodb"),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._clock = clock

    def end_of(self, shard_id: str, first_sequence: str) -> str | None:
        """The last record of the segment that started at ``first_sequence`` and failed, or None.
        Read consistently: the retry follows the write by a moment."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            answer = self._client().get_item(
                TableName=self.table_name,
                Key={"pk": {"S": _key(shard_id, first_sequence)}},
                ProjectionExpression="last_sequence",
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise SegmentCutsError(_failed("GetItem", self.table_name, exc)) from exc
        item = answer.get("Item")
        return str(item["last_sequence"]["S"]) if item else None

    def remember(self, shard_id: str, first_sequence: str, last_sequence: str) -> None:
        """Keep the cut of a segment that was not delivered (the same cut again is a no-op)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            self._client().put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": _key(shard_id, first_sequence)},
                    "last_sequence": {"S": last_sequence},
                    "expiration": {"N": str(int(self._clock()) + CUT_TTL_SECONDS)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise SegmentCutsError(_failed("PutItem", self.table_name, exc)) from exc


def _failed(operation: str, table_name: str, exc: Exception) -> str:
    return f"{operation} on {table_name} failed: {aws_clients.error_code(exc)}"


def _key(shard_id: str, first_sequence: str) -> str:
    return f"{shard_id}#{first_sequence}"
