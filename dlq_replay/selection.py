"""Which stored objects a replay or a listing covers: time windows and the S3 prefixes that hold them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from dlq_hydrate import keys
from signal_platform.timeutil import as_utc

# Up to two weeks of hours are listed hour by hour (exact prefixes); longer windows day by day.
MAX_HOUR_PREFIXES: Final = 14 * 24
MAX_DAY_PREFIXES: Final = 400


class KeyLister(Protocol):
    def list_keys(self, prefix: str) -> Iterator[str]: ...


@dataclass(frozen=True, slots=True)
class Window:
    """Hours ``since <= hour < until`` (either open); the key's date/hour parts are what is compared."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, hour: datetime) -> bool:
        return (self.since is None or hour >= self.since) and (self.until is None or hour < self.until)


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """``2026-11-26``, ``2026-11-26T10``, ``2026-11-26T10:15`` or full RFC 3339 (UTC unless stated).

    A start is floored to its hour; an end (``end=True``) covers the whole day or hour it names.
    """
    value = text.strip()
    granularity = timedelta(days=1) if len(value) == 10 else timedelta(hours=1)
    if len(value) == 13:  # 2026-11-26T10
        value += ":00"
    moment = as_utc(datetime.fromisoformat(value)).replace(minute=0, second=0, microsecond=0)
    if not end:
        return moment
    try:
        return moment + granularity
    except OverflowError as exc:  # 9999-12-31 as an end
        raise ValueError(f"{text!r} is out of range") from exc


def listing_prefixes(
    prefix: str, consumer: str, window: Window, partition_key: str | None, *, now: datetime
) -> list[str]:
    """The fewest exact S3 prefixes that cover ``window`` (filtering finishes the job)."""
    if window.since is None and window.until is None:
        return [f"{prefix}/{consumer}/"]
    since = window.since or datetime(2000, 1, 1, tzinfo=UTC)
    last = (window.until or now + timedelta(hours=1)) - timedelta(microseconds=1)
    if since > last:
        return []
    span_hours = (last - since) // timedelta(hours=1) + 1
    if span_hours <= MAX_HOUR_PREFIXES:
        return [keys.hour_prefix(prefix, consumer, hour, partition_key) for hour in keys.hours(since, last)]
    if (last - since).days + 1 <= MAX_DAY_PREFIXES:
        return [keys.day_prefix(prefix, consumer, day) for day in keys.days(since, last)]
    return [f"{prefix}/{consumer}/"]


def select_keys(
    store: KeyLister,
    prefix: str,
    consumers: Sequence[str],
    window: Window,
    partition_key: str | None,
    *,
    now: datetime,
) -> Iterator[str]:
    """The record keys under ``prefix`` of ``consumers`` inside ``window``, in key order."""
    segment = keys.partition_segment(partition_key) if partition_key is not None else None
    for consumer in consumers:
        for listing in listing_prefixes(prefix, consumer, window, partition_key, now=now):
            for key in store.list_keys(listing):
                parsed = keys.parse_record_key(prefix, key)
                if parsed is None or not window.holds(parsed.hour):
                    continue
                if segment is not None and parsed.partition_segment != segment:
                    continue
                yield key


def dated_keys(store: KeyLister, prefix: str, window: Window) -> Iterator[str]:
    """Keys of the manifest and unparsed areas, filtered on their ``yyyy/mm/dd`` parts."""
    for key in store.list_keys(prefix):
        parts = key[len(prefix) :].split("/")
        try:
            day = datetime(int(parts[-4]), int(parts[-3]), int(parts[-2]), tzinfo=UTC)
            inside = (window.since is None or day + timedelta(days=1) > window.since) and (
                window.until is None or day < window.until
            )
        except (ValueError, IndexError, OverflowError):  # no date, or 9999/12/31 (a message's odd time)
            inside = True
        if inside:
            yield key
