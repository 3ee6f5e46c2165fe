"""The batcher's one domain operation: buffer records in, signal batches published, segment by segment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from batcher.packing import BufferedRecord, first_copies, pack_segment, parse_record, segments
from signal_platform.bus_publisher import FailureKind, Publisher
from signal_platform.errors import MalformedBatchError
from signal_platform.signal_batches import SignalBatcher


@dataclass(slots=True)
class ForwardOutcome:
    """What one invocation did; ``resume_at`` is the sequence number the mapping must retry from."""

    records: int
    signals_forwarded: int = 0
    bus_entries: int = 0
    put_events_calls: int = 0
    resends_dropped: int = 0
    resume_at: str | None = None
    failure: FailureKind | None = None
    malformed: str | None = None
    error_codes: dict[str, int] = field(default_factory=dict)

    def response(self) -> dict[str, list[dict[str, str]]]:
        """``ReportBatchItemFailures``: the first record not done; the mapping keeps the ones before."""
        failures = [{"itemIdentifier": self.resume_at}] if self.resume_at is not None else []
        return {"batchItemFailures": failures}


@dataclass(frozen=True, slots=True)
class Forwarder:
    batcher: SignalBatcher
    publisher: Publisher
    segment_signals: int

    def forward(self, records: Sequence[tuple[str, bytes]], *, deadline: float) -> ForwardOutcome:
        """Publish ``records`` (sequence number, data) in order; stop at the first segment not delivered.

        A record that is not a signal batch stops the invocation at that record: the ones before it
        are published, it and the rest are retried and, once the mapping's retries are spent, sent
        to the on-failure destination (records stay readable in the stream, nothing is skipped)."""
        outcome = ForwardOutcome(records=len(records))
        parsed: list[BufferedRecord] = []
        for sequence_number, data in records:
            try:
                parsed.append(parse_record(sequence_number, data))
            except MalformedBatchError as exc:
                outcome.malformed = str(exc)
                outcome.resume_at = sequence_number
                break
        for segment in segments(parsed, self.segment_signals):
            # Resends are dropped within a segment only: a retry from the segment's first record
            # then sees the same records and packs the same batches.
            kept, dropped = first_copies(segment)
            entries = pack_segment(kept, self.batcher)
            published = self.publisher.publish(entries, deadline=deadline)
            outcome.put_events_calls += published.calls
            for code, count in published.error_codes.items():
                outcome.error_codes[code] = outcome.error_codes.get(code, 0) + count
            if published.undelivered:
                outcome.resume_at = segment[0].sequence_number
                outcome.failure = published.failure
                outcome.malformed = None
                return outcome
            outcome.resends_dropped += dropped
            outcome.bus_entries += len(entries)
            outcome.signals_forwarded += sum(len(entry.event_ids) for entry in entries)
        return outcome
