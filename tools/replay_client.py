"""A small client over boto3's ``events`` for archive replays: EventBridge answers in, the replay
tool's models and errors out (``tools.replay_core``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tools.replay_core import (
    ACTIVE_STATES,
    FORWARD_RULE_SUFFIX,
    Archive,
    ReplayApiError,
    ReplayLimitError,
    ReplayRequest,
    ReplayStatus,
    UnknownArchiveError,
    UnknownRuleError,
    Window,
)


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _moment(value: Any) -> datetime | None:
    """boto3 gives datetimes; moto and some paths give epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _status(raw: dict[str, Any]) -> ReplayStatus:
    since, until = _moment(raw.get("EventStartTime")), _moment(raw.get("EventEndTime"))
    return ReplayStatus(
        name=raw["ReplayName"],
        state=raw.get("State", ""),
        archive_arn=raw.get("EventSourceArn", ""),
        window=Window(since, until) if since and until else None,
        reason=raw.get("StateReason", "") or "",
        started=_moment(raw.get("ReplayStartTime")),
        ended=_moment(raw.get("ReplayEndTime")),
        last_replayed=_moment(raw.get("EventLastReplayedTime")),
        filter_arns=tuple((raw.get("Destination") or {}).get("FilterArns") or ()),
    )


class ReplayClient:
    """EventBridge's archive and replay API, for one Region (``events`` is a boto3 events client)."""

    def __init__(self, events: Any) -> None:
        self._events = events

    @classmethod
    def for_region(cls, region: str | None) -> ReplayClient:
        """A client from the shared factory (AWS_ENDPOINT_URL honoured); no Region anywhere is an error."""
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - boto3 loads on use

        from signal_platform import aws_clients  # noqa: PLC0415

        try:
            return cls(aws_clients.client("events", region))
        except BotoCoreError as error:
            raise ReplayApiError(
                f"cannot reach EventBridge: {error} (pass --region or an archive ARN)"
            ) from error

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto3 loads on use

        try:
            return getattr(self._events, operation)(**kwargs)
        except ClientError as error:
            code = _error_code(error)
            if code == "LimitExceededException":
                raise ReplayLimitError(f"EventBridge refused the replay: {error}") from error
            if code == "ResourceNotFoundException":
                raise LookupError(str(error)) from error
            raise ReplayApiError(f"{operation} failed: {error}") from error
        except BotoCoreError as error:
            raise ReplayApiError(f"{operation} failed: {error}") from error

    def archive(self, name_or_arn: str) -> Archive:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        try:
            raw = self._call("describe_archive", ArchiveName=name)
        except LookupError:
            raise UnknownArchiveError(
                f"no archive {name!r} in this Region (list them: aws events list-archives)"
            ) from None
        return Archive(
            name=raw["ArchiveName"],
            arn=raw["ArchiveArn"],
            bus_arn=raw["EventSourceArn"],
            state=raw.get("State", ""),
            retention_days=int(raw.get("RetentionDays") or 0),
            created=_moment(raw["CreationTime"]) or datetime.min.replace(tzinfo=UTC),
            event_count=int(raw.get("EventCount") or 0),
            size_bytes=int(raw.get("SizeBytes") or 0),
        )

    def rule_arn(self, name_or_arn: str, bus_name: str) -> str:
        """The ARN of an existing rule on ``bus_name`` (a FilterArn naming nothing replays nothing)."""
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        try:
            raw = self._call("describe_rule", Name=name, EventBusName=bus_name)
        except LookupError:
            raise UnknownRuleError(f"no rule {name!r} on event bus {bus_name!r}") from None
        return str(raw["Arn"])

    def forward_rules(self, bus_name: str) -> list[str]:
        """ARNs of the rules on ``bus_name`` named like the template's ArchiveReplayForwardRule."""
        arns: list[str] = []
        token: str | None = None
        while True:
            page = self._call("list_rules", EventBusName=bus_name, **({"NextToken": token} if token else {}))
            arns.extend(
                rule["Arn"] for rule in page.get("Rules", []) if rule["Name"].endswith(FORWARD_RULE_SUFFIX)
            )
            token = page.get("NextToken")
            if not token:
                return arns

    def replays(self, archive_arn: str | None = None) -> Iterator[ReplayStatus]:
        """Replays EventBridge lists (of one archive, or all of the Region)."""
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {"EventSourceArn": archive_arn} if archive_arn else {}
            if token:
                arguments["NextToken"] = token
            page = self._call("list_replays", **arguments)
            yield from (_status(raw) for raw in page.get("Replays", []))
            token = page.get("NextToken")
            if not token:
                return

    def active_replays(self) -> list[ReplayStatus]:
        # Filtered here rather than with State=: one call covers STARTING, RUNNING and CANCELLING.
        return [status for status in self.replays() if status.state in ACTIVE_STATES]

    def start(self, request: ReplayRequest) -> ReplayStatus:
        raw = self._call("start_replay", **request.start_replay_arguments())
        return ReplayStatus(
            name=request.name,
            state=raw.get("State", "STARTING"),
            archive_arn=request.archive.arn,
            window=request.window,
            reason=raw.get("StateReason", "") or "",
            started=_moment(raw.get("ReplayStartTime")),
            filter_arns=request.filter_arns,
        )

    def describe(self, name: str) -> ReplayStatus:
        try:
            return _status(self._call("describe_replay", ReplayName=name))
        except LookupError:
            raise ReplayApiError(f"EventBridge no longer knows replay {name!r}") from None
