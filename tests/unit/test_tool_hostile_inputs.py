"""The operator tools against odd stored objects and odd arguments: a DLQ store object of an odd
shape is a failure of that object (counted, its reason kept, the run goes on), never the end of the
run; an odd argument to the DLQ or the archive replay tool is refused with a clear message, never a
traceback."""

from __future__ import annotations

from typing import Any

import pytest

from dlq_replay.selection import Window, dated_keys, parse_moment
from dlq_replay.targets import BusTarget, StreamTarget
from tests.unit.test_dlq_tool import (
    RECORD,
    FakeConnection,
    MemoryReplayStore,
    ScriptedTarget,
    http_target,
    run,
)
from tools import dlq, replay, sources

GOOD = {"record": RECORD, "replay": {"count": 0}}


class AcceptingClient:
    """Kinesis PutRecord and EventBridge PutEvents, both taking everything they are given."""

    def put_record(self, **_: Any) -> dict[str, Any]:
        return {"SequenceNumber": "1", "ShardId": "shardId-000000000000"}

    def put_events(self, **_: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}


def _targets() -> dict[str, Any]:
    client = AcceptingClient()
    http, _ = http_target(FakeConnection([200] * 10))
    return {
        "http": http,
        "stream": StreamTarget(client=lambda _region: client),
        "bus": BusTarget(bus="signals-ingress", client=lambda _region: client),
    }


ODD_OBJECTS: dict[str, dict[str, Any]] = {
    "bad-base64": {"record": {"data_base64": "!!not base64!!", "streamArn": "arn:aws:kinesis:x:1:stream/s"}},
    "base64-not-text": {"record": {"data_base64": 7, "streamArn": "arn:aws:kinesis:x:1:stream/s"}},
    "dlq-not-an-object": {"event": {"source": "s", "detail": {}}, "dlq": "oops"},
    "resources-not-a-list": {"event": {"source": "s", "detail": {}, "resources": 5}},
}


@pytest.mark.parametrize("target_name", ["http", "stream", "bus"])
@pytest.mark.parametrize("odd", sorted(ODD_OBJECTS))
def test_odd_object_is_a_failure_of_that_object_and_the_run_goes_on(target_name: str, odd: str) -> None:
    # GIVEN an object a target cannot read (was: its ValueError, TypeError or AttributeError ended
    # the run with a traceback, at the same object on every rerun), between two good ones
    store = MemoryReplayStore()
    store.add("dlq/p/000", GOOD)
    store.add("dlq/p/001", {**ODD_OBJECTS[odd], "replay": {"count": 0}})
    store.add("dlq/p/002", GOOD)
    # WHEN they are replayed to a real target
    summary = run(store, _targets()[target_name])
    # THEN each object has its outcome: the odd one failed with its reason, counted and kept
    failed = dict(summary.failures)
    assert summary.counts["failed"] >= 1 and "dlq/p/001" in failed
    assert summary.counts["replayed"] + summary.counts["failed"] == 3
    kept = store.objects["dlq/p/001"]["replay"]
    assert kept["count"] == 1 and kept["last_error"] == failed["dlq/p/001"]


@pytest.mark.parametrize("state", [None, [], "x", {"count": "many"}, {"count": None}, {"count": [1]}])
def test_object_with_an_odd_replay_state_is_a_failure_not_the_end_of_the_run(state: Any) -> None:
    # GIVEN an object whose replay state is not {"count": n} (was: AttributeError, TypeError or
    # ValueError ended the run), before a good one
    store = MemoryReplayStore()
    store.add("dlq/p/000", {"record": {"sequenceNumber": "0"}, "replay": state})
    store.add("dlq/p/001", {"record": {"sequenceNumber": "1"}, "replay": {"count": 0}})
    target = ScriptedTarget()
    # WHEN they are replayed
    summary = run(store, target)
    # THEN the odd one is a failure naming its state, unsent and unchanged; the good one is replayed
    assert [key for key, _ in summary.failures] == ["dlq/p/000"]
    assert "replay state" in summary.failures[0][1]
    assert target.sent == ["1"]
    assert store.objects["dlq/p/000"]["replay"] == state


