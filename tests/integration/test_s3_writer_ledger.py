"""The lake ledger on moto DynamoDB, and the writer with it on moto S3: conditions, takeovers, races."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from s3_writer.ledger import Attempt, DynamoDbLedger
from s3_writer.records import parse_records
from s3_writer.storage import LakeWriter
from s3_writer.writer import LEASE_MARGIN_SECONDS, BatchWriter, WriteOutcome
from tests.conftest import FakeLambdaContext
from tests.integration.test_s3_writer_support import LEDGER_TABLE, LakeBucket, lake_bucket
from tests.unit.test_s3_writer_exactly_once import NOW, Clock, _batch, _signal_ids

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeBucket]:
    with lake_bucket(monkeypatch) as bucket:
        yield bucket


def _ledger(clock: Clock | None = None) -> DynamoDbLedger:
    return DynamoDbLedger(LEDGER_TABLE, retention_seconds=86_400, clock=clock or Clock())


def _writer(lake: LakeBucket, clock: Clock, ledger: Any = None, concurrency: int = 4) -> BatchWriter:
    return BatchWriter(
        LakeWriter(lake.name),
        ledger or _ledger(clock),
        lake_prefix="events",
        bad_prefix="bad",
        concurrency=concurrency,
        clock=clock,
    )


def _stored(lake: LakeBucket) -> Counter[str]:
    return Counter(line["event_id"] for key in lake.listing("events/") for line in lake.lines(key))


@pytest.mark.usefixtures("lake")
def test_ledger_claims_are_exclusive_and_a_takeover_names_the_owner_it_replaces() -> None:
    ledger = _ledger()
    assert ledger.claim("b1", "a1", previous=None)
    assert not ledger.claim("b1", "a2", previous=None)
    assert not ledger.claim("b1", "a2", previous="a3")
    assert ledger.claim("b1", "a2", previous="a1")
    assert ledger.owners(["b1", "b2"]) == {"b1": "a2"}


@pytest.mark.usefixtures("lake")
def test_ledger_commit_and_abandon_exclude_each_other() -> None:
    ledger = _ledger()
    ledger.begin(Attempt("a1", "pending", NOW + 60, ("k1", "k2")))
    ledger.begin(Attempt("a2", "pending", NOW + 60))
    assert ledger.commit("a1") and not ledger.abandon("a1")
    assert ledger.abandon("a2") and not ledger.commit("a2") and ledger.abandon("a2")
    found = ledger.attempts(["a1", "a2", "a3"])
    assert found == {
        "a1": Attempt("a1", "committed", NOW + 60, ("k1", "k2")),
        "a2": Attempt("a2", "abandoned", NOW + 60),
    }


@pytest.mark.usefixtures("lake")
def test_ledger_abandons_a_running_attempt_only_after_its_deadline() -> None:
    ledger = _ledger()
    ledger.begin(Attempt("a1", "pending", NOW + 60))
    assert not ledger.abandon("a1", expired_at=NOW + 59)
    assert ledger.abandon("a1", expired_at=NOW + 61)


@pytest.mark.usefixtures("lake")
def test_ledger_reads_more_records_than_one_batch_get_holds() -> None:
    ledger = _ledger()
    for index in range(130):
        ledger.claim(f"b{index}", "a1", previous=None)
    assert len(ledger.owners([f"b{index}" for index in range(140)])) == 130


def test_handler_retried_after_a_timeout_after_its_writes_stores_each_signal_once(
    lake: LakeBucket, lambda_context: FakeLambdaContext
) -> None:
    from s3_writer.handler import lambda_handler

    payload = _batch(8)
    assert lambda_handler(payload, lambda_context) == {"batchItemFailures": []}
    # the answer was lost: the Pipe retries the batch bisected
    assert lambda_handler(payload[:4], lambda_context) == {"batchItemFailures": []}
    assert lambda_handler(payload[4:], lambda_context) == {"batchItemFailures": []}
    stored = _stored(lake)
    assert set(stored) == set(_signal_ids(payload)) and max(stored.values()) == 1


def test_writer_dead_between_puts_and_commit_is_taken_over_and_its_objects_removed(lake: LakeBucket) -> None:
    # GIVEN a writer that put its objects and died before its commit (moto: the commit never runs)
    clock = Clock()
    payload = _batch(6)

    class DiesBeforeCommit(DynamoDbLedger):
        def commit(self, attempt_id: str) -> bool:
            raise SystemExit(f"the invocation was stopped before committing {attempt_id}")

    with pytest.raises(SystemExit):
        _writer(lake, clock, DiesBeforeCommit(LEDGER_TABLE, retention_seconds=86_400, clock=clock)).write(
            parse_records(payload), remaining_seconds=60
        )
    assert lake.listing("events/")  # what it wrote is there, uncommitted
    # WHEN retried after its deadline
    clock.now = NOW + 61 + LEASE_MARGIN_SECONDS
    outcome = _writer(lake, clock).write(parse_records(payload))
    # THEN the dead attempt's objects are gone and every signal is in the lake once
    assert outcome.succeeded
    stored = _stored(lake)
    assert set(stored) == set(_signal_ids(payload)) and max(stored.values()) == 1


def test_two_writers_racing_on_the_same_records_store_each_signal_once(lake: LakeBucket) -> None:
    # GIVEN two writers (two Pipe lanes, or a lane and a replay) with the same records, on real threads
    clock = Clock()
    payload = _batch(12)
    outcomes: list[WriteOutcome] = []
    start = threading.Barrier(2)

    def lane() -> None:
        writer = _writer(lake, clock)
        start.wait()
        for _ in range(50):  # the Pipe retries a batch handed back
            outcome = writer.write(parse_records(payload))
            outcomes.append(outcome)
            if outcome.succeeded:
                return
            time.sleep(0.01)

    threads = [threading.Thread(target=lane) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN both lanes end successfully and the lake holds every signal exactly once
    assert sum(outcome.succeeded for outcome in outcomes) == 2
    stored = _stored(lake)
    assert set(stored) == set(_signal_ids(payload)) and max(stored.values()) == 1


def test_lake_objects_of_a_failed_attempt_are_deleted_by_version(
    lake: LakeBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_s3_writer_support import install_flaky_s3

    flaky = install_flaky_s3(
        monkeypatch, lambda operation, key: operation == "put_object" and "=click/" in key
    )
    outcome = _writer(lake, Clock(), concurrency=1).write(parse_records(_batch(4)))
    assert not outcome.succeeded
    # no object and no delete marker left: the written versions were removed, not hidden
    versions = lake.s3.list_object_versions(Bucket=lake.name)
    assert versions.get("Versions", []) == []
    assert flaky.calls
