"""What the enrichment reads: the EventBridge event, and the signal batch inside it once verified."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from enrichment.standardise import code, utc_timestamp
from signal_platform.errors import MalformedBatchError, MalformedSignalError
from signal_platform.signal_batches import MIXED_EVENT_TYPE, MIXED_TYPES_FIELD

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
    """A verified signal batch (contract ``signal_batch`` 1-x) with its metadata standardised.

    A mixed batch (``event_type`` ``mixed``, docs/adr/0010) lists its signals' types in ``event_types``;
    a batch of one type leaves it empty.
    """

    batch_id: str
    event_type: str
    received_at: str
    region: str
    request_id: str
    source_id: str
    signals: Sequence[Any]
    event_types: frozenset[str] = frozenset()

    def holds(self, event_type: str) -> bool:
        """Whether a signal of ``event_type`` belongs in this batch."""
        return event_type in self.event_types if self.event_types else event_type == self.event_type

    @property
    def types(self) -> list[str]:
        """The types the batch may hold, sorted."""
        return sorted(self.event_types) if self.event_types else [self.event_type]

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
            event_type = code(detail.get("event_type"), "event_type")
            return cls(
                batch_id=batch_id,
                event_type=event_type,
                received_at=utc_timestamp(ingest.get("received_at"), "ingest.received_at"),
                region=code(ingest.get("region"), "ingest.region"),
                request_id=_required(ingest.get("request_id"), "ingest.request_id"),
                source_id=code(ingest.get("source_id"), "ingest.source_id"),
                signals=signals,
                event_types=_event_types(event_type, detail.get(MIXED_TYPES_FIELD)),
            )
        except MalformedSignalError as exc:
            raise MalformedBatchError(str(exc)) from exc


def _event_types(event_type: str, listed: object) -> frozenset[str]:
    if event_type != MIXED_EVENT_TYPE:
        return frozenset()
    if not isinstance(listed, list) or not listed:
        raise MalformedBatchError(f"a mixed batch must list its {MIXED_TYPES_FIELD}")
    return frozenset(code(item, MIXED_TYPES_FIELD) for item in listed)


def _required(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedBatchError(f"{field} must be a non-empty string")
    return value.strip()
