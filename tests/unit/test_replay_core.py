"""The archive replay's pure parts (tools.replay_core), the journal file, and the follow loop with a
scripted client (what moto cannot show: a replay that runs for a while, then ends)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.replay import EXIT_INTERRUPTED, EXIT_OK, EXIT_REPLAY_FAILED, Replayer, main, parse_settings
from tools.replay_client import ReplayClient
from tools.replay_core import (
    Archive,
    JournalEntry,
    ReplayLimitError,
    ReplayRequest,
    ReplayStatus,
    ReplayToolError,
    Report,
    Window,
    WindowError,
    check_window,
    conflicts,
    minutes_replayed,
    parse_moment,
    replay_name,
)
from tools.replay_journal import Journal, default_journal_path

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ARCHIVE = Archive(
    name="signals-ingress-archive",
    arn="arn:aws:events:us-east-1:123456789012:archive/signals-ingress-archive",
    bus_arn="arn:aws:events:us-east-1:123456789012:event-bus/signals-ingress",
    state="ENABLED",
    retention_days=30,
    created=T0 - timedelta(days=100),
    event_count=42,
    size_bytes=4200,
)
OTHER_ARCHIVE_ARN = "arn:aws:events:us-east-1:123456789012:archive/other"


def _window(start_minute: int, end_minute: int) -> Window:
    return Window(T0 + timedelta(minutes=start_minute), T0 + timedelta(minutes=end_minute))


def _entry(
    name: str, window: Window, state: str = "COMPLETED", archive_arn: str = ARCHIVE.arn
) -> JournalEntry:
    return JournalEntry(name, archive_arn, ARCHIVE.bus_arn, (), window, state, T0)


# -------------------- windows


def test_parse_moment_date_and_naive_times_are_utc():
    assert parse_moment("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_moment("2026-11-26T10:15") == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert parse_moment("2026-11-26T11:15:00+01:00") == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def test_parse_moment_garbage_names_the_input():
    with pytest.raises(WindowError, match="yesterday"):
        parse_moment("yesterday")


def test_window_overlap_is_half_open():
    # GIVEN [0, 60) minutes
    hour = _window(0, 60)

    # WHEN / THEN a window touching its end does not overlap; one sharing a minute does
    assert not hour.overlaps(_window(60, 120))
    assert hour.overlaps(_window(59, 120))
    assert hour.overlaps(_window(-10, 1))
    assert _window(10, 20).overlaps(hour)


def test_window_minutes_rounds_partial_minute_up():
    assert _window(0, 60).minutes == 60
    assert Window(T0, T0 + timedelta(seconds=61)).minutes == 2


# -------------------- checks against the archive


def test_check_window_inside_retention_no_warning():
    assert check_window(_window(0, 60), ARCHIVE, now=T0 + timedelta(hours=2)) == []


def test_check_window_before_retention_refused_with_earliest_start():
    # GIVEN "now" 31 days after the window's start, with 30 days of retention
    now = T0 + timedelta(days=31)

    # WHEN / THEN the window is refused, and the message says where the archive begins
    with pytest.raises(WindowError, match=r"retention 30 days.*start at 2026-11-27T10:00:00.000Z or later"):
        check_window(_window(0, 60), ARCHIVE, now=now)


def test_check_window_before_archive_creation_refused():
    # GIVEN an archive created at T0 that keeps events forever
    forever = dataclasses.replace(ARCHIVE, retention_days=0, created=T0)

    # WHEN / THEN a window that starts before the archive existed is refused
    with pytest.raises(WindowError, match="retention forever"):
        check_window(_window(-5, 60), forever, now=T0 + timedelta(days=400))


@pytest.mark.parametrize(
    ("window", "pattern"),
    [
        (_window(60, 60), "empty window"),
        (_window(60, 0), "empty window"),
        (_window(200, 260), "in the future"),
    ],
)
def test_check_window_empty_or_future_refused(window, pattern):
    with pytest.raises(WindowError, match=pattern):
        check_window(window, ARCHIVE, now=T0 + timedelta(hours=2))


def test_check_window_too_recent_warns_archive_delay():
    # GIVEN a window ending 5 minutes before now
    warnings = check_window(_window(0, 60), ARCHIVE, now=T0 + timedelta(minutes=65))

    # THEN the 10-minute archive delay is named
    assert len(warnings) == 1
    assert "10 minutes" in warnings[0]


def test_replay_name_valid_for_eventbridge_even_with_long_archive_name():
    # GIVEN an archive with a 60-character name
    archive = Archive("a" * 60, ARCHIVE.arn, ARCHIVE.bus_arn, "ENABLED", 30, T0, 0, 0)

    # WHEN a replay name is made
    name = replay_name(archive, _window(0, 60), "beef")

    # THEN it fits EventBridge's limits and says which window it replays
    assert len(name) <= 64
    assert re.fullmatch(r"[.\-_A-Za-z0-9]+", name)
    assert name.endswith("-20261126T1000-20261126T1100-beef")


def test_start_replay_arguments_filter_arns_only_when_given():
    request = ReplayRequest("r", ARCHIVE, _window(0, 60), (), "d")
    filtered = ReplayRequest("r", ARCHIVE, _window(0, 60), ("arn:rule",), "d")

    assert request.start_replay_arguments()["Destination"] == {"Arn": ARCHIVE.bus_arn}
    assert filtered.start_replay_arguments()["Destination"] == {
        "Arn": ARCHIVE.bus_arn,
        "FilterArns": ["arn:rule"],
    }
    assert filtered.start_replay_arguments()["EventStartTime"] == T0


# -------------------- the overlap rule


def test_conflicts_completed_and_running_block_failed_and_cancelled_do_not():
    # GIVEN journal entries over the same minutes in every final and active state
    journal = [
        _entry("done", _window(0, 30), "COMPLETED"),
        _entry("running", _window(20, 40), "RUNNING"),
        _entry("failed", _window(0, 60), "FAILED"),
        _entry("cancelled", _window(0, 60), "CANCELLED"),
    ]

    # WHEN the hour is checked
    found = conflicts(ARCHIVE.arn, _window(0, 60), journal)

    # THEN only what delivered (or may still deliver) the minutes blocks
    assert [conflict.name for conflict in found] == ["done", "running"]


def test_conflicts_other_archive_or_adjacent_window_ignored():
    journal = [
        _entry("other", _window(0, 60), archive_arn=OTHER_ARCHIVE_ARN),
        _entry("before", _window(-60, 0)),
    ]

    assert conflicts(ARCHIVE.arn, _window(0, 60), journal) == []


def test_conflicts_listed_by_eventbridge_counted_once():
    # GIVEN one replay in the journal and EventBridge's list, and another only in EventBridge's list
    journal = [_entry("mine", _window(0, 30))]
    listed = [
        ReplayStatus("mine", "COMPLETED", ARCHIVE.arn, _window(0, 30)),
        ReplayStatus("colleague", "RUNNING", ARCHIVE.arn, _window(30, 90)),
    ]

    # WHEN / THEN both are conflicts, each once, the journal's copy preferred
    found = conflicts(ARCHIVE.arn, _window(0, 60), journal, listed)
    assert [(conflict.name, conflict.where) for conflict in found] == [
        ("mine", "journal"),
        ("colleague", "EventBridge"),
    ]


# -------------------- progress and report


@pytest.mark.parametrize(
    ("state", "last_replayed", "expected"),
    [
        ("STARTING", None, 0),
        ("RUNNING", T0 + timedelta(minutes=29, seconds=10), 30),
        ("RUNNING", T0 + timedelta(hours=5), 60),
        ("COMPLETED", None, 60),
    ],
)
def test_minutes_replayed_follows_last_replayed_time(state, last_replayed, expected):
    status = ReplayStatus("r", state, last_replayed=last_replayed)

    assert minutes_replayed(status, _window(0, 60)) == expected


def test_report_failed_names_reason_and_says_no_count():
    # GIVEN a failed replay to the forward rule
    request = ReplayRequest("r1", ARCHIVE, _window(0, 60), ("arn:rule/forward",), "d")
    status = ReplayStatus("r1", "FAILED", reason="Internal failure")

    # WHEN the report is made
    report = Report(request, status, 12.34, forward_rule_default=True)

    # THEN it is not ok, and says what, where, why and how long
    text = "\n".join(report.lines())
    assert not report.ok
    assert "state        FAILED: Internal failure" in text
    assert "arn:rule/forward" in text
    assert "not reported by EventBridge" in text
    assert "12.3 s" in text
    assert "ArchiveReplayForwardRule" in text
    assert report.as_dict()["events_replayed"] is None


# -------------------- the journal file


def test_journal_round_trip_replaces_same_name(tmp_path):
    # GIVEN a journal in a folder that does not exist yet
    journal = Journal(tmp_path / "state" / "journal.json")

    # WHEN a replay is recorded, then recorded again with its final state
    journal.record(_entry("r1", _window(0, 60), "STARTING"))
    journal.record(_entry("r1", _window(0, 60), "COMPLETED"))
    journal.record(_entry("r2", _window(60, 120), "COMPLETED"))

    # THEN the file holds one entry per replay, with the last state, readable as JSON
    assert [(entry.name, entry.state) for entry in journal.load()] == [
        ("r1", "COMPLETED"),
        ("r2", "COMPLETED"),
    ]
    raw = json.loads(journal.path.read_text())
    assert raw["version"] == 1
    assert raw["replays"][0]["since"] == "2026-11-26T10:00:00.000Z"
    assert not list(journal.path.parent.glob(".replay-journal-*"))  # no temporary file left behind


def test_journal_corrupt_refused_not_ignored(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text("{not json")

    with pytest.raises(ReplayToolError, match="unreadable"):
        Journal(path).load()


def test_default_journal_path_follows_xdg_state_home(tmp_path):
    assert default_journal_path({"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "customer-signals" / "replay-journal.json"
    )
    assert default_journal_path({}) == Path.home() / ".local/state/customer-signals/replay-journal.json"


# -------------------- the command with a scripted EventBridge


@dataclass
class ScriptedClient:
    """DescribeReplay answers in order: what a real replay of a few minutes looks like."""

    answers: list[ReplayStatus]
    started: list[ReplayRequest] = field(default_factory=list)

    def archive(self, _name: str) -> Archive:
        return ARCHIVE

    def forward_rules(self, _bus: str) -> list[str]:
        return []

    def rule_arn(self, name: str, _bus: str) -> str:
        return f"arn:rule/{name}"

    def replays(self, _archive_arn: str | None = None) -> list[ReplayStatus]:
        return []

    def active_replays(self) -> list[ReplayStatus]:
        return []

    def start(self, request: ReplayRequest) -> ReplayStatus:
        self.started.append(request)
        return ReplayStatus(request.name, "STARTING")

    def describe(self, _name: str) -> ReplayStatus:
        return self.answers.pop(0)


def _command(tmp_path: Path, answers: list[ReplayStatus]) -> tuple[Replayer, list[float]]:
    sleeps: list[float] = []
    replayer = Replayer(
        ScriptedClient(answers),  # type: ignore[arg-type]
        Journal(tmp_path / "journal.json"),
        out=io.StringIO(),
        err=io.StringIO(),
        now=lambda: T0 + timedelta(hours=2),
        sleep=sleeps.append,
    )
    return replayer, sleeps


ARGV = ["--archive", ARCHIVE.name, "--since", "2026-11-26T10:00", "--until", "2026-11-26T11:00"]


def test_follow_polls_until_completed_with_progress(tmp_path):
    # GIVEN a replay that runs for two polls, then completes
    replayer, sleeps = _command(
        tmp_path,
        [
            ReplayStatus("r", "RUNNING", last_replayed=T0 + timedelta(minutes=14)),
            ReplayStatus("r", "RUNNING", last_replayed=T0 + timedelta(minutes=44)),
            ReplayStatus("r", "COMPLETED", ended=T0 + timedelta(hours=1, minutes=30)),
        ],
    )

    # WHEN the command runs with a progress bar and a 3 s poll interval
    code = main([*ARGV, "--progress", "--poll-seconds", "3"], replayer=replayer)

    # THEN it slept between polls, drew the bar up to the whole window, and journaled COMPLETED
    assert code == EXIT_OK
    assert sleeps == [3.0, 3.0]
    assert "60/60 100%" in replayer.err.getvalue()  # type: ignore[attr-defined]
    (entry,) = replayer.journal.load()
    assert (entry.state, entry.finished_at) == ("COMPLETED", T0 + timedelta(hours=1, minutes=30))


def test_follow_cancelled_exits_nonzero(tmp_path):
    replayer, _ = _command(tmp_path, [ReplayStatus("r", "CANCELLED", reason="cancelled by a user")])

    code = main([*ARGV, "--json"], replayer=replayer)

    assert code == EXIT_REPLAY_FAILED
    report = json.loads(replayer.out.getvalue())  # type: ignore[attr-defined]
    assert (report["state"], report["reason"]) == ("CANCELLED", "cancelled by a user")


def test_no_wait_starts_and_returns_without_polling(tmp_path):
    replayer, sleeps = _command(tmp_path, [])

    code = main([*ARGV, "--no-wait"], replayer=replayer)

    assert code == EXIT_OK
    assert sleeps == []
    assert [entry.state for entry in replayer.journal.load()] == ["STARTING"]


def test_parse_settings_archive_arn_names_its_region():
    settings = parse_settings([*ARGV[:1], ARCHIVE.arn, *ARGV[2:]], {"XDG_STATE_HOME": "/state"})

    assert settings.client_region == "us-east-1"
    assert settings.journal_path == Path("/state/customer-signals/replay-journal.json")
    assert settings.window == _window(0, 60)


def test_parse_settings_rule_and_all_rules_exclusive():
    with pytest.raises(SystemExit):
        parse_settings([*ARGV, "--rule", "x", "--all-rules"], {})


def test_follow_interrupted_leaves_replay_running_and_journaled(tmp_path):
    # GIVEN a replay whose follow-up is interrupted (Ctrl-C while polling)
    class Interrupted(ScriptedClient):
        def describe(self, _name: str) -> ReplayStatus:
            raise KeyboardInterrupt

    replayer, _ = _command(tmp_path, [])
    replayer.client = Interrupted([])  # type: ignore[assignment]

    # WHEN the command runs
    code = main(ARGV, replayer=replayer)

    # THEN it exits 130, says how to follow or cancel, and the journal keeps the replay as started
    assert code == EXIT_INTERRUPTED
    assert "cancel-replay" in replayer.err.getvalue()  # type: ignore[attr-defined]
    assert [entry.state for entry in replayer.journal.load()] == ["STARTING"]


def test_client_limit_exceeded_on_start_is_replay_limit_error():
    # GIVEN EventBridge answering StartReplay with its concurrency limit
    import boto3
    from botocore.stub import Stubber

    events = boto3.client("events", region_name="us-east-1")
    stubber = Stubber(events)
    stubber.add_client_error(
        "start_replay", service_error_code="LimitExceededException", http_status_code=400
    )
    request = ReplayRequest("r", ARCHIVE, _window(0, 60), (), "d")

    # WHEN / THEN the client raises the tool's limit error (exit 2 with a clear message)
    with stubber, pytest.raises(ReplayLimitError, match="refused the replay"):
        ReplayClient(events).start(request)
