"""What the enrichment reads: the EventBridge event, and the signal batch inside it once verified."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from enrichment.standardise import code, utc_timestamp
from signal_platform.errors import MalformedBatchError, MalformedSignalError

BATCH_ID_PATTERN: Final = re.compile(r"[0-9a-f]{32}")


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One EventBridge event as delivered to a Lambda target (``detail`` is None unless an object)."""

    raw: Mapping[str, Any]
    event_id: str
    source: str
    detail_type: str
    region: str
    time: str
    detail: Mapping[str, Any] | None

    @classmethod
    def parse(cls, event: Mapping[str, Any]) -> BusEvent:
        detail = event.get("detail")
        return cls(
            raw=event,
            event_id=_string(event.get("id")),
            source=_string(event.get("source")),
            detail_type=_string(event.get("detail-type")),
            region=_string(event.get("region")),
            time=_string(event.get("time")),
            detail=detail if isinstance(detail, Mapping) else None,
        )

    @property
    def claimed_batch_id(self) -> str | None:
        """The Detail's batch id when it has the contract's shape (safe to log and to use in a key)."""
        batch_id = self.detail.get("batch_id") if self.detail is not None else None
        return batch_id if isinstance(batch_id, str) and BATCH_ID_PATTERN.fullmatch(batch_id) else None


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """A verified signal batch (contract ``signal_batch`` 1-0-0) with its metadata standardised."""

    batch_id: str
    event_type: str
    received_at: str
    region: str
    request_id: str
    source_id: str
    signals: Sequence[Any]

    @classmethod
    def parse(cls, detail: Mapping[str, Any]) -> SourceBatch:
        batch_id = detail.get("batch_id")
        if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
            raise MalformedBatchError("batch_id must be 32 lower-case hex characters")
        signals = detail.get("signals")
        if not isinstance(signals, list) or not signals:
            raise MalformedBatchError("signals must be a non-empty array")
        ingest = detail.get("ingest")
        if not isinstance(ingest, Mapping):
            raise MalformedBatchError("ingest must be an object")
        try:
            return cls(
                batch_id=batch_id,
                event_type=code(detail.get("event_type"), "event_type"),
                received_at=utc_timestamp(ingest.get("received_at"), "ingest.received_at"),
                region=code(ingest.get("region"), "ingest.region"),
                request_id=_required(ingest.get("request_id"), "ingest.request_id"),
                source_id=code(ingest.get("source_id"), "ingest.source_id"),
                signals=signals,
            )
        except MalformedSignalError as exc:
            raise MalformedBatchError(str(exc)) from exc


def _required(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedBatchError(f"{field} must be a non-empty string")
    return value.strip()
