"""The S3 writer's one domain operation: a Pipe batch in, each record's signals in the lake EXACTLY ONCE.

Duplicates come from everywhere upstream: a Pipe retry (whole, bisected, merged with newer records),
a writer that timed out after its writes, two Pipe lanes or a replay handling the same records at
the same time, the same enriched batch put on the stream twice (EventBridge's at-least-once rule
targets and async invokes, an enrichment retried after a partly failed PutEvents or after its
idempotency save failed). Every copy of a record carries the same enriched batch id (derived from
its signals' ``event_id``s), so the writer keeps a ledger per record (``s3_writer.ledger``):

1. Read the owners of the batch's records. A record whose owner COMMITTED is in the lake: it is
   written nowhere, and a copy of one of its signals inside another record is dropped too. A record
   owned by a RUNNING invocation (pending, before its deadline) makes this invocation back off: every
   record is retried, nothing is written. A record whose owner died (pending past its deadline) or
   gave up (abandoned) is taken over: the owner is marked abandoned (a conditional update that loses
   against its own commit) and its objects are deleted (their keys are its own, see below).
2. Begin a pending attempt (its deadline = this invocation's, its keys = the objects it will write),
   then claim each record it writes with a conditional put (no owner, or still the owner it
   replaces). A claim lost to a concurrent writer makes this invocation give up and retry.
3. PUT the objects (one per partition group, as before), then COMMIT the attempt: pending →
   committed, conditional. Only a committed attempt's objects count; the commit and a takeover's
   abandon are decided by one item, so exactly one of them wins.

All or nothing, as before: if any PUT fails, the attempt is abandoned, every object it attempted is
deleted (by ``VersionId`` when the PUT answered one; by key when the PUT's outcome is unknown) and
every record of the batch is named in ``batchItemFailures`` (a Kinesis source retries from the
lowest, and may bisect or merge the retried range). Object keys carry the attempt id, so no two
attempts ever write the same key: a late clean-up delete can only remove its own attempt's object,
never a later writer's. A crash anywhere leaves a pending attempt whose records the next writer
takes over once the deadline has passed, deleting whatever the dead attempt managed to write.

Cost: one ledger write per record (~50 signals) plus two per invocation; the reads are one
``BatchGetItem`` per 100 records. A payload that is not the Pipe's record array raises
(``PipeEventError``): the whole batch is retried, bisected, and finally sent to the Pipe's DLQ.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Final, Protocol

from s3_writer.lake import BatchPlan, DecodedRecord, PlannedObject, PutRequest, decode_records, plan_batch
from s3_writer.ledger import Attempt, Ledger
from s3_writer.records import PipeRecord
from s3_writer.settings import DEFAULT_GZIP_LEVEL, DEFAULT_WRITE_CONCURRENCY
from signal_platform.errors import LakeLedgerError, LakeWriteError


class ObjectStore(Protocol):
    def put(self, request: PutRequest) -> str | None:
        """Write the object; its ``VersionId`` (None when the bucket answers none)."""
        ...

    def delete(self, key: str, version_id: str | None = None) -> None: ...


# Added to an invocation's deadline before another writer may take its records over: a PUT sent just
# before the deadline may still be applied by S3 a moment after the function was stopped.
LEASE_MARGIN_SECONDS: Final = 10.0
# Deadline assumed when the caller gives none: Lambda's longest timeout.
DEFAULT_LEASE_SECONDS: Final = 900.0


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    records: int
    signals_written: int = 0
    lake_objects: int = 0
    bad_records: int = 0
    duplicates_dropped: int = 0
    records_already_in_lake: int = 0
    failed_event_ids: tuple[str, ...] = ()
    failed_writes: tuple[str, ...] = ()
    not_deleted: tuple[str, ...] = ()
    # Why the batch was handed back without an error: another invocation holds or won its records.
    conflict: str | None = None

    @property
    def succeeded(self) -> bool:
        return not self.failed_event_ids

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The Pipe's partial-failure answer: ``itemIdentifier`` is the record's ``eventID``."""
        return {"batchItemFailures": [{"itemIdentifier": event_id} for event_id in self.failed_event_ids]}


@dataclass(slots=True)
class _Owners:
    """What the ledger says about the batch's records."""

    done: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    takeover: dict[str, str] = field(default_factory=dict)  # record id -> the owner it replaces
    expired: dict[str, Attempt] = field(default_factory=dict)  # pending past their deadline
    abandoned: dict[str, Attempt] = field(default_factory=dict)


