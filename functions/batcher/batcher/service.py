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
from signal_platform.errors import DeadLetterSendError, MalformedBatchError, SegmentCutsError
from signal_platform.signal_batches import SignalBatcher
from signal_platform.timeutil import utc_now

DEADLINE_REACHED: Final = "the invocation's deadline passed before SendMessage"


class DeadLetters(Protocol):
    def send(self, message: Mapping[str, Any]) -> str: ...


class Cuts(Protocol):
    """Where segments that were not delivered ended (``batcher.cuts.SegmentCuts``)."""

    def end_of(self, shard_id: str, first_sequence: str) -> str | None: ...

    def remember(self, shard_id: str, first_sequence: str, last_sequence: str) -> None: ...


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
    (``set_aside_error`` says why): the invocation stopped at it. ``cut_not_kept`` says why the cut of
    the segment that failed could not be kept; ``cut_not_reproduced`` that this invocation started
    at a failed segment whose last record it does not hold (its batch is shorter than the first
    attempt's): either way the retry may pack those signals into other batches than the first."""

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
    cut_not_kept: str | None = None
    cut_not_reproduced: bool = False

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
    cuts: Cuts
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
        and the rest are retried (nothing is skipped).

        An invocation that starts where a segment failed ends its first segment where that one ended
        (``cuts``); ``SegmentCutsError`` when that cannot be read: the mapping retries the batch."""
        outcome = ForwardOutcome(records=len(records))
        first_end = self._kept_cut(records, outcome)
        shard_id = records[0].shard_id if records else ""  # a mapping's batch is one shard's
        run: list[BufferedRecord] = []
        for record in records:
            try:
                run.append(parse_record(record.sequence_number, record.data))
                continue
            except MalformedBatchError as exc:
                error = exc
            if not self._publish(run, outcome, deadline, first_end, shard_id):
                return outcome
            run, first_end = [], None
            if not self._set_aside(record, error, invocation, outcome, deadline):
                return outcome
        self._publish(run, outcome, deadline, first_end, shard_id)
        return outcome

    def _kept_cut(self, records: Sequence[KinesisRecord], outcome: ForwardOutcome) -> str | None:
        """The last record of the failed segment this batch starts at, when the batch holds it."""
        if not records:
            return None
        end = self.cuts.end_of(records[0].shard_id, records[0].sequence_number)
        if end is not None and not any(record.sequence_number == end for record in records):
            outcome.cut_not_reproduced = True
            return None
        return end

    def _keep_cut(self, shard_id: str, segment: Sequence[BufferedRecord], outcome: ForwardOutcome) -> None:
        """Its records are retried whether or not the cut is kept: nothing is lost either way."""
        first, last = segment[0].sequence_number, segment[-1].sequence_number
        try:
            self.cuts.remember(shard_id, first, last)
        except SegmentCutsError as exc:
            outcome.cut_not_kept = str(exc)

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

    def _publish(
        self,
        parsed: Sequence[BufferedRecord],
        outcome: ForwardOutcome,
        deadline: float,
        first_end: str | None,
        shard_id: str,
    ) -> bool:
        """Publish ``parsed`` segment by segment, the first ending at ``first_end`` when given; False
        (``resume_at`` set, the segment's cut kept) at the first segment not delivered."""
        for segment in segments(parsed, self.segment_signals, first_end=first_end):
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
                if segment[-1].sequence_number != first_end:  # a kept cut is kept already
                    self._keep_cut(shard_id, segment, outcome)
                return False
            outcome.resends_dropped += dropped
            outcome.bus_entries += len(entries)
            outcome.signals_forwarded += sum(len(entry.event_ids) for entry in entries)
        return True
