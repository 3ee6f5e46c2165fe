"""The S3 writer's one domain operation: a Pipe batch in, its lake objects written ALL OR NOTHING.

Why all or nothing, and why a failure names EVERY record of the batch
---------------------------------------------------------------------
A Kinesis source (through a Pipe, as through a Lambda event source mapping) retries a partially
failed batch from the LOWEST sequence number in ``batchItemFailures``: every record below it is
checkpointed as done, every record from it on is delivered again, possibly bisected into a smaller
batch (``OnPartialBatchItemFailure: AUTOMATIC_BISECT``) or, after a checkpoint, merged with newer
records. Lake keys are made of the records a group holds (``<shardId>-<firstSeq>-<lastSeq>``), so a
re-delivery with another composition writes the same signals under DIFFERENT keys. Hence:

1. Keeping the groups already written and naming only the failed groups' records (plus every record
   after the lowest of them) duplicates signals: a written group (event type x hour) interleaves
   through the whole batch, so it nearly always also holds records at or after the checkpoint, and
   the retry writes their signals again under a new key.
2. Deleting just the groups that reach into the retried range loses signals instead: those groups
   also hold records BELOW the checkpoint, which the Pipe considers done. Lowering the checkpoint to
   the first record of every deleted group, and repeating until nothing changes, ends at the batch's
   first record in practice, and the in-batch dedup makes that bookkeeping worse (a dropped
   duplicate's first copy may sit in a deleted group while the duplicate itself is checkpointed).
3. So if ANY object of an invocation fails, the writer deletes every object it attempted (the
   written ones, and the failed ones too: a PutObject that timed out may still have landed) and
   answers with the ``eventID`` of EVERY record of the batch, in delivery order. Nothing of the
   invocation stays in the bucket, no record is checkpointed, and whatever batch the Pipe sends
   next (the same one, a half, a merge with newer records) is written from scratch under its own
   keys: no record left out, no signal doubled. Naming every record rather than only the first is
   the same instruction to Kinesis (the lowest wins) and stays right for any reader that takes the
   list item by item (the local Pipe emulator, the no-loss accounting). Bad records are included:
   their ``bad/`` objects are deleted too, so a batch that ends in the Pipe's DLQ is not also
   counted in ``bad/``.

What remains: a delete that fails (the outcome lists the keys; the handler logs them and counts
``LakeCleanupFailures``), or a Lambda timeout between writes, can leave an object whose signals the
retry writes again under another key. The Athena view ``events_dedup`` (docs/lake.md) keeps one row
per ``event_id``, so readers never see those copies. Success answers ``{"batchItemFailures": []}``;
a payload that is not the Pipe's record array raises (``PipeEventError``): the whole batch is
retried, bisected, and finally sent to the Pipe's DLQ. An empty or unknown ``itemIdentifier`` is
never returned: the identifiers are the payload's own ``eventID``s, checked when it is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from s3_writer.lake import BatchPlan, PlannedObject, PutRequest, plan_batch
from s3_writer.records import PipeRecord
from s3_writer.settings import DEFAULT_GZIP_LEVEL, DEFAULT_WRITE_CONCURRENCY
from signal_platform.errors import LakeWriteError


class ObjectStore(Protocol):
    def put(self, request: PutRequest) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    records: int
    signals_written: int
    lake_objects: int
    bad_records: int
    duplicates_dropped: int
    failed_event_ids: tuple[str, ...] = ()
    failed_writes: tuple[str, ...] = ()
    not_deleted: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return not self.failed_event_ids

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The Pipe's partial-failure answer: ``itemIdentifier`` is the record's ``eventID``."""
        return {"batchItemFailures": [{"itemIdentifier": event_id} for event_id in self.failed_event_ids]}


class BatchWriter:
    def __init__(
        self,
        store: ObjectStore,
        *,
        lake_prefix: str,
        bad_prefix: str,
        gzip_level: int = DEFAULT_GZIP_LEVEL,
        concurrency: int = DEFAULT_WRITE_CONCURRENCY,
    ) -> None:
        self._store = store
        self._lake_prefix = lake_prefix
        self._bad_prefix = bad_prefix
        self._gzip_level = gzip_level
        self._concurrency = concurrency
        self._executor: ThreadPoolExecutor | None = None

    def plan(self, records: Sequence[PipeRecord]) -> BatchPlan:
        return plan_batch(records, lake_prefix=self._lake_prefix, bad_prefix=self._bad_prefix)

    def write(self, records: Sequence[PipeRecord]) -> WriteOutcome:
        plan = self.plan(records)
        attempted: list[PlannedObject] = []
        try:
            failures = self._put_all(plan.objects, attempted)
        except BaseException:
            # An unexpected fault fails the whole invocation: nothing it wrote may stay either.
            self._delete(attempted)
            raise
        if not failures:
            return WriteOutcome(
                records=len(records),
                signals_written=plan.signals,
                lake_objects=len(plan.lake_objects),
                bad_records=len(plan.bad_objects),
                duplicates_dropped=plan.duplicates_dropped,
            )
        return WriteOutcome(
            records=len(records),
            signals_written=0,
            lake_objects=0,
            bad_records=0,
            duplicates_dropped=0,
            failed_event_ids=tuple(dict.fromkeys(record.event_id for record in records)),
            failed_writes=tuple(str(error) for error in failures),
            not_deleted=tuple(self._delete(attempted)),
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _put(self, planned: PlannedObject) -> None:
        self._store.put(planned.put_request(self._gzip_level))

    def _put_all(
        self, objects: Sequence[PlannedObject], attempted: list[PlannedObject]
    ) -> list[LakeWriteError]:
        """Every object, until the first failure; ``attempted`` collects each object whose put started."""
        if self._concurrency == 1 or len(objects) <= 1:
            for planned in objects:
                attempted.append(planned)
                try:
                    self._put(planned)
                except LakeWriteError as error:
                    return [error]
            return []
        return self._put_concurrently(objects, attempted)

    def _put_concurrently(
        self, objects: Sequence[PlannedObject], attempted: list[PlannedObject]
    ) -> list[LakeWriteError]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="lake-put")
        futures: list[Future[None]] = [self._executor.submit(self._put, planned) for planned in objects]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.exception() is not None for future in done):
            for future in futures:
                future.cancel()  # the ones not started yet; a failed batch writes nothing more
        wait(futures)  # no put may still be in flight when the clean-up starts
        failures: list[LakeWriteError] = []
        unexpected: BaseException | None = None
        for planned, future in zip(objects, futures, strict=True):
            if future.cancelled():
                continue
            attempted.append(planned)
            error = future.exception()
            if isinstance(error, LakeWriteError):
                failures.append(error)
            elif error is not None and unexpected is None:
                unexpected = error
        if unexpected is not None:
            raise unexpected
        return failures

    def _delete(self, attempted: Sequence[PlannedObject]) -> list[str]:
        """Best effort: delete every attempted object; the keys that could not be deleted."""
        not_deleted: list[str] = []
        for planned in attempted:
            try:
                self._store.delete(planned.key)
            except LakeWriteError:
                not_deleted.append(planned.key)
        return not_deleted
