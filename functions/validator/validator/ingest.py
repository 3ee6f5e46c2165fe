"""The validator's one domain operation: a request in, per-event verdicts out, good events forwarded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signal_platform.bus_publisher import BusPublisher, FailureKind
from signal_platform.signal_batches import IngestMetadata, SignalBatcher
from signal_platform.sources import SourceRegistry
from signal_platform.timeutil import format_rfc3339
from validator.auth import write_key_from_headers
from validator.body import check_media_type, decompress, parse_document, raw_body
from validator.verdicts import EventJudge, EventResult


@dataclass(frozen=True, slots=True)
class IngestRequest:
    body: str | None
    is_base64: bool
    headers: Mapping[str, str]
    request_id: str
    received_at: datetime
    deadline: float


@dataclass(frozen=True, slots=True)
class Counts:
    received: int
    accepted: int
    rejected: int
    retry: int

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "retry": self.retry,
        }


@dataclass(frozen=True, slots=True)
class IngestAnswer:
    request_id: str
    received_at: datetime
    results: list[EventResult]
    counts: Counts
    failure: FailureKind | None
    bus_entries: int
    put_events_calls: int
    error_codes: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "received_at": format_rfc3339(self.received_at),
            "counts": self.counts.as_dict(),
            "results": [result.as_dict() for result in self.results],
        }


@dataclass(frozen=True, slots=True)
class Ingestor:
    region: str
    sources: SourceRegistry
    judge: EventJudge
    batcher: SignalBatcher
    publisher: BusPublisher
    max_body_bytes: int
    max_events_per_request: int

    def ingest(self, request: IngestRequest) -> IngestAnswer:
        headers = request.headers
        source = self.sources.authenticate(write_key_from_headers(headers))
        check_media_type(headers)
        data = raw_body(request.body, is_base64=request.is_base64, max_bytes=self.max_body_bytes)
        data = decompress(data, headers.get("content-encoding", ""), max_bytes=self.max_body_bytes)
        document = parse_document(data, max_events=self.max_events_per_request)

        judgement = self.judge.judge(
            document.events,
            source_id=source.source_id,
            received_at=request.received_at,
            batch_sent_at=document.sent_at,
        )
        metadata = IngestMetadata(
            received_at=format_rfc3339(request.received_at),
            region=self.region,
            request_id=request.request_id,
            source_id=source.source_id,
        )
        entries = self.batcher.build(judgement.signals, metadata)
        outcome = self.publisher.publish(entries, deadline=request.deadline)

        not_forwarded = {event_id for entry in outcome.undelivered for event_id in entry.event_ids}
        accepted = retry = 0
        for result in judgement.results:
            if result.verdict != "accepted":
                continue
            if result.event_id in not_forwarded:
                result.verdict = "retry"
                retry += 1
            else:
                accepted += 1
        received = len(judgement.results)
        return IngestAnswer(
            request_id=request.request_id,
            received_at=request.received_at,
            results=judgement.results,
            counts=Counts(received, accepted, received - accepted - retry, retry),
            failure=outcome.failure if retry else None,
            bus_entries=len(entries),
            put_events_calls=outcome.calls,
            error_codes=outcome.error_codes,
        )