def classify(owners: dict[str, str], attempts: dict[str, Attempt], *, now: float) -> _Owners:
    """Pure: sort the batch's records by the state of their owners."""
    found = _Owners()
    for record_id, attempt_id in owners.items():
        owner = attempts.get(attempt_id)
        if owner is not None and owner.state == "committed":
            found.done.add(record_id)
        elif owner is not None and owner.state == "pending" and owner.deadline >= now:
            found.held.add(record_id)
        else:
            found.takeover[record_id] = attempt_id
            if owner is not None and owner.state == "pending":
                found.expired[attempt_id] = owner
            elif owner is not None:
                found.abandoned[attempt_id] = owner
    return found


class BatchWriter:
    def __init__(
        self,
        store: ObjectStore,
        ledger: Ledger,
        *,
        lake_prefix: str,
        bad_prefix: str,
        gzip_level: int = DEFAULT_GZIP_LEVEL,
        concurrency: int = DEFAULT_WRITE_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        new_attempt_id: Callable[[], str] = lambda: uuid.uuid4().hex[:16],
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._lake_prefix = lake_prefix
        self._bad_prefix = bad_prefix
        self._gzip_level = gzip_level
        self._concurrency = concurrency
        self._clock = clock
        self._new_attempt_id = new_attempt_id
        self._executor: ThreadPoolExecutor | None = None

    def write(self, records: Sequence[PipeRecord], *, remaining_seconds: float | None = None) -> WriteOutcome:
        """``remaining_seconds``: how long this invocation may still run (Lambda's remaining time)."""
        decoded = decode_records(records)
        if not decoded:
            return WriteOutcome(records=0)
        not_deleted: list[str] = []
        try:
            return self._write(records, decoded, remaining_seconds, not_deleted)
        except _LostRaceError as lost:
            return self._retry(records, conflict=str(lost), not_deleted=not_deleted)
        except LakeLedgerError as error:
            return self._retry(records, failed_writes=(str(error),), not_deleted=not_deleted)

    def _write(
        self,
        records: Sequence[PipeRecord],
        decoded: Sequence[DecodedRecord],
        remaining_seconds: float | None,
        not_deleted: list[str],
    ) -> WriteOutcome:
        owners = self._read_owners([item.record_id for item in decoded])
        if owners.held:
            raise _LostRaceError(f"{len(owners.held)} records held by a running invocation")
        not_deleted += self._take_over(owners)
        attempt_id = self._new_attempt_id()
        plan = plan_batch(
            decoded,
            lake_prefix=self._lake_prefix,
            bad_prefix=self._bad_prefix,
            attempt=attempt_id,
            done=owners.done,
        )
        if not plan.record_ids:
            return WriteOutcome(records=len(records), records_already_in_lake=plan.records_done)
        # The one clock of the writer: after this moment the invocation cannot be running any more.
        until = self._clock() + (DEFAULT_LEASE_SECONDS if remaining_seconds is None else remaining_seconds)
        try:
            self._ledger.begin(Attempt(attempt_id, "pending", until + LEASE_MARGIN_SECONDS, tuple(plan.keys)))
            self._claim(plan, attempt_id, owners.takeover)
        except (_LostRaceError, LakeLedgerError):
            self._give_up(attempt_id)
            raise
        return self._write_and_commit(records, plan, attempt_id, not_deleted)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # ------------------------------------------------------------------ ledger steps
    def _read_owners(self, record_ids: list[str]) -> _Owners:
        owners = self._ledger.owners(record_ids)
        attempts = self._ledger.attempts(set(owners.values())) if owners else {}
        return classify(owners, attempts, now=self._clock())

    def _take_over(self, owners: _Owners) -> list[str]:
        """Abandon the dead owners (each loses only if it committed meanwhile) and delete their objects."""
        for attempt_id in owners.expired:
            if not self._ledger.abandon(attempt_id, expired_at=self._clock()):
                raise _LostRaceError(f"attempt {attempt_id} committed while this invocation took it over")
        stale = [*owners.expired.values(), *owners.abandoned.values()]
        return self._delete([(key, None) for attempt in stale for key in attempt.keys])

    def _claim(self, plan: BatchPlan, attempt_id: str, takeover: dict[str, str]) -> None:
        def claim(record_id: str) -> bool:
            return self._ledger.claim(record_id, attempt_id, previous=takeover.get(record_id))

        won = (
            list(self._pool().map(claim, plan.record_ids))
            if self._concurrency > 1
            else [claim(record_id) for record_id in plan.record_ids]
        )
        lost = won.count(False)
        if lost:
            raise _LostRaceError(f"{lost} records claimed by a concurrent invocation")

    def _give_up(self, attempt_id: str) -> None:
        """Best effort: mark the attempt abandoned so its claims are free at once, not at its deadline."""
        with contextlib.suppress(LakeLedgerError):  # if not, its claims are taken over after its deadline
            self._ledger.abandon(attempt_id)

    def _settled(self, attempt_id: str) -> bool | None:
        """After a commit whose answer was lost: True committed, False abandoned, None unknown."""
        try:
            return not self._ledger.abandon(attempt_id)
        except LakeLedgerError:
            return None

    # ------------------------------------------------------------------ objects
    def _write_and_commit(
        self, records: Sequence[PipeRecord], plan: BatchPlan, attempt_id: str, not_deleted: list[str]
    ) -> WriteOutcome:
        attempted: dict[str, str | None] = {}
        try:
            failures = self._put_all(plan.objects, attempted)
        except BaseException:
            # An unexpected fault fails the whole invocation: nothing it wrote may stay either.
            self._give_up(attempt_id)
            self._delete(list(attempted.items()))
            raise
        if failures:
            self._give_up(attempt_id)
            not_deleted += self._delete(list(attempted.items()))
            return self._retry(records, failed_writes=tuple(map(str, failures)), not_deleted=not_deleted)
        try:
            committed: bool | None = self._ledger.commit(attempt_id)
        except LakeLedgerError as error:
            committed = self._settled(attempt_id)
            if committed is None:
                # Unknown: leave the objects; whoever takes the records over after the deadline
                # abandons this attempt (or finds it committed) and deletes them if they do not count.
                return self._retry(records, failed_writes=(str(error),), not_deleted=not_deleted)
        if not committed:
            not_deleted += self._delete(list(attempted.items()))
            return self._retry(
                records, conflict=f"attempt {attempt_id} was taken over", not_deleted=not_deleted
            )
        return WriteOutcome(
            records=len(records),
            signals_written=plan.signals,
            lake_objects=len(plan.lake_objects),
            bad_records=len(plan.bad_objects),
            duplicates_dropped=plan.duplicates_dropped,
            records_already_in_lake=plan.records_done,
            not_deleted=tuple(not_deleted),
        )

    @staticmethod
    def _retry(
        records: Sequence[PipeRecord],
        *,
        failed_writes: tuple[str, ...] = (),
        not_deleted: Sequence[str] = (),
        conflict: str | None = None,
    ) -> WriteOutcome:
        return WriteOutcome(
            records=len(records),
            failed_event_ids=tuple(dict.fromkeys(record.event_id for record in records)),
            failed_writes=failed_writes,
            not_deleted=tuple(not_deleted),
            conflict=conflict,
        )

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="lake-put")
        return self._executor

    def _put(self, planned: PlannedObject) -> str | None:
        return self._store.put(planned.put_request(self._gzip_level))

    def _put_all(
        self, objects: Sequence[PlannedObject], attempted: dict[str, str | None]
    ) -> list[LakeWriteError]:
        """Every object, until the first failure; ``attempted`` maps each started put's key to its version."""
        if self._concurrency == 1 or len(objects) <= 1:
            for planned in objects:
                attempted[planned.key] = None
                try:
                    attempted[planned.key] = self._put(planned)
                except LakeWriteError as error:
                    return [error]
            return []
        return self._put_concurrently(objects, attempted)

    def _put_concurrently(
        self, objects: Sequence[PlannedObject], attempted: dict[str, str | None]
    ) -> list[LakeWriteError]:
        executor = self._pool()
        futures: list[Future[str | None]] = [executor.submit(self._put, planned) for planned in objects]
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
            error = future.exception()
            attempted[planned.key] = future.result() if error is None else None
            if isinstance(error, LakeWriteError):
                failures.append(error)
            elif error is not None and unexpected is None:
                unexpected = error
        if unexpected is not None:
            raise unexpected
        return failures

    def _delete(self, objects: Sequence[tuple[str, str | None]]) -> list[str]:
        """Best effort: delete each (key, version); the keys that could not be deleted."""
        not_deleted: list[str] = []
        for key, version in objects:
            try:
                self._store.delete(key, version)
            except LakeWriteError:
                not_deleted.append(key)
        return not_deleted


class _LostRaceError(Exception):
    """Another invocation won a record or an attempt this one needed: retry the batch later."""
