"""The quarantine bucket: what the enrichment will not forward, kept whole for inspection and replay.

Keys are deterministic, so a redelivered or retried event overwrites its own object instead of adding
one (turn on bucket versioning to keep every copy of a key):

- ``quarantine/bad_signature/<yyyy>/<mm>/<dd>/<batch_id or EventBridge id>.json``: the whole event,
  exactly as delivered; the S3 metadata ``reason`` says missing_signature / bad_signature / unverifiable.
- ``quarantine/malformed_batch/<yyyy>/<mm>/<dd>/<batch_id or EventBridge id>.json``: the whole event of
  a correctly signed batch that breaks its contract.
- ``quarantine/bad_signal/<yyyy>/<mm>/<dd>/<batch_id>.json``: the signals of one verified batch that
  could not be enriched, each with its index, event_id and reason, plus the batch's metadata.

The date is the EventBridge ``time`` of the event (stable across redeliveries), in UTC.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

from enrichment.models import BusEvent, SourceBatch
from enrichment.signals import RejectedSignal
from signal_platform import aws_clients, codec
from signal_platform.errors import QuarantineUnavailableError
from signal_platform.timeutil import parse_rfc3339, utc_now

Folder = Literal["bad_signature", "malformed_batch", "bad_signal"]

PREFIX: Final = "quarantine"
_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def quarantine_key(folder: Folder, day: date, name: str) -> str:
    return f"{PREFIX}/{folder}/{day:%Y/%m/%d}/{name}.json"


def encode(document: Any) -> bytes:
    """JSON bytes of anything a Lambda event can hold (the standard library takes what orjson refuses)."""
    try:
        return codec.dumps(document)
    except TypeError:  # orjson.JSONEncodeError, e.g. an integer beyond 64 bits
        return json.dumps(document, default=str).encode()


def object_name(event: BusEvent) -> str:
    """The batch id when it has the contract's shape, else the EventBridge id, else a content hash."""
    if batch_id := event.claimed_batch_id:
        return batch_id
    if _SAFE_NAME.fullmatch(event.event_id):
        return event.event_id
    return "sha256-" + hashlib.sha256(encode(event.raw)).hexdigest()


class Quarantine:
    def __init__(
        self,
        bucket: str,
        *,
        client: Callable[[], Any] = lambda: aws_clients.client("s3"),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._bucket = bucket
        self._client = client
        self._clock = clock

    def event(self, folder: Folder, event: BusEvent, reason: str) -> str:
        """Keep a whole event (a forged or malformed batch); returns the object key."""
        key = quarantine_key(folder, self._day(event), object_name(event))
        self._put(key, encode(event.raw), reason)
        return key

    def signals(self, event: BusEvent, batch: SourceBatch, rejected: Sequence[RejectedSignal]) -> str:
        """Keep the signals of ``batch`` that could not be enriched, with their reasons."""
        key = quarantine_key("bad_signal", self._day(event), batch.batch_id)
        document = {
            "reason": "malformed_signal",
            "batch_id": batch.batch_id,
            "event_type": batch.event_type,
            "event_types": batch.types,
            "ingest": {
                "received_at": batch.received_at,
                "region": batch.region,
                "request_id": batch.request_id,
                "source_id": batch.source_id,
            },
            "eventbridge": {"id": event.event_id, "time": event.time, "region": event.region},
            "signal_count": len(batch.signals),
            "rejected": [signal.as_dict() for signal in rejected],
        }
        self._put(key, encode(document), "malformed_signal")
        return key

    def _day(self, event: BusEvent) -> date:
        try:
            return parse_rfc3339(event.time).astimezone(UTC).date()
        except ValueError:
            return self._clock().date()

    def _put(self, key: str, body: bytes, reason: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, see aws_clients

        try:
            self._client().put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                Metadata={"reason": reason},
            )
        except (ClientError, BotoCoreError) as exc:
            raise QuarantineUnavailableError(f"cannot write s3://{self._bucket}/{key}: {exc}") from exc
