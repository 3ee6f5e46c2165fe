"""Exactly once into the lake: every duplicate window the S3 writer meets, closed by the lake ledger.

Each test builds the window with the in-memory store and ledger (the DynamoDB ledger's conditions are
pinned against moto in tests/integration/test_s3_writer_ledger.py) and asserts the outcome that
matters: every signal of the batch in the lake exactly once, nothing left that does not count.
"""

from __future__ import annotations

import base64
import copy
from collections import Counter
from typing import Any

import pytest

from s3_writer.lake import PutRequest
from s3_writer.ledger import Attempt
from s3_writer.records import parse_records
from s3_writer.writer import LEASE_MARGIN_SECONDS, BatchWriter, classify
from signal_platform import codec
from tests.unit.test_s3_writer_support import (
    FakeLedger,
    FakeStore,
    batch_record,
    event_ids,
    failures,
    kinesis_record,
    pipe_batch,
    signal,
)

NOW = 1_764_165_900.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _writer(store: FakeStore, ledger: FakeLedger, clock: Clock | None = None) -> BatchWriter:
    return BatchWriter(
        store, ledger, lake_prefix="events", bad_prefix="bad", concurrency=1, clock=clock or Clock()
    )


def _batch(records: int = 6) -> list[dict[str, Any]]:
    """Records of page views and clicks over two hours, so objects gather several records."""
    batches = []
    for index in range(records):
        kind = "click" if index % 2 else "page_view"
        hour = 14 + index % 3 // 2
        derived_at = f"2025-11-26T{hour}:{index % 60:02d}:00.000Z"
        batches.append([signal(kind, derived_at=derived_at) for _ in range(3)])
    return pipe_batch(*batches)


def _signal_ids(payload: list[dict[str, Any]]) -> list[str]:
    return [
        s["event_id"]
        for record in payload
        for s in codec.loads(base64.b64decode(record["data"]))["detail"]["signals"]
    ]


def _exactly_once(store: FakeStore, payload: list[dict[str, Any]]) -> None:
    stored = Counter(store.event_ids())
    assert set(stored) == set(_signal_ids(payload))
    assert {event_id: times for event_id, times in stored.items() if times > 1} == {}


