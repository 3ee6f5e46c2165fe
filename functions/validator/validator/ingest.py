"""The validator's one domain operation: a request in, per-event verdicts out, good events forwarded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple

from signal_platform.bus_publisher import FailureKind, Publisher
from signal_platform.errors import AuthenticationError, ForbiddenSourceError, PayloadTooLargeError
from signal_platform.signal_batches import IngestMetadata, SignalBatcher
from signal_platform.sources import Source, SourceRegistry
from signal_platform.timeutil import format_rfc3339
from validator.auth import has_write_key_header, write_key_from_headers
from validator.body import (
    JSON_OR_TEXT,
    check_media_type,
    decompress,
    parse_document,
    parse_segment_document,
    raw_body,
)
from validator.limits import SourceRateLimiter
from validator.segment import MAPPING_ROOM_BYTES, CallType, SegmentMapper, mapped_event_schema
from validator.verdicts import EventJudge, EventResult, Judgement, request_view

# Segment's limits on a request body: 500 KB for /v1/batch, 32 KB for a single call.
SEGMENT_MAX_BATCH_BYTES: Final = 500 * 1024
SEGMENT_MAX_CALL_BYTES: Final = 32 * 1024


@dataclass(frozen=True, slots=True)
class IngestRequest:
    body: str | None
    is_base64: bool
    headers: Mapping[str, str]
    request_id: str
    received_at: datetime
    deadline: float
    source_ip: str | None = None
    user_agent: str | None = None


class Counts(NamedTuple):
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


class IngestAnswer(NamedTuple):
    """What one request came to; a named tuple, not a frozen dataclass: one is built per request,
    at a fraction of the cost."""

    request_id: str
    received_at: str  # RFC 3339, as the answer and the batches' ingestion metadata carry it
    results: list[EventResult]
    counts: Counts
    failure: FailureKind | None
    bus_entries: int
    put_events_calls: int
    error_codes: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "counts": self.counts.as_dict(),
            "results": self.results,
        }


@dataclass(frozen=True, slots=True)
class Ingestor:
    region: str
    sources: SourceRegistry
    judge: EventJudge
    batcher: SignalBatcher
    publisher: Publisher
    max_body_bytes: int
    max_events_per_request: int
    segment: SegmentMapper
    limiter: SourceRateLimiter | None = None
    # The judge of mapped Segment calls: ``judge``'s limits with room for what the mapping adds, its
    # fast check less what the mapping builds.
    segment_judge: EventJudge = field(init=False)

    def __post_init__(self) -> None:
        judge = self.judge.with_schemas(mapped_event_schema, extra_bytes=MAPPING_ROOM_BYTES)
        object.__setattr__(self, "segment_judge", judge)

    def ingest(self, request: IngestRequest) -> IngestAnswer:
        """``POST /v1/events``: the platform's own envelope, one event or a batch."""
        headers = request.headers
        source = self._authenticate(write_key_from_headers(headers), headers)
        check_media_type(headers)
        data = raw_body(request.body, is_base64=request.is_base64, max_bytes=self.max_body_bytes)
        data = decompress(data, headers.get("content-encoding", ""), max_bytes=self.max_body_bytes)
        document = parse_document(data, max_events=self.max_events_per_request)
        self._admit(source, len(document.events))

        judgement = self.judge.judge(
            document.events,
            source_id=source.source_id,
            received_at=request.received_at,
            batch_sent_at=document.sent_at,
            view=request_view(request.source_ip, request.user_agent),
        )
        return self._forward(request, source, judgement)

    def ingest_segment(self, request: IngestRequest, call_type: CallType | None) -> IngestAnswer:
        """A Segment HTTP Tracking API request: ``/v1/batch`` (``call_type`` None) or one call.

        The write key is the Basic user name (or ``x-api-key``), else the body's ``writeKey`` (what
        browsers send with ``navigator.sendBeacon``, which cannot set headers)."""
        headers = request.headers
        source = None
        if has_write_key_header(headers):
            source = self._authenticate(write_key_from_headers(headers), headers)
        check_media_type(headers, JSON_OR_TEXT)
        limit = SEGMENT_MAX_CALL_BYTES if call_type else SEGMENT_MAX_BATCH_BYTES
        try:
            data = raw_body(request.body, is_base64=request.is_base64, max_bytes=limit)
            data = decompress(data, headers.get("content-encoding", ""), max_bytes=limit)
        except PayloadTooLargeError as exc:
            what = "a single call" if call_type else "a batch"
            raise PayloadTooLargeError(f"{exc}: {what} is at most {limit} bytes") from exc
        document = parse_segment_document(
            data, batch=call_type is None, max_events=self.max_events_per_request
        )
        if source is None:
            if not document.write_key:
                raise AuthenticationError(
                    "missing write key: send it as the HTTP Basic user name, in x-api-key or as writeKey"
                )
            source = self._authenticate(document.write_key, headers)
        self._admit(source, len(document.calls))

        received_at = format_rfc3339(request.received_at)
        view = request_view(request.source_ip, request.user_agent)
        calls = self.segment.map_calls(
            document.calls,
            call_type=call_type,
            source_id=source.source_id,
            received_at=received_at,
            shared_context=document.context,
            request_ip=view.ip,  # the mapping fills context from the view, not the judge
            request_user_agent=view.user_agent,
        )
        judgement = self.segment_judge.judge(
            calls, source_id=source.source_id, received_at=request.received_at, batch_sent_at=document.sent_at
        )
        return self._forward(request, source, judgement)

    def _authenticate(self, write_key: str, headers: Mapping[str, str]) -> Source:
        source = self.sources.authenticate(write_key)
        origin = headers.get("origin")
        if origin is not None and not source.allows_origin(origin):
            raise ForbiddenSourceError(f"origin {origin!r} is not registered for source {source.source_id!r}")
        return source

    def _admit(self, source: Source, events: int) -> None:
        """The source's rate limit, before any event is judged (a refusal accepts nothing)."""
        if self.limiter is not None:
            self.limiter.admit(source.source_id, source.rate_per_second, events)

    def _forward(self, request: IngestRequest, source: Source, judgement: Judgement) -> IngestAnswer:
        received_at = format_rfc3339(request.received_at)
        # Named tuples built positionally, here and below: keywords cost twice as much, per request.
        metadata = IngestMetadata(received_at, self.region, request.request_id, source.source_id)
        entries = self.batcher.build(judgement.signals, metadata)
        outcome = self.publisher.publish(entries, deadline=request.deadline)

        # Each accepted result has exactly one signal: with all of them delivered, that is the count.
        accepted, retry = len(judgement.signals), 0
        if outcome.undelivered:
            not_forwarded = {event_id for entry in outcome.undelivered for event_id in entry.event_ids}
            for result in judgement.results:
                if result["verdict"] == "accepted" and result["event_id"] in not_forwarded:
                    result["verdict"] = "retry"
                    retry += 1
            accepted -= retry
        received = len(judgement.results)
        return IngestAnswer(
            request.request_id,
            received_at,
            judgement.results,
            Counts(received, accepted, received - accepted - retry, retry),
            outcome.failure if retry else None,  # failure
            len(entries),  # bus_entries
            outcome.calls,  # put_events_calls
            outcome.error_codes,
        )
