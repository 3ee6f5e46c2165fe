"""The batcher's one domain operation: buffer records in, signal batches published, segment by segment,
records that are not signal batches set aside on BufferDlq."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from batcher.models import Invocation, KinesisRecord
from batcher.packing import BufferedRecord, first_copies, pack_segment, parse_record, segments
from batcher.set_aside import on_failure_record
from signal_platform.bus_publisher import FailureKind, Publisher
from signal_platform.errors import DeadLetterSendError, MalformedBatchError
from signal_platform.signal_batches import SignalBatcher
from signal_platform.timeutil import utc_now

DEADLINE_REACHED: Final = "the invocation's deadline passed before SendMessage"


class DeadLetters(Protocol):
    def send(self, message: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True, slots=True)
class SetAside:
    """A record that is not a signal batch, now named by a message on BufferDlq."""

    shard_id: str
    sequence_number: str
    reason: str


@dataclass(slots=True)
class ForwardOutcome:
    """What one invocation did; ``resume_at`` is the sequence number the mapping must retry from.

    ``malformed`` is the reason of a record that is not a signal batch and could not be set aside
    (``set_aside_error`` says why): the invocation stopped at it."""

    records: int
    signals_forwarded: int = 0
    bus_entries: int = 0
    put_events_calls: int = 0
    resends_dropped: int = 0
    resume_at: str | None = None
    failure: FailureKind | None = None
    malformed: str | None = None
    set_aside_error: str | None = None
    set_aside: list[SetAside] = field(default_factory=list)
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
    dead_letters: DeadLetters
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic

    def forward(
        self, records: Sequence[KinesisRecord], *, deadline: float, invocation: Invocation
    ) -> ForwardOutcome:
        """Publish ``records`` in order; stop at the first segment not delivered.

        A record that is not a signal batch ends the run of records before it (published first, so
        a segment never spans it and a retry packs the same batches whether or not it is set aside
        then) and is set aside on BufferDlq; the records after it go on. When it cannot be set
        aside (``SendMessage`` fails, or the deadline has passed), the invocation stops at it: it
        and the rest are retried (nothing is skipped)."""
        outcome = ForwardOutcome(records=len(records))
        run: list[BufferedRecord] = []
        for record in records:
            try:
                run.append(parse_record(record.sequence_number, record.data))
                continue
            except MalformedBatchError as exc:
                error = exc
            if not self._publish(run, outcome, deadline):
                return outcome
            run = []
            if not self._set_aside(record, error, invocation, outcome, deadline):
                return outcome
        self._publish(run, outcome, deadline)
        return outcome

    def _set_aside(
        self,
        record: KinesisRecord,
        error: MalformedBatchError,
        invocation: Invocation,
        outcome: ForwardOutcome,
        deadline: float,
    ) -> bool:
        # Past the deadline it is held like a refused send: a batch of many such records (a
        # validator writing a contract this batcher does not read) would otherwise run into the
        # function's timeout, and a timeout retries the whole batch, the same sends again, forever.
        problem = DEADLINE_REACHED if self.monotonic() >= deadline else None
        if problem is None:
            try:
                self.dead_letters.send(on_failure_record(record, invocation, error, self.clock()))
            except DeadLetterSendError as exc:
                problem = str(exc)
        if problem is not None:
            outcome.resume_at = record.sequence_number
            outcome.malformed = str(error)
            outcome.set_aside_error = problem
            return False
        outcome.set_aside.append(SetAside(record.shard_id, record.sequence_number, str(error)))
        return True

    def _publish(self, parsed: Sequence[BufferedRecord], outcome: ForwardOutcome, deadline: float) -> bool:
        """Publish ``parsed`` segment by segment; False (``resume_at`` set) at the first not delivered."""
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
                return False
            outcome.resends_dropped += dropped
            outcome.bus_entries += len(entries)
            outcome.signals_forwarded += sum(len(entry.event_ids) for entry in entries)
        return True