def _redelivered(record: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    """The same enriched batch as another stream record (another sequence number), optionally with
    other bytes (``changes`` to the Detail), as a second PutRecord or a re-put by enrichment makes it."""
    event = codec.loads(base64.b64decode(record["data"]))
    event["id"] = f"redelivery-{index}"
    event["detail"].update(changes)
    return kinesis_record(codec.dumps(event), index)


# ---------------------------------------------------------------------------- timeouts and retries
def test_writer_timed_out_after_its_writes_then_bisected_retry_writes_nothing_again() -> None:
    # GIVEN an invocation that wrote and committed everything, but whose answer was lost (timeout)
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch()
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    objects = dict(store.objects)
    # WHEN the Pipe retries the batch as two halves
    halves = [_writer(store, ledger).write(parse_records(part)) for part in (payload[:3], payload[3:])]
    # THEN both succeed without writing, and every signal is in the lake once
    assert all(half.succeeded and half.records_already_in_lake == 3 for half in halves)
    assert store.objects == objects
    _exactly_once(store, payload)


def test_writer_stopped_between_its_puts_and_its_commit_is_taken_over_after_its_deadline() -> None:
    # GIVEN an invocation that wrote its objects, then could neither commit nor give up (it died)
    clock, store, ledger = Clock(), FakeStore(), FakeLedger()
    payload = _batch()
    ledger.fail = ["commit", "abandon"]
    first = _writer(store, ledger, clock).write(parse_records(payload), remaining_seconds=60)
    assert not first.succeeded and store.objects
    stale = set(store.objects)
    # WHEN the retry comes before the dead invocation's deadline
    early = _writer(store, ledger, clock).write(parse_records(payload[:3]))
    # THEN it writes nothing and hands the batch back (the owner might still be running)
    assert early.response() == failures(*event_ids(payload[:3])) and early.conflict
    assert set(store.objects) == stale
    # WHEN the retries come after the deadline, as two halves
    clock.now = NOW + 60 + LEASE_MARGIN_SECONDS + 1
    halves = [_writer(store, ledger, clock).write(parse_records(part)) for part in (payload[:3], payload[3:])]
    # THEN the dead attempt's objects are gone and every signal is in the lake once
    assert all(half.succeeded for half in halves)
    assert not stale & set(store.objects)
    _exactly_once(store, payload)
    assert ledger.states().count("abandoned") == 1


def test_writer_whose_commit_answer_was_lost_keeps_its_objects_when_the_commit_landed() -> None:
    # GIVEN a commit that landed although the call reported an error
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch()
    real_commit = ledger.commit

    def commit_then_fail(attempt_id: str) -> bool:
        real_commit(attempt_id)
        ledger.fail.append("commit")
        return real_commit(attempt_id)

    ledger.commit = commit_then_fail  # type: ignore[method-assign]
    # WHEN written
    outcome = _writer(store, ledger).write(parse_records(payload))
    # THEN the writer finds the attempt committed, keeps its objects and succeeds
    assert outcome.succeeded
    _exactly_once(store, payload)


def test_writer_ledger_outage_writes_nothing_and_retries_every_record() -> None:
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch()
    ledger.fail = ["owners"]
    outcome = _writer(store, ledger).write(parse_records(payload))
    assert outcome.response() == failures(*event_ids(payload))
    assert store.puts == []
    # AND the retry writes everything once
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    _exactly_once(store, payload)


def test_writer_claims_failing_midway_leave_records_free_for_the_retry() -> None:
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch()
    ledger.fail = ["claim"]
    assert not _writer(store, ledger).write(parse_records(payload)).succeeded
    assert store.puts == []
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    _exactly_once(store, payload)


# ---------------------------------------------------------------------------- the same record twice
def test_same_enriched_batch_twice_in_the_stream_is_written_once() -> None:
    # GIVEN a rule target or an async invoke that delivered the same enriched batch twice
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch(4)
    copy_ = _redelivered(payload[1], 10)
    # WHEN the copy comes in a later Pipe batch, and in the same one
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    later = _writer(store, ledger).write(parse_records([copy_, batch_record([signal()], 11)]))
    same = _redelivered(payload[2], 12)
    # THEN the copies are skipped as already in the lake, and only new signals are written
    assert later.succeeded and later.records_already_in_lake == 1
    assert _writer(store, ledger).write(parse_records([same])).records_already_in_lake == 1
    stored = Counter(store.event_ids())
    assert max(stored.values()) == 1
    assert set(_signal_ids(payload)) <= set(stored)


def test_enrichment_retry_re_putting_a_delivered_entry_with_new_bytes_is_written_once() -> None:
    # GIVEN an enrichment retried after a partly failed PutEvents (or after its idempotency save
    # failed): the entries that got through are put again, same batch id, another enriched_at
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch(3)
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    again = [
        _redelivered(record, 20 + i, enriched_at="2025-11-26T14:09:59.000Z")
        for i, record in enumerate(payload)
    ]
    # WHEN they reach the writer
    outcome = _writer(store, ledger).write(parse_records(again))
    # THEN nothing is written twice
    assert outcome.succeeded and outcome.records_already_in_lake == 3
    _exactly_once(store, payload)


def test_a_copy_of_a_done_record_inside_a_new_record_is_dropped() -> None:
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch(2)
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    known = codec.loads(base64.b64decode(payload[0]["data"]))["detail"]["signals"][0]
    mixed = batch_record([known, signal()], 30)
    outcome = _writer(store, ledger).write(parse_records([payload[0], mixed]))
    assert outcome.succeeded and outcome.duplicates_dropped == 1
    assert max(Counter(store.event_ids()).values()) == 1


# ---------------------------------------------------------------------------- concurrency
def test_two_lanes_writing_the_same_records_at_once_store_them_once() -> None:
    # GIVEN two invocations with the same records (a ParallelizationFactor lane and a replay), the
    # second starting while the first is between its claims and its commit
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch()
    second: dict[str, Any] = {}

    class Interleaved(FakeStore):
        def put(self, request: PutRequest) -> str | None:
            if not second:
                second["outcome"] = _writer(store, ledger).write(parse_records(copy.deepcopy(payload)))
            return store.put(request)

    first = _writer(Interleaved(), ledger).write(parse_records(payload))
    # THEN the first commits, the second backs off without writing, and its retry finds everything done
    assert first.succeeded
    assert second["outcome"].conflict and not second["outcome"].succeeded
    retry = _writer(store, ledger).write(parse_records(payload))
    assert retry.succeeded and retry.records_already_in_lake == len(payload)
    _exactly_once(store, payload)


def test_a_slow_writer_taken_over_after_its_deadline_loses_its_commit_and_removes_its_objects() -> None:
    # GIVEN a writer that is still alive past its deadline, and a retry that takes its records over
    clock, store, ledger = Clock(), FakeStore(), FakeLedger()
    payload = _batch()
    taken: dict[str, Any] = {}

    class Slow(FakeStore):
        def put(self, request: PutRequest) -> str | None:
            version = store.put(request)
            if not taken:
                clock.now = NOW + 120  # the slow writer's lease has run out
                taken["outcome"] = _writer(store, ledger, clock).write(parse_records(payload))
            return version

        def delete(self, key: str, version_id: str | None = None) -> None:
            store.delete(key, version_id)

    slow = _writer(Slow(), ledger, clock).write(parse_records(payload), remaining_seconds=60)
    # THEN the taker commits, the slow writer's commit fails and it deletes what it wrote
    assert taken["outcome"].succeeded
    assert slow.conflict and not slow.succeeded
    _exactly_once(store, payload)


def test_claims_lost_to_a_concurrent_writer_make_the_batch_retry_without_writing() -> None:
    store, ledger = FakeStore(), FakeLedger()
    payload = _batch(2)
    real_claim = ledger.claim

    def someone_else_first(record_id: str, attempt_id: str, *, previous: str | None) -> bool:
        real_claim(record_id, "other-writer", previous=previous)
        return real_claim(record_id, attempt_id, previous=previous)

    ledger.claim = someone_else_first  # type: ignore[method-assign]
    outcome = _writer(store, ledger).write(parse_records(payload))
    assert outcome.conflict and outcome.response() == failures(*event_ids(payload))
    assert store.puts == []


# ---------------------------------------------------------------------------- clean-up deletes
def test_a_late_clean_up_delete_never_removes_a_later_writers_object() -> None:
    # GIVEN a writer whose put fails and whose clean-up deletes reach S3 only after the retry wrote
    store, ledger = FakeStore(fail_put=lambda key: "event_type=click" in key and not retried), FakeLedger()
    payload = _batch()
    retried: list[bool] = []
    late: list[tuple[str, str | None]] = []

    class LateDeletes(FakeStore):
        def put(self, request: PutRequest) -> str | None:
            return store.put(request)

        def delete(self, key: str, version_id: str | None = None) -> None:
            late.append((key, version_id))

    assert not _writer(LateDeletes(), ledger).write(parse_records(payload)).succeeded
    retried.append(True)
    assert _writer(store, ledger).write(parse_records(payload)).succeeded
    # WHEN the first writer's deletes land now
    for key, version in late:
        store.delete(key, version)
    # THEN the retry's objects are intact: each signal once
    _exactly_once(store, payload)
    assert all(version is not None for key, version in late if "event_type=page_view" in key)


def test_failed_put_deletes_its_objects_by_version() -> None:
    store, ledger = FakeStore(fail_put=lambda key: "event_type=click" in key), FakeLedger()
    deleted: list[tuple[str, str | None]] = []
    real_delete = store.delete

    def record(key: str, version_id: str | None = None) -> None:
        deleted.append((key, version_id))
        real_delete(key, version_id)

    store.delete = record  # type: ignore[method-assign]
    assert not _writer(store, ledger).write(parse_records(_batch())).succeeded
    assert store.event_ids() == []
    assert {key for key, version in deleted if version is None} == {
        key for key in store.puts if "event_type=click" in key
    }


# ---------------------------------------------------------------------------- cost and pure logic
@pytest.mark.parametrize("records", [1, 16, 64])
def test_ledger_writes_are_one_per_record_plus_two_per_invocation(records: int) -> None:
    store, ledger = FakeStore(), FakeLedger()
    assert _writer(store, ledger).write(parse_records(_batch(records))).succeeded
    assert Counter(ledger.writes) == {"claim": records, "begin": 1, "commit": 1}


def test_classify_sorts_owners_by_state() -> None:
    attempts = {
        "c": Attempt("c", "committed", NOW - 1),
        "p": Attempt("p", "pending", NOW + 1),
        "x": Attempt("x", "pending", NOW - 1, ("k1",)),
        "a": Attempt("a", "abandoned", NOW + 1, ("k2",)),
    }
    owners = {"r1": "c", "r2": "p", "r3": "x", "r4": "a", "r5": "forgotten"}
    found = classify(owners, attempts, now=NOW)
    assert found.done == {"r1"} and found.held == {"r2"}
    assert found.takeover == {"r3": "x", "r4": "a", "r5": "forgotten"}
    assert set(found.expired) == {"x"} and set(found.abandoned) == {"a"}
