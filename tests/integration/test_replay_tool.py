"""`python -m tools.replay` against moto: two Regions, the secondary's ingress bus with its archive and
the template's ArchiveReplayForwardRule (pattern, target and role as template.yaml declares them), the
primary's ingress bus with a rule that taps signal batches into SQS (where enrichment would be).

moto replays synchronously and ignores the window and FilterArns when it delivers (every archived
event goes to every rule): the tests assert what EventBridge is asked (DescribeReplay's Destination)
and what reaches the primary through the forward rule, never moto's window arithmetic.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import Replay, ReplayState, events_backends

from signal_platform.timeutil import format_rfc3339
from tools.replay import EXIT_OK, EXIT_REFUSED, EXIT_REPLAY_FAILED, Replayer, main
from tools.replay_client import ReplayClient
from tools.replay_core import FORWARD_RULE_SUFFIX
from tools.replay_journal import Journal

ROOT = Path(__file__).parents[2]
PRIMARY, SECONDARY = "us-west-2", "us-east-1"
BUS = "signals-ingress"
ARCHIVE = "signals-ingress-archive"
STACK = "signals-secondary"
FORWARD_RULE = f"{STACK}{FORWARD_RULE_SUFFIX}"


def _resolve(node: Any, values: dict[str, str]) -> Any:
    """The template's pattern with ``Ref`` replaced by the deployed values (only Refs occur in it)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        return {key: _resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, values) for item in node]
    return node


def _template_forward_pattern() -> dict[str, Any]:
    template = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    pattern = template["Resources"]["ArchiveReplayForwardRule"]["Properties"]["EventPattern"]
    resolved: dict[str, Any] = _resolve(pattern, {"AWS::Region": SECONDARY})
    return resolved


