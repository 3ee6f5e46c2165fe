"""Replay a time window of an EventBridge archive to its event bus, follow it, journal it.

    python -m tools.replay --archive signals-ingress-archive --since 2026-11-26T10:00 --until 2026-11-26T14:00
                           [--rule NAME|ARN ...] [--all-rules] [--dry-run] [--force] [--no-wait]
                           [--journal PATH] [--region us-east-1] [--name NAME] [--json]

Times are RFC 3339 (UTC unless an offset is given; a bare date is midnight UTC); the window is
``since <= event time < until``. Rules: by default every rule of the bus receives the replayed
events, except on a bus that has the stack's ArchiveReplayForwardRule (the secondary's edge-only
stack): there the replay goes only to that rule, which forwards the batches to the primary's
ingress bus: AWS documents no replication of replays by the global endpoint (docs/archive-replay.md).
``--rule`` names the rules yourself; ``--all-rules`` sends to every rule.

Before it starts a replay the tool refuses: an unknown archive or rule, a window the archive no
longer holds (retention) or that lies in the future, a window overlapping an earlier replay of the
same archive that completed or still runs (from the journal and from ListReplays; ``--force``
overrides), and a Region that already runs 10 replays (EventBridge's limit). It then follows
DescribeReplay with a progress bar (minutes of event time replayed) until COMPLETED, FAILED or
CANCELLED and prints what was replayed and how long it took.

The journal (default ``$XDG_STATE_HOME/customer-signals/replay-journal.json``, else
``~/.local/state/customer-signals/replay-journal.json``) lists every replay started here. Exit
status: 0 completed (or dry run, or started with --no-wait), 1 the replay FAILED or was CANCELLED,
2 refused or an EventBridge error, 130 interrupted (the replay keeps running in EventBridge).
Region and credentials come from the usual AWS environment (AWS_PROFILE, AWS_REGION), or --region.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from signal_platform.timeutil import format_rfc3339, utc_now
from tools.dlq_progress import ProgressBar
from tools.replay_client import ReplayClient
from tools.replay_core import (
    MAX_ACTIVE_REPLAYS,
    JournalEntry,
    OverlapError,
    ReplayApiError,
    ReplayLimitError,
    ReplayRequest,
    ReplayStatus,
    ReplayToolError,
    Report,
    Window,
    check_window,
    conflicts,
    limit_message,
    minutes_replayed,
    overlap_message,
    parse_moment,
    replay_name,
)
from tools.replay_journal import Journal, default_journal_path

EXIT_OK, EXIT_REPLAY_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    archive: str
    window: Window
    journal_path: Path
    rules: tuple[str, ...] = ()
    all_rules: bool = False
    force: bool = False
    dry_run: bool = False
    wait: bool = True
    poll_seconds: float = 10.0
    name: str | None = None
    region: str | None = None
    as_json: bool = False
    progress: bool | None = None  # None: only on a terminal

    @property
    def client_region(self) -> str | None:
        """An archive ARN names its Region; otherwise --region or the AWS environment's."""
        if self.archive.startswith("arn:"):
            return self.archive.split(":")[3]
        return self.region


def _parser() -> argparse.ArgumentParser:
    summary, _usage, details = (__doc__ or "").split("\n\n", 2)
    parser = argparse.ArgumentParser(
        prog="python -m tools.replay",
        description=summary,
        epilog=f"{details.strip()}\n\nDetails: docs/archive-replay.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--archive", required=True, help="archive name or ARN")
    parser.add_argument("--since", required=True, help="first event time replayed (RFC 3339 or date)")
    parser.add_argument("--until", required=True, help="end of the window, exclusive (RFC 3339 or date)")
    rules = parser.add_mutually_exclusive_group()
    rules.add_argument("--rule", action="append", default=[], help="replay only to this rule (repeatable)")
    rules.add_argument("--all-rules", action="store_true", help="replay to every rule of the bus")
    parser.add_argument("--journal", type=Path, help="journal file (default: see below)")
    parser.add_argument(
        "--force", action="store_true", help="replay even if an earlier replay covered the window"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check everything, print the replay, start nothing"
    )
    parser.add_argument("--no-wait", dest="wait", action="store_false", help="start the replay and return")
    parser.add_argument(
        "--poll-seconds", type=float, default=10.0, help="DescribeReplay interval (default 10)"
    )
    parser.add_argument("--name", help="replay name (default: <archive>-<since>-<until>-<random>)")
    parser.add_argument(
        "--region", help="the archive's Region (default: from the ARN or the AWS environment)"
    )
    parser.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only on a terminal)",
    )
    return parser


def parse_settings(argv: Sequence[str] | None, environ: Mapping[str, str]) -> ReplaySettings:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        window = Window(parse_moment(args.since), parse_moment(args.until))
    except ReplayToolError as error:
        parser.error(str(error))
    if not (0 < args.poll_seconds < math.inf):  # nan too
        parser.error("--poll-seconds must be a positive number")
    return ReplaySettings(
        archive=args.archive,
        window=window,
        journal_path=args.journal or default_journal_path(dict(environ)),
        rules=tuple(args.rule),
        all_rules=args.all_rules,
        force=args.force,
        dry_run=args.dry_run,
        wait=args.wait,
        poll_seconds=args.poll_seconds,
        name=args.name,
        region=args.region,
        as_json=args.as_json,
        progress=args.progress,
    )


