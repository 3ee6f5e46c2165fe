"""The replay tool's pure parts and its replay loop over an in-memory store (no network)."""

from __future__ import annotations

import base64
import http.client
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from dlq_replay.engine import Replayer, run_replay, summary_lines
from dlq_replay.pacing import Pacer
from dlq_replay.selection import Window, listing_prefixes, parse_moment
from dlq_replay.store import ChangedMeanwhileError, ReplayStore, StoredObject
from dlq_replay.targets import HttpTarget, bus_of, pipe_record, record_bytes
from signal_platform import codec
from signal_platform.errors import DlqStoreError, ReplayTargetError
from tools.dlq_progress import ProgressBar

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


# --- time windows and prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-11-26", False, datetime(2026, 11, 26, tzinfo=UTC)),
        ("2026-11-26", True, datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-26T10", False, datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("2026-11-26T10", True, datetime(2026, 11, 26, 11, tzinfo=UTC)),
        ("2026-11-26T10:45", False, datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("2026-11-26T12:45:00+02:00", False, datetime(2026, 11, 26, 10, tzinfo=UTC)),
    ],
)
def test_parse_moment_floors_starts_and_covers_ends(text: str, end: bool, expected: datetime) -> None:
    assert parse_moment(text, end=end) == expected


def test_listing_prefixes_hour_by_hour_for_short_windows() -> None:
    window = Window(parse_moment("2026-11-26T22"), parse_moment("2026-11-27T01", end=True))
    assert listing_prefixes("dlq", "partner", window, "user/1", now=NOW) == [
        "dlq/partner/2026/11/26/22/a298c9161b6cbca40d7c6dfe1a3f95b2/",
        "dlq/partner/2026/11/26/23/a298c9161b6cbca40d7c6dfe1a3f95b2/",
        "dlq/partner/2026/11/27/00/a298c9161b6cbca40d7c6dfe1a3f95b2/",
        "dlq/partner/2026/11/27/01/a298c9161b6cbca40d7c6dfe1a3f95b2/",
    ]


def test_listing_prefixes_day_by_day_for_long_windows_and_whole_consumer_without_one() -> None:
    window = Window(parse_moment("2026-10-01"), parse_moment("2026-11-26", end=True))
    prefixes = listing_prefixes("dlq", "lake", window, None, now=NOW)
    assert prefixes[0] == "dlq/lake/2026/10/01/"
    assert prefixes[-1] == "dlq/lake/2026/11/26/"
    assert len(prefixes) == 57
    assert listing_prefixes("dlq", "lake", Window(), None, now=NOW) == ["dlq/lake/"]
    assert listing_prefixes("dlq", "lake", Window(since=parse_moment("1999-01-01")), None, now=NOW) == [
        "dlq/lake/"
    ]
    assert (
        listing_prefixes("dlq", "lake", Window(NOW, parse_moment("2026-11-01", end=True)), None, now=NOW)
        == []
    )


def test_window_holds_hours_in_its_half_open_range() -> None:
    window = Window(parse_moment("2026-11-26T10"), parse_moment("2026-11-26T11", end=True))
    assert [window.holds(datetime(2026, 11, 26, hour, tzinfo=UTC)) for hour in (9, 10, 11, 12)] == [
        False,
        True,
        True,
        False,
    ]


# --- pacing and progress -----------------------------------------------------------------------------


def test_pacer_spaces_calls_and_is_off_without_a_rate() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert sleeps == [0.25, 0.25]
    unlimited = Pacer(None, sleep=sleeps.append)
    unlimited.wait()
    assert len(sleeps) == 2


def test_progress_bar_draws_counts_and_rate() -> None:
    out = io.StringIO()
    clock = iter([0.0, 2.0, 2.05, 4.0])
    bar = ProgressBar(4, enabled=True, stream=out, width=8, clock=lambda: next(clock))
    bar.update(2, {"replayed": 2, "failed": 0})
    bar.update(3, {"replayed": 3})  # within 0.1 s of the last draw: skipped
    bar.update(4, {"replayed": 3, "failed": 1})
    bar.close()
    lines = out.getvalue().split("\r")
    assert lines[1].startswith("[####....] 2/4  50%  replayed=2  1.0/s")
    assert lines[2].startswith("[########] 4/4 100%  replayed=3 failed=1  1.0/s")
    assert out.getvalue().endswith("\n")


# --- targets -----------------------------------------------------------------------------------------


RECORD = {
    "partitionKey": "user-1",
    "sequenceNumber": "42",
    "approximateArrivalTimestamp": 1795688100.123,
    "shardId": "shardId-000000000002",
    "streamArn": "arn:aws:kinesis:us-west-2:123456789012:stream/signals-data-platform",
    "data": {"detail": {"batch_id": "b"}},
}