@pytest.mark.parametrize(
    ("text", "end"),
    [("9999-12-31", True), ("9999-12-31T23", True), ("0001-01-01T00:00+01:00", False)],
)
def test_moment_outside_the_calendar_refused_as_a_value_error(text: str, end: bool) -> None:
    # GIVEN a --since/--until whose start or end lies outside years 1..9999 in UTC (was: OverflowError)
    # WHEN / THEN the ValueError the tool words as a usage error
    with pytest.raises(ValueError, match="out of range"):
        parse_moment(text, end=end)


class Keys:
    def __init__(self, *keys: str) -> None:
        self.keys = keys

    def list_keys(self, _prefix: str) -> Any:
        return iter(self.keys)


def test_dated_key_at_the_end_of_the_calendar_listed_not_raised() -> None:
    # GIVEN a manifest filed under 9999/12/31 (a DLQ message's odd arrival time), among others
    store = Keys("unrecoverable/p/2026/11/26/a.json", "unrecoverable/p/9999/12/31/b.json")
    window = Window(since=parse_moment("2026-11-26"))
    # WHEN the area is listed from a date (was: OverflowError, the listing ended with a traceback)
    # THEN every key in the window is listed, the one that cannot be placed too
    assert list(dated_keys(store, "unrecoverable/", window)) == list(store.keys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--since", "9999-12-31", "--until", "9999-12-31"], "bad --since/--until"),
        (["replay", "--consumer", "p", "--rate", "nan"], "--rate and --timeout"),
        (["replay", "--consumer", "p", "--rate", "0"], "--rate and --timeout"),
        (["replay", "--consumer", "p", "--timeout", "-1"], "--rate and --timeout"),
        (["replay", "--consumer", "p", "--timeout", "inf"], "--rate and --timeout"),
        (["replay", "--consumer", "p", "--limit", "0"], "--limit"),
    ],
)
def test_odd_argument_refused_with_its_reason_before_aws(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an argument outside what the tool can use (was: a traceback, a rate of nan silently
    # unpaced, a negative timeout failing every object, --limit 0 replaying nothing)
    # WHEN the tool runs / THEN it exits non-zero with the reason, before it touches AWS
    with pytest.raises(SystemExit) as exited:
        dlq.main(["--bucket", "store", *argv])
    assert exited.value.code not in (0, None)
    assert message in f"{exited.value.code}{capsys.readouterr().err}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--since", "0001-01-01T00:00+01:00", "--until", "2026-01-01"],
        ["--since", "2026-01-01", "--until", "9999-12-31T23:59:59-01:00"],
        ["--since", "2026-01-01", "--until", "2026-01-02", "--poll-seconds", "nan"],
        ["--since", "2026-01-01", "--until", "2026-01-02", "--poll-seconds", "inf"],
    ],
    ids=["since-before-year-1", "until-after-9999", "poll-nan", "poll-inf"],
)
def test_archive_replay_odd_argument_refused_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a window outside years 1..9999 in UTC or a poll interval that is no number of seconds
    # (was: OverflowError with a traceback; a poll of nan or inf accepted, then ValueError or
    # OverflowError from sleep while the replay ran)
    # WHEN the tool parses them / THEN a usage error, before it touches AWS
    with pytest.raises(SystemExit) as exited:
        replay.main(["--archive", "signals-archive", "--all-rules", *argv])
    assert exited.value.code == 2
    assert "python -m tools.replay: error:" in capsys.readouterr().err


@pytest.mark.parametrize("rate", ["0", "-5"])
def test_source_registered_with_a_rate_below_one_refused(
    rate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a new source with a rate limit below one event a second (was: stored; -5 made the
    # validator refuse every request of the source as too large, 0 read as the default)
    # WHEN it is registered / THEN refused with the reason, before the table is written
    assert sources.main(["register", "web-shop", "--rate", rate, "--table", "signals-sources"]) == 2
    assert "at least 1 event a second" in capsys.readouterr().err