@dataclass
class Replayer:
    """The command's steps, with every effect injected (client, journal, clock, output)."""

    client: ReplayClient
    journal: Journal
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    name_token: str | None = None

    def run(self, settings: ReplaySettings) -> int:
        started = self.monotonic()
        archive = self.client.archive(settings.archive)
        window = settings.window
        warnings = check_window(window, archive, self.now())
        filter_arns, forward_default = self._filter_arns(settings, archive.bus_name)
        self._refuse_overlaps(settings, archive.arn, window)
        active = self.client.active_replays()
        if len(active) >= MAX_ACTIVE_REPLAYS:
            raise ReplayLimitError(limit_message(active))
        request = ReplayRequest(
            name=settings.name or replay_name(archive, window, self.name_token),
            archive=archive,
            window=window,
            filter_arns=filter_arns,
            description=f"python -m tools.replay: {window}"[:512],
        )
        if forward_default:
            self._say(
                "replaying only to the ArchiveReplayForwardRule of this bus: it forwards the replayed "
                "batches to the primary's ingress bus (AWS documents no replication of replays by the "
                "global endpoint); --all-rules or --rule change that"
            )
        for warning in warnings:
            self._say(f"warning: {warning}")
        if settings.dry_run:
            return self._dry_run(request, len(active))

        status = self.client.start(request)
        entry = JournalEntry(
            name=request.name,
            archive_arn=archive.arn,
            destination=archive.bus_arn,
            filter_arns=filter_arns,
            window=window,
            state=status.state,
            started_at=self.now(),
            forced=settings.force,
        )
        self.journal.record(entry)
        self._say(f"started replay {request.name} ({window}, {archive.name} -> {archive.bus_name})")
        if not settings.wait:
            self._say(
                f"not waiting: follow it with `aws events describe-replay --replay-name {request.name}`"
            )
            return EXIT_OK
        try:
            status = self._follow(request, settings)
        except KeyboardInterrupt:
            self._say(
                f"interrupted: replay {request.name} keeps running in EventBridge; follow it with "
                f"`aws events describe-replay --replay-name {request.name}` or stop it with "
                f"`aws events cancel-replay --replay-name {request.name}`"
            )
            return EXIT_INTERRUPTED
        finally:
            self.journal.record(entry.updated(status))
        report = Report(request, status, self.monotonic() - started, forward_default, warnings)
        if settings.as_json:
            print(json.dumps(report.as_dict()), file=self.out)
        else:
            print("\n".join(report.lines()), file=self.out)
        return EXIT_OK if report.ok else EXIT_REPLAY_FAILED

    def _filter_arns(self, settings: ReplaySettings, bus_name: str) -> tuple[tuple[str, ...], bool]:
        if settings.rules:
            return tuple(self.client.rule_arn(rule, bus_name) for rule in settings.rules), False
        if settings.all_rules:
            return (), False
        forward = self.client.forward_rules(bus_name)
        return tuple(forward), bool(forward)

    def _refuse_overlaps(self, settings: ReplaySettings, archive_arn: str, window: Window) -> None:
        entries = self._refreshed_journal(archive_arn)
        found = conflicts(archive_arn, window, entries, self.client.replays(archive_arn))
        if not found:
            return
        if not settings.force:
            raise OverlapError(overlap_message(window, found))
        self._say(
            f"--force: replaying again over {len(found)} earlier replay(s): " + "; ".join(map(str, found))
        )

    def _refreshed_journal(self, archive_arn: str) -> list[JournalEntry]:
        """The journal, with the state of this archive's unfinished replays asked of EventBridge."""
        entries = self.journal.load()
        changed = False
        for index, entry in enumerate(entries):
            if entry.archive_arn != archive_arn or entry.state in {"COMPLETED", "FAILED", "CANCELLED"}:
                continue
            try:
                status = self.client.describe(entry.name)
            except ReplayApiError:
                continue  # EventBridge forgot it: keep what the journal says (it blocks, to be safe)
            entries[index] = entry.updated(status)
            changed = True
        if changed:
            self.journal.save(entries)
        return entries

    def _follow(self, request: ReplayRequest, settings: ReplaySettings) -> ReplayStatus:
        show = self.err.isatty() if settings.progress is None else settings.progress
        self._say(f"progress in minutes of event time replayed (of {request.window.minutes})")
        bar = ProgressBar(request.window.minutes, enabled=show, stream=self.err)
        try:
            while True:
                status = self.client.describe(request.name)
                bar.update(minutes_replayed(status, request.window), {})
                if status.done:
                    return status
                self.sleep(settings.poll_seconds)
        finally:
            bar.close()

    def _dry_run(self, request: ReplayRequest, active: int) -> int:
        arguments = request.start_replay_arguments()
        for key in ("EventStartTime", "EventEndTime"):
            arguments[key] = format_rfc3339(arguments[key])
        print(f"dry run: would start replay {request.name}", file=self.out)
        print(f"  window       {request.window} ({request.window.minutes} min of event time)", file=self.out)
        print(
            f"  archive      {request.archive.arn} (holds {request.archive.event_count} events)",
            file=self.out,
        )
        print(f"  destination  {request.archive.bus_arn}", file=self.out)
        print(f"  rules        {', '.join(request.filter_arns) or 'all rules of the bus'}", file=self.out)
        print(f"  active replays in the Region: {active} of {MAX_ACTIVE_REPLAYS}", file=self.out)
        print(f"  StartReplay  {json.dumps(arguments)}", file=self.out)
        return EXIT_OK

    def _say(self, message: str) -> None:
        print(message, file=self.err)


def main(argv: Sequence[str] | None = None, *, replayer: Replayer | None = None) -> int:
    settings = parse_settings(argv, os.environ)
    err = replayer.err if replayer is not None else sys.stderr
    try:
        if replayer is None:
            replayer = Replayer(
                ReplayClient.for_region(settings.client_region), Journal(settings.journal_path)
            )
        return replayer.run(settings)
    except ReplayToolError as error:
        print(f"error: {error}", file=err)
        return EXIT_REFUSED


if __name__ == "__main__":
    raise SystemExit(main())