def test_pipe_record_rebuilds_the_pipe_shape() -> None:
    rebuilt = pipe_record(RECORD)
    assert rebuilt["eventID"] == "shardId-000000000002:42"
    assert rebuilt["awsRegion"] == "us-west-2"
    assert rebuilt["eventSourceARN"] == RECORD["streamArn"]
    assert codec.loads(base64.b64decode(rebuilt["data"])) == RECORD["data"]
    assert record_bytes({"data_base64": "/wA="}) == b"\xff\x00"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:events:us-west-2:123456789012:rule/signals-ingress/signals-enrichment",
            ("us-west-2", "signals-ingress"),
        ),
        ("arn:aws:events:eu-west-1:123456789012:rule/on-default-bus", ("eu-west-1", "default")),
    ],
)
def test_bus_of_reads_region_and_bus_from_a_rule_arn(arn: str, expected: tuple[str, str]) -> None:
    assert bus_of(arn) == expected


def test_bus_of_refuses_other_arns() -> None:
    with pytest.raises(ReplayTargetError):
        bus_of("arn:aws:sqs:us-west-2:123456789012:queue")


@dataclass
class FakeResponse:
    status: int
    will_close: bool = False

    def read(self) -> bytes:
        return b""


@dataclass
class FakeConnection:
    """Answers from a script: an int is a status, an exception is raised by the request."""

    script: list[int | Exception]
    requests: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)
    closed: bool = False

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.requests.append((method, path, body, headers))
        if isinstance(self.script[0], Exception):
            raise self.script.pop(0)

    def getresponse(self) -> FakeResponse:
        status = self.script.pop(0)
        assert isinstance(status, int)
        return FakeResponse(status)

    def close(self) -> None:
        self.closed = True


def http_target(*connections: FakeConnection, api_key: str | None = "k-1") -> tuple[HttpTarget, list[Any]]:
    opened: list[Any] = []
    pool = list(connections)

    def connect(scheme: str, host: str, port: int | None, timeout: float) -> Any:
        opened.append((scheme, host, port, timeout))
        return pool.pop(0)

    return HttpTarget(
        "https://partner.example:8443/v1/events?v=2", api_key, timeout=3.0, connect=connect
    ), opened


def test_http_target_posts_data_with_the_keys_over_one_connection() -> None:
    connection = FakeConnection([202, 200])
    target, opened = http_target(connection)
    target.send({"record": RECORD})
    target.send({"record": RECORD})
    assert opened == [("https", "partner.example", 8443, 3.0)]
    method, path, body, headers = connection.requests[0]
    assert (method, path) == ("POST", "/v1/events?v=2")
    assert codec.loads(body) == RECORD["data"]
    assert headers["x-api-key"] == "k-1"
    assert headers["idempotency-key"] == "shardId-000000000002:42"
    assert headers["content-type"] == "application/json"


def test_http_target_retries_once_on_a_stale_kept_alive_connection() -> None:
    stale = FakeConnection([200, http.client.RemoteDisconnected("closed")])
    fresh = FakeConnection([200])
    target, opened = http_target(stale, fresh)
    target.send({"record": RECORD})
    target.send({"record": RECORD})
    assert len(opened) == 2
    assert stale.closed
    assert len(fresh.requests) == 1


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ([429], "HTTP 429"),
        ([503], "HTTP 503"),
        ([ConnectionRefusedError("refused")], "not reachable"),
        ([TimeoutError("timed out")], "not reachable"),
        ([http.client.RemoteDisconnected("closed")], "not reachable"),
    ],
)
def test_http_target_turns_failures_into_replay_target_errors(
    script: list[int | Exception], message: str
) -> None:
    target, _ = http_target(FakeConnection(script))
    with pytest.raises(ReplayTargetError, match=message):
        target.send({"record": RECORD})


def test_http_target_refuses_other_schemes_and_objects_without_a_record() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpTarget("file:///etc/passwd", None)
    with pytest.raises(ValueError, match="http"):
        HttpTarget("https://", None)
    with pytest.raises(ReplayTargetError, match="no Kinesis record"):
        HttpTarget("https://partner.example", None).send({"event": {}})


# --- the replay loop over an in-memory store ---------------------------------------------------------


@dataclass
class MemoryReplayStore(ReplayStore):
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__("memory", client=lambda: None)

    def add(self, key: str, body: dict[str, Any]) -> None:
        self.objects[key] = codec.loads(codec.dumps(body))
        self.versions[key] = self.versions.get(key, 0) + 1

    def get(self, key: str) -> StoredObject | None:
        if key not in self.objects:
            return None
        return StoredObject(key, codec.loads(codec.dumps(self.objects[key])), str(self.versions[key]))

    def replace(self, stored: StoredObject) -> None:
        if self.versions.get(stored.key) is None or str(self.versions[stored.key]) != stored.etag:
            raise ChangedMeanwhileError(f"{stored.key} changed meanwhile")
        self.add(stored.key, stored.body)
        stored.etag = str(self.versions[stored.key])

    def put(self, key: str, body: bytes) -> None:
        self.add(key, codec.loads(body))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


@dataclass
class ScriptedTarget:
    name: str = "scripted"
    fail: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)

    def send(self, stored: Mapping[str, Any]) -> None:
        key = stored["record"]["sequenceNumber"]
        self.sent.append(key)
        if key in self.fail:
            raise ReplayTargetError("partner answered HTTP 503")