@dataclass
class TwoRegions:
    events: Any  # the secondary's events client (where the archive is)
    sqs: Any
    tap_url: str
    archive_arn: str
    archive_created: datetime
    forward_rule_arn: str
    journal: Journal

    def put_batch(self, batch_id: str, region_events: Any | None = None) -> None:
        client = region_events or self.events
        answer = client.put_events(
            Entries=[
                {
                    "Source": "signals.ingest",
                    "DetailType": "page_view",
                    "Detail": json.dumps({"batch_id": batch_id, "signals": []}),
                    "EventBusName": BUS,
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0

    def primary_tap(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]

    def replayer(self, now: datetime) -> Replayer:
        return Replayer(
            ReplayClient(self.events),
            self.journal,
            out=io.StringIO(),
            err=io.StringIO(),
            now=lambda: now,
            sleep=lambda _seconds: None,
            name_token="t001",
        )

    def window(self, hours: int = 1) -> tuple[str, str, datetime]:
        """A window the archive holds (it starts at the archive's creation) and a "now" after it."""
        since = self.archive_created.replace(microsecond=0) + timedelta(seconds=1)
        until = since + timedelta(hours=hours)
        return format_rfc3339(since), format_rfc3339(until), until + timedelta(hours=1)


@pytest.fixture
def regions(tmp_path: Path) -> Iterator[TwoRegions]:
    with mock_aws():
        primary = boto3.client("events", region_name=PRIMARY)
        secondary = boto3.client("events", region_name=SECONDARY)
        sqs = boto3.client("sqs", region_name=PRIMARY)
        iam = boto3.client("iam", region_name=PRIMARY)
        primary_bus = primary.create_event_bus(Name=BUS)["EventBusArn"]
        secondary_bus = secondary.create_event_bus(Name=BUS)["EventBusArn"]
        # The primary: where enrichment's rule would take every signal batch, replays included.
        tap_url = sqs.create_queue(QueueName="primary-enrichment-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        primary.put_rule(
            Name="enrichment", EventBusName=BUS, EventPattern=json.dumps({"source": ["signals.ingest"]})
        )
        primary.put_targets(Rule="enrichment", EventBusName=BUS, Targets=[{"Id": "tap", "Arn": tap_arn}])
        # The secondary: its archive and the template's forward rule to the primary's bus.
        role_arn = iam.create_role(RoleName="forward", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        rule_arn = secondary.put_rule(
            Name=FORWARD_RULE, EventBusName=BUS, EventPattern=json.dumps(_template_forward_pattern())
        )["RuleArn"]
        secondary.put_targets(
            Rule=FORWARD_RULE,
            EventBusName=BUS,
            Targets=[{"Id": "primary-ingress-bus", "Arn": primary_bus, "RoleArn": role_arn}],
        )
        archive = secondary.create_archive(
            ArchiveName=ARCHIVE, EventSourceArn=secondary_bus, RetentionDays=30
        )
        yield TwoRegions(
            events=secondary,
            sqs=sqs,
            tap_url=tap_url,
            archive_arn=archive["ArchiveArn"],
            archive_created=archive["CreationTime"],
            forward_rule_arn=rule_arn,
            journal=Journal(tmp_path / "state" / "replay-journal.json"),
        )


def _args(regions: TwoRegions, *extra: str, hours: int = 1) -> tuple[list[str], datetime]:
    since, until, now = regions.window(hours)
    return ["--archive", ARCHIVE, "--since", since, "--until", until, *extra], now


def _run(regions: TwoRegions, *extra: str, hours: int = 1) -> tuple[int, Replayer]:
    argv, now = _args(regions, *extra, hours=hours)
    replayer = regions.replayer(now)
    return main(argv, replayer=replayer), replayer


def _text(stream: Any) -> str:
    value: str = stream.getvalue()
    return value


# -------------------- the path to the primary


def test_replay_secondary_archive_reaches_primary_through_forward_rule(regions):
    # GIVEN a batch the secondary ingested during a failover (it is archived; live, nothing forwards it)
    regions.put_batch("batch-during-failover")
    assert regions.primary_tap() == []

    # WHEN the window is replayed with the defaults
    code, replayer = _run(regions)

    # THEN the replay completed and the batch reached the primary's processing (whether the bus-to-bus
    # hop keeps `replay-name` does not matter: the primary's enrichment rule takes both)
    assert code == EXIT_OK
    (arrived,) = regions.primary_tap()
    assert arrived["detail"]["batch_id"] == "batch-during-failover"
    # AND EventBridge was asked to replay only to the forward rule, and the tool said so
    (replay,) = regions.events.list_replays()["Replays"]
    described = regions.events.describe_replay(ReplayName=replay["ReplayName"])
    assert described["Destination"]["FilterArns"] == [regions.forward_rule_arn]
    assert "ArchiveReplayForwardRule" in _text(replayer.err)
    # AND the report names what was replayed
    report = _text(replayer.out)
    assert f"replay       {replay['ReplayName']}" in report
    assert "state        COMPLETED" in report
    assert regions.archive_arn in report
    assert regions.forward_rule_arn in report


def test_replay_live_event_not_forwarded_by_rule(regions):
    # GIVEN the forward rule on the secondary's bus (template pattern)
    # WHEN a live batch (no replay-name) arrives in the secondary
    regions.put_batch("live")

    # THEN the rule leaves it alone: live events reach the primary by the endpoint's replication
    assert regions.primary_tap() == []


def test_replay_completed_writes_journal_entry(regions):
    # GIVEN an empty journal
    # WHEN a window is replayed
    code, _ = _run(regions)

    # THEN the journal holds the replay, its window, archive, rules and final state
    assert code == EXIT_OK
    (entry,) = regions.journal.load()
    since, until, _ = regions.window()
    assert entry.state == "COMPLETED"
    assert entry.archive_arn == regions.archive_arn
    assert entry.filter_arns == (regions.forward_rule_arn,)
    assert (format_rfc3339(entry.window.since), format_rfc3339(entry.window.until)) == (since, until)
    raw = json.loads(regions.journal.path.read_text())
    assert raw["replays"][0]["name"] == entry.name


# -------------------- twice the same window


def test_replay_overlapping_window_refused_naming_earlier(regions):
    # GIVEN a completed replay of a one-hour window
    first, _ = _run(regions)
    (earlier,) = regions.journal.load()
    regions.primary_tap()

    # WHEN a two-hour window that contains it is asked for
    code, replayer = _run(regions, hours=2)

    # THEN it is refused, naming the earlier replay, and nothing is replayed again
    assert (first, code) == (EXIT_OK, EXIT_REFUSED)
    message = _text(replayer.err)
    assert "refusing" in message
    assert earlier.name in message
    assert len(regions.events.list_replays()["Replays"]) == 1


def test_replay_overlap_forced_replays_again(regions):
    # GIVEN a completed replay of the window and a batch in the archive
    regions.put_batch("b1")
    _run(regions)
    regions.primary_tap()

    # WHEN the same window is replayed with --force
    code, replayer = _run(regions, "--force", "--name", "second-replay")

    # THEN it runs again and the journal remembers both (the second one as forced)
    assert code == EXIT_OK
    assert [batch["detail"]["batch_id"] for batch in regions.primary_tap()] == ["b1"]
    assert [entry.forced for entry in regions.journal.load()] == [False, True]
    assert "--force" in _text(replayer.err)


def test_replay_overlap_from_eventbridge_refused_with_empty_journal(regions):
    # GIVEN a replay someone else started (EventBridge lists it; this machine's journal is empty)
    since, until, _ = regions.window()
    regions.events.start_replay(
        ReplayName="colleagues-replay",
        EventSourceArn=regions.archive_arn,
        EventStartTime=datetime.fromisoformat(since),
        EventEndTime=datetime.fromisoformat(until),
        Destination={"Arn": regions.archive_arn.replace("archive/" + ARCHIVE, "event-bus/" + BUS)},
    )

    # WHEN the same window is asked for
    code, replayer = _run(regions)

    # THEN it is refused, naming that replay
    assert code == EXIT_REFUSED
    assert "colleagues-replay" in _text(replayer.err)


def test_replay_failed_exits_nonzero_and_window_can_rerun(regions, monkeypatch):
    # GIVEN EventBridge fails the replay
    def fail(replay: Replay, _archive: Any) -> None:
        replay.state = ReplayState.FAILED

    monkeypatch.setattr(Replay, "replay_events", fail)

    # WHEN a window is replayed
    code, replayer = _run(regions)

    # THEN the command exits 1, reports FAILED and journals it
    assert code == EXIT_REPLAY_FAILED
    assert "state        FAILED" in _text(replayer.out)
    assert [entry.state for entry in regions.journal.load()] == ["FAILED"]

    # AND a failed replay does not block a new run of the same window
    monkeypatch.undo()
    again, _ = _run(regions, "--name", "after-the-failure")
    assert again == EXIT_OK


# -------------------- dry run, rules, refusals


def test_replay_dry_run_starts_nothing_writes_no_journal(regions):
    # GIVEN an archived batch
    regions.put_batch("b1")

    # WHEN the window is replayed with --dry-run
    code, replayer = _run(regions, "--dry-run")

    # THEN it prints the StartReplay it would send, and nothing happened
    assert code == EXIT_OK
    out = _text(replayer.out)
    assert "dry run: would start replay" in out
    start_replay = json.loads(out.split("StartReplay  ", 1)[1])
    assert start_replay["Destination"]["FilterArns"] == [regions.forward_rule_arn]
    assert start_replay["EventSourceArn"] == regions.archive_arn
    assert regions.events.list_replays()["Replays"] == []
    assert regions.primary_tap() == []
    assert not regions.journal.path.exists()


def test_replay_named_rule_resolved_to_its_arn(regions):
    # GIVEN another rule on the secondary's bus
    rule_arn = regions.events.put_rule(
        Name="audit", EventBusName=BUS, EventPattern=json.dumps({"source": ["signals.ingest"]})
    )["RuleArn"]

    # WHEN the replay names it
    code, replayer = _run(regions, "--rule", "audit")

    # THEN EventBridge is asked to replay to that rule only, and no default is announced
    assert code == EXIT_OK
    (replay,) = regions.events.list_replays()["Replays"]
    described = regions.events.describe_replay(ReplayName=replay["ReplayName"])
    assert described["Destination"]["FilterArns"] == [rule_arn]
    assert "ArchiveReplayForwardRule of this bus" not in _text(replayer.err)


def test_replay_all_rules_sends_no_filter(regions):
    # GIVEN the forward rule on the bus
    # WHEN --all-rules is given
    code, _ = _run(regions, "--all-rules")

    # THEN the replay has no FilterArns (every rule of the bus)
    assert code == EXIT_OK
    (replay,) = regions.events.list_replays()["Replays"]
    assert "FilterArns" not in regions.events.describe_replay(ReplayName=replay["ReplayName"])["Destination"]


def test_replay_unknown_rule_refused(regions):
    code, replayer = _run(regions, "--rule", "no-such-rule")

    assert code == EXIT_REFUSED
    assert "no rule 'no-such-rule' on event bus 'signals-ingress'" in _text(replayer.err)
    assert regions.events.list_replays()["Replays"] == []


def test_replay_unknown_archive_refused(regions):
    # GIVEN an archive name that does not exist
    since, until, now = regions.window()
    replayer = regions.replayer(now)

    # WHEN it is asked for (through main, as the command line does)
    code = main(["--archive", "nope", "--since", since, "--until", until], replayer=replayer)

    # THEN the command refuses with a clear message
    assert code == EXIT_REFUSED
    assert "no archive 'nope'" in _text(replayer.err)


def test_replay_window_past_retention_refused(regions):
    # GIVEN "now" 40 days after the archive's creation (retention 30 days)
    since, until, _ = regions.window()
    replayer = regions.replayer(regions.archive_created + timedelta(days=40))

    # WHEN the window of its first hour is asked for
    code = main(["--archive", ARCHIVE, "--since", since, "--until", until], replayer=replayer)

    # THEN it is refused: those events are gone
    assert code == EXIT_REFUSED
    assert "retention 30 days" in _text(replayer.err)
    assert regions.events.list_replays()["Replays"] == []


def test_replay_ten_active_replays_refused(regions):
    # GIVEN ten running replays of another archive in the Region
    bus_arn = regions.archive_arn.replace("archive/" + ARCHIVE, "event-bus/" + BUS)
    other = regions.events.create_archive(ArchiveName="other", EventSourceArn=bus_arn)["ArchiveArn"]
    backend = events_backends[DEFAULT_ACCOUNT_ID][SECONDARY]
    start = datetime.fromisoformat(regions.window()[0])
    for number in range(10):
        name = f"busy-{number}"
        regions.events.start_replay(
            ReplayName=name,
            EventSourceArn=other,
            EventStartTime=start,
            EventEndTime=start + timedelta(minutes=1),
            Destination={"Arn": bus_arn},
        )
        backend.replays[name].state = ReplayState.RUNNING

    # WHEN one more is asked for
    code, replayer = _run(regions)

    # THEN it is refused with EventBridge's limit named, and the running ones listed
    assert code == EXIT_REFUSED
    message = _text(replayer.err)
    assert "at most 10 per account and Region" in message
    assert "busy-0" in message
    assert len(regions.events.list_replays(EventSourceArn=regions.archive_arn)["Replays"]) == 0
