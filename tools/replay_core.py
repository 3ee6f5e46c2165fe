"""The archive replay's pure logic: windows, checks against the archive, the journal's overlap rule,
progress and the report. No I/O here; ``tools.replay_client`` talks to EventBridge and
``tools.replay`` wires the two to the command line."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from signal_platform.timeutil import as_utc, format_rfc3339

# AWS: "You can have a maximum of 10 active concurrent replays per account per AWS Region."
MAX_ACTIVE_REPLAYS: Final = 10
ACTIVE_STATES: Final = frozenset({"STARTING", "RUNNING", "CANCELLING"})
FINAL_STATES: Final = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
# A replay that ended this way replayed everything it was asked to, or is still doing it: a second
# replay of the same minutes would deliver every event twice. FAILED / CANCELLED ones may be re-run.
BLOCKING_STATES: Final = ACTIVE_STATES | {"COMPLETED"}
# AWS: "We recommend you delay replaying archived events for 10 minutes to make sure all events are
# replayed" (events reach an archive with a delay).
ARCHIVE_DELAY: Final = timedelta(minutes=10)
# The template's ArchiveReplayForwardRule is named "<stack>-archive-replay-forward" (tests pin it).
FORWARD_RULE_SUFFIX: Final = "-archive-replay-forward"
MAX_REPLAY_NAME: Final = 64


class ReplayToolError(Exception):
    """A replay that must not start, or an answer from EventBridge the tool cannot work with."""


class UnknownArchiveError(ReplayToolError):
    pass


class UnknownRuleError(ReplayToolError):
    pass


class WindowError(ReplayToolError):
    """The window is empty, in the future, or outside what the archive still holds."""


class OverlapError(ReplayToolError):
    pass


class ReplayLimitError(ReplayToolError):
    pass


class ReplayApiError(ReplayToolError):
    pass


@dataclass(frozen=True, slots=True)
class Window:
    """Event times ``since <= time < until`` (EventBridge's EventStartTime / EventEndTime), UTC."""

    since: datetime
    until: datetime

    def overlaps(self, other: Window) -> bool:
        return self.since < other.until and other.since < self.until

    @property
    def minutes(self) -> int:
        """Replays advance one minute of event time at a time: the progress bar's unit."""
        return max(1, -(-int((self.until - self.since).total_seconds()) // 60))

    def __str__(self) -> str:
        return f"{format_rfc3339(self.since)} .. {format_rfc3339(self.until)}"


def parse_moment(text: str) -> datetime:
    """``2026-11-26`` (midnight UTC), ``2026-11-26T10:15`` or full RFC 3339; UTC unless an offset is given."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"not a date or RFC 3339 time: {text!r}") from None
    try:
        return as_utc(moment)
    except ValueError:  # 0001-01-01T00:00+01:00: before year 1 in UTC
        raise WindowError(f"not a time of years 1 to 9999 in UTC: {text!r}") from None


@dataclass(frozen=True, slots=True)
class Archive:
    name: str
    arn: str
    bus_arn: str
    state: str
    retention_days: int  # 0: kept forever
    created: datetime
    event_count: int
    size_bytes: int

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def bus_name(self) -> str:
        return self.bus_arn.rsplit("/", 1)[-1]

    def earliest(self, now: datetime) -> datetime:
        """The oldest event time the archive can still hold."""
        if not self.retention_days:
            return self.created
        return max(self.created, now - timedelta(days=self.retention_days))


def check_window(window: Window, archive: Archive, now: datetime) -> list[str]:
    """Refuses a window the archive cannot serve; returns warnings for one it serves only in part."""
    if window.until <= window.since:
        raise WindowError(f"empty window {window}: --until must be after --since")
    if window.since >= now:
        raise WindowError(f"window {window} starts in the future (now {format_rfc3339(now)})")
    earliest = archive.earliest(now)
    if window.since < earliest:
        kept = f"{archive.retention_days} days" if archive.retention_days else "forever"
        raise WindowError(
            f"window {window} starts before the oldest event archive {archive.name!r} can hold: "
            f"{format_rfc3339(earliest)} (retention {kept}, created {format_rfc3339(archive.created)}); "
            f"events before it are gone, start at {format_rfc3339(earliest)} or later"
        )
    warnings = []
    if window.until > now - ARCHIVE_DELAY:
        warnings.append(
            "the window ends less than 10 minutes ago: events reach an archive with a delay, so the "
            "newest ones may not be replayed (AWS advises waiting 10 minutes)"
        )
    if archive.state != "ENABLED":
        warnings.append(f"archive {archive.name!r} is {archive.state}, not ENABLED")
    return warnings


def replay_name(archive: Archive, window: Window, token: str | None = None) -> str:
    """``<archive>-<since>-<until>-<random>``, within EventBridge's 64 characters ``[.-_A-Za-z0-9]``."""
    suffix = token if token is not None else secrets.token_hex(2)
    stamp = f"{window.since:%Y%m%dT%H%M}-{window.until:%Y%m%dT%H%M}-{suffix}"
    head = archive.name[: MAX_REPLAY_NAME - len(stamp) - 1]
    return f"{head}-{stamp}"


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    name: str
    archive: Archive
    window: Window
    filter_arns: tuple[str, ...]
    description: str

    def start_replay_arguments(self) -> dict[str, Any]:
        destination: dict[str, Any] = {"Arn": self.archive.bus_arn}
        if self.filter_arns:
            destination["FilterArns"] = list(self.filter_arns)
        return {
            "ReplayName": self.name,
            "Description": self.description,
            "EventSourceArn": self.archive.arn,
            "EventStartTime": self.window.since,
            "EventEndTime": self.window.until,
            "Destination": destination,
        }


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """What DescribeReplay / ListReplays say about one replay."""

    name: str
    state: str
    archive_arn: str = ""
    window: Window | None = None
    reason: str = ""
    started: datetime | None = None
    ended: datetime | None = None
    last_replayed: datetime | None = None
    filter_arns: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES


def minutes_replayed(status: ReplayStatus, window: Window) -> int:
    """How many minutes of the window are behind the replay (all of them once it COMPLETED)."""
    if status.state == "COMPLETED":
        return window.minutes
    if status.last_replayed is None:
        return 0
    elapsed = (min(status.last_replayed, window.until) - window.since).total_seconds()
    return max(0, min(window.minutes, int(elapsed // 60) + 1))


# --- the journal ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One replay this tool started (the journal file is a list of these, oldest first)."""

    name: str
    archive_arn: str
    destination: str
    filter_arns: tuple[str, ...]
    window: Window
    state: str
    started_at: datetime
    finished_at: datetime | None = None
    reason: str = ""
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "archive_arn": self.archive_arn,
            "destination": self.destination,
            "filter_arns": list(self.filter_arns),
            "since": format_rfc3339(self.window.since),
            "until": format_rfc3339(self.window.until),
            "state": self.state,
            "started_at": format_rfc3339(self.started_at),
            "finished_at": format_rfc3339(self.finished_at) if self.finished_at else None,
            "reason": self.reason,
            "forced": self.forced,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JournalEntry:
        finished = raw.get("finished_at")
        return cls(
            name=str(raw["name"]),
            archive_arn=str(raw["archive_arn"]),
            destination=str(raw.get("destination", "")),
            filter_arns=tuple(raw.get("filter_arns", ())),
            window=Window(parse_moment(raw["since"]), parse_moment(raw["until"])),
            state=str(raw["state"]),
            started_at=parse_moment(raw["started_at"]),
            finished_at=parse_moment(finished) if finished else None,
            reason=str(raw.get("reason", "")),
            forced=bool(raw.get("forced", False)),
        )

    def updated(self, status: ReplayStatus) -> JournalEntry:
        return replace(self, state=status.state, finished_at=status.ended, reason=status.reason)


@dataclass(frozen=True, slots=True)
class Conflict:
    """An earlier replay of the same archive whose window overlaps the requested one."""

    name: str
    window: Window
    state: str
    where: str  # "journal" or "EventBridge"

    def __str__(self) -> str:
        return f"{self.name} ({self.state}, {self.window}, from the {self.where})"


def conflicts(
    archive_arn: str,
    window: Window,
    journal: Iterable[JournalEntry],
    listed: Iterable[ReplayStatus] = (),
) -> list[Conflict]:
    """Earlier replays of ``archive_arn`` that overlap ``window`` and did (or may still) deliver it.

    The journal remembers what this machine started; EventBridge's ListReplays adds what anyone
    started that AWS still lists. A FAILED or CANCELLED replay does not block a re-run.
    """
    found: dict[str, Conflict] = {}
    for entry in journal:
        if (
            entry.archive_arn == archive_arn
            and entry.state in BLOCKING_STATES
            and entry.window.overlaps(window)
        ):
            found[entry.name] = Conflict(entry.name, entry.window, entry.state, "journal")
    for status in listed:
        if (
            status.name not in found
            and status.archive_arn == archive_arn
            and status.window is not None
            and status.state in BLOCKING_STATES
            and status.window.overlaps(window)
        ):
            found[status.name] = Conflict(status.name, status.window, status.state, "EventBridge")
    return sorted(found.values(), key=lambda conflict: conflict.window.since)


def overlap_message(window: Window, found: Sequence[Conflict]) -> str:
    listed = "\n".join(f"  - {conflict}" for conflict in found)
    return (
        f"refusing to replay {window}: it overlaps {len(found)} earlier replay(s) of this archive:\n"
        f"{listed}\n"
        "their events would be delivered again. Replay only the minutes they did not cover, or pass "
        "--force if a second delivery is what you want (enrichment drops batches it processed in the "
        "last 48 h; the lake's events_dedup view hides older copies)."
    )


def limit_message(active: Sequence[ReplayStatus]) -> str:
    names = ", ".join(status.name for status in active)
    return (
        f"{len(active)} replays are active in this Region ({names}); EventBridge allows at most "
        f"{MAX_ACTIVE_REPLAYS} per account and Region. Wait for one to finish or cancel one "
        "(aws events cancel-replay --replay-name NAME)."
    )


# --- the report ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    request: ReplayRequest
    status: ReplayStatus
    seconds: float
    forward_rule_default: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status.state == "COMPLETED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "replay": self.request.name,
            "archive": self.request.archive.arn,
            "destination": self.request.archive.bus_arn,
            "rules": list(self.request.filter_arns) or "all rules of the bus",
            "since": format_rfc3339(self.request.window.since),
            "until": format_rfc3339(self.request.window.until),
            "state": self.status.state,
            "reason": self.status.reason,
            "events_replayed": None,  # DescribeReplay reports no count
            "seconds": round(self.seconds, 1),
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        request, status = self.request, self.status
        rules = "\n".join(f"{'':13}{arn}" for arn in request.filter_arns).lstrip() or "all rules of the bus"
        lines = [
            f"replay       {request.name}",
            f"state        {status.state}" + (f": {status.reason}" if status.reason else ""),
            f"window       {request.window} ({request.window.minutes} min of event time)",
            f"archive      {request.archive.arn}",
            f"destination  {request.archive.bus_arn}",
            f"rules        {rules}",
            "events       not reported by EventBridge (DescribeReplay has no count); the rules' "
            "Invocations metric shows them",
            f"duration     {self.seconds:.1f} s",
        ]
        if self.forward_rule_default:
            lines.append(
                "note         replayed only to the stack's ArchiveReplayForwardRule, which forwards the "
                "replayed batches to the primary's ingress bus (docs/archive-replay.md)"
            )
        lines.extend(f"warning      {warning}" for warning in self.warnings)
        return lines