def store_with(count: int, replayed: int = 0) -> MemoryReplayStore:
    store = MemoryReplayStore()
    for index in range(count):
        store.add(
            f"dlq/p/{index:03d}", {"record": {"sequenceNumber": str(index)}, "replay": {"count": replayed}}
        )
    return store


def run(store: MemoryReplayStore, target: ScriptedTarget, **options: Any) -> Any:
    replayer = Replayer(
        store,
        target,
        max_replays=options.pop("max_replays", 3),
        dry_run=options.pop("dry_run", False),
        done_before=options.pop("done_before", frozenset()),
        now=lambda: NOW,
    )
    selected = sorted(key for key in store.objects if key.startswith("dlq/"))
    return run_replay(
        replayer, selected, pacer=Pacer(None), progress=ProgressBar(1, enabled=False), **options
    )


@pytest.mark.parametrize("workers", [1, 4])
def test_run_replay_moves_successes_and_counts_every_attempt(workers: int) -> None:
    store = store_with(10)
    target = ScriptedTarget(fail={"3", "7"})
    summary = run(store, target, workers=workers)
    assert (summary.counts["replayed"], summary.counts["failed"]) == (8, 2)
    assert [key for key, _ in summary.failures] == ["dlq/p/003", "dlq/p/007"]
    assert sorted(key for key in store.objects if key.startswith("dlq/")) == ["dlq/p/003", "dlq/p/007"]
    assert store.objects["dlq/p/003"]["replay"]["count"] == 1
    assert store.objects["dlq/p/003"]["replay"]["last_error"] == "partner answered HTTP 503"
    done = store.objects["replayed/dlq/p/000"]["replay"]
    assert done == {
        "count": 1,
        "last_attempt_at": "2026-11-26T12:30:00.000Z",
        "target": "scripted",
        "replayed_at": "2026-11-26T12:30:00.000Z",
    }


def test_run_replay_loop_guard_and_dry_run() -> None:
    store = store_with(2, replayed=3)
    store.add("dlq/p/fresh", {"record": {"sequenceNumber": "fresh"}, "replay": {"count": 2}})
    target = ScriptedTarget()
    dry = run(store, target, dry_run=True)
    assert (dry.counts["poison"], dry.counts["would_replay"], target.sent) == (2, 1, [])
    summary = run(store, target)
    assert (summary.counts["poison"], summary.counts["replayed"]) == (2, 1)
    assert summary.poison == ["dlq/p/000", "dlq/p/001"]
    assert not summary.ok


def test_run_replay_limit_stops_and_done_before_is_finished() -> None:
    store = store_with(5)
    store.add("replayed/dlq/p/000", store.objects["dlq/p/000"])
    summary = run(store, ScriptedTarget(), limit=3, done_before=frozenset({"dlq/p/000"}))
    assert summary.interrupted
    assert (summary.counts["already_done"], summary.counts["replayed"]) == (1, 2)
    assert sorted(key for key in store.objects if key.startswith("dlq/")) == ["dlq/p/003", "dlq/p/004"]


def test_run_replay_concurrent_change_is_reported_not_sent() -> None:
    store = store_with(1)
    target = ScriptedTarget()
    original = store.get

    def stale_get(key: str) -> StoredObject | None:
        stored = original(key)
        store.add(key, store.objects[key])  # someone else rewrote it meanwhile
        return stored

    store.get = stale_get  # type: ignore[method-assign]
    summary = run(store, target)
    assert summary.counts["changed"] == 1
    assert target.sent == []


def test_run_replay_store_outage_is_a_failure_of_that_object() -> None:
    store = store_with(2)

    def broken(_key: str) -> StoredObject | None:
        raise DlqStoreError("GetObject failed: InternalError")

    store.get = broken  # type: ignore[method-assign]
    summary = run(store, ScriptedTarget())
    assert summary.counts["failed"] == 2


def test_run_replay_keeps_a_record_the_batcher_set_aside_and_replays_the_rest() -> None:
    # GIVEN a buffer record the batcher set aside (not a signal batch) among ordinary objects
    store = store_with(2)
    set_aside_message = {"requestContext": {"condition": "MalformedRecordSetAside"}, "KinesisBatchInfo": {}}
    store.add(
        "dlq/p/bad",
        {"record": {"sequenceNumber": "bad"}, "dlq": {"message": set_aside_message}, "replay": {"count": 0}},
    )
    target = ScriptedTarget()
    # WHEN a dry run, then a replay, go over them
    dry = run(store, target, dry_run=True)
    summary = run(store, target)
    # THEN it is never sent, nor counted as an attempt: it stays where it is, as the evidence
    assert (dry.counts["kept"], dry.counts["would_replay"]) == (1, 2)
    assert (summary.counts["kept"], summary.counts["replayed"], summary.kept) == (1, 2, ["dlq/p/bad"])
    assert target.sent == ["0", "1"]
    assert store.objects["dlq/p/bad"]["replay"] == {"count": 0}
    assert summary.ok
    lines = summary_lines("buffer", target, summary)
    assert "  kept (set aside by the batcher) 1" in lines
    assert any(line.startswith("kept: dlq/p/bad: a buffer record the batcher set aside") for line in lines)
