"""The DLQ store's naming convention: consumer, date/time parts, partition key, time, unique id.

    <dlq>/<consumer>/<yyyy>/<mm>/<dd>/<hh>/<partitionKeyDigest>/<arrival>-<uniqueId>.json
    <unrecoverable>/<consumer>/<yyyy>/<mm>/<dd>/<shardId>-<start>-<end>.json
    <unparsed>/<yyyy>/<mm>/<dd>/<messageId>.json
    replayed/<any of the above dlq keys>            (moved there by the replay tool when done)

Every part comes from the data (arrival time, sequence number, event id), never from the clock of
the hydrating invocation, so a redelivered DLQ message names the same objects. The partition key is
a person's id (user, anonymous or session id), so a key holds only its digest: object keys are read
without the bucket's KMS key (listings, S3 access logs, inventories), the records' bodies are not
(docs/data-map.md). The digest is the same for the same partition key, so the prefix listing of one
consumer and hour (and partition key) stays exact. Other segments are escaped so that they can never
add or climb a level. Pure functions: the replay tool parses keys with them too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import quote, unquote

REPLAYED_PREFIX: Final = "replayed"
# No partition key at all (a rule-target event without one): a segment no escaped key can equal.
NO_PARTITION_KEY: Final = "_"
# 128 bits: no two partition keys of a store share a level by chance.
PARTITION_DIGEST_CHARS: Final = 32
# A unique id (sequence number, event id, message id) escaped beyond this is cut and made unique again
# by a hash of the whole id, far inside S3's 1,024-byte key limit.
MAX_SEGMENT: Final = 200
_CUT: Final = 150
_ARRIVAL: Final = re.compile(r"(\d{8}T\d{9}Z)-(.+)\.json")


def escape_segment(value: str) -> str:
    """URL-safe escape of one key segment: '/' and everything not unreserved becomes %XX."""
    # '~' is unreserved for quote() but marks a cut segment here, so it is escaped too.
    escaped = quote(value, safe="").replace("~", "%7E")
    if escaped in {".", "..", NO_PARTITION_KEY, ""}:
        # Segments that mean something else to a path (or to this convention) are escaped fully.
        escaped = "".join(f"%{byte:02X}" for byte in value.encode())
    if len(escaped) <= MAX_SEGMENT:
        return escaped
    cut = escaped[:_CUT]
    # Never cut inside a %XX escape.
    percent = cut.rfind("%", len(cut) - 2)
    if percent != -1:
        cut = cut[:percent]
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{cut}~{digest}"


def unescape_segment(segment: str) -> str:
    """The value of an escaped segment (a cut segment keeps only its readable start)."""
    return unquote(segment.partition("~")[0])


def partition_segment(partition_key: str | None) -> str:
    """The partition level of a key: 32 hex digits of the partition key's SHA-256, never the key."""
    if not partition_key:
        return NO_PARTITION_KEY
    return hashlib.sha256(partition_key.encode()).hexdigest()[:PARTITION_DIGEST_CHARS]


def _utc_text(moment: datetime, after_year: str) -> str:
    """``moment`` in UTC as its four-digit year, then ``after_year`` (a strftime format): strftime's %Y
    writes year 999 as "999" on Linux, a key that parse_record_key (and so the replay tool) would
    never find."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime(after_year)}"


def arrival_stamp(moment: datetime) -> str:
    """``20261126T101500123Z``: UTC to the millisecond, sortable as text."""
    utc = moment.astimezone(UTC)
    return f"{_utc_text(utc, '%m%dT%H%M%S')}{utc.microsecond // 1000:03d}Z"


def _day(moment: datetime) -> str:
    return _utc_text(moment, "/%m/%d")


def _hour(moment: datetime) -> str:
    return _utc_text(moment, "/%m/%d/%H")


def record_key(
    prefix: str, consumer: str, arrival: datetime, partition_key: str | None, unique_id: str
) -> str:
    """A stored record or event: ``<prefix>/<consumer>/<yyyy>/<mm>/<dd>/<hh>/<pk digest>/<arrival>-<id>.json``
    (the partition key only as its digest)."""
    return (
        f"{prefix}/{consumer}/{_hour(arrival)}/{partition_segment(partition_key)}/"
        f"{arrival_stamp(arrival)}-{escape_segment(unique_id)}.json"
    )


def manifest_key(prefix: str, consumer: str, moment: datetime, shard_id: str, start: str, end: str) -> str:
    return f"{prefix}/{consumer}/{_day(moment)}/{escape_segment(shard_id)}-{start}-{end}.json"


def unparsed_key(prefix: str, moment: datetime, message_id: str) -> str:
    return f"{prefix}/{_day(moment)}/{escape_segment(message_id)}.json"


def replayed_key(key: str) -> str:
    return f"{REPLAYED_PREFIX}/{key}"


@dataclass(frozen=True, slots=True)
class RecordKey:
    """A parsed ``record_key``."""

    key: str
    consumer: str
    hour: datetime
    partition_segment: str
    arrival: str
    unique_id: str


def parse_record_key(prefix: str, key: str) -> RecordKey | None:
    """The parts of a record key under ``prefix``; None for anything else (a stray object)."""
    head = f"{prefix}/"
    if not key.startswith(head):
        return None
    parts = key[len(head) :].split("/")
    if len(parts) != 7:
        return None
    consumer, year, month, day, hour, segment, name = parts
    match = _ARRIVAL.fullmatch(name)
    if match is None:
        return None
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), tzinfo=UTC)
    except ValueError:
        return None
    return RecordKey(key, consumer, moment, segment, match.group(1), unescape_segment(match.group(2)))


def hours(since: datetime, until: datetime) -> Iterator[datetime]:
    """Every UTC hour from the hour of ``since`` to the hour of ``until``, inclusive."""
    moment = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last = until.astimezone(UTC)
    while moment <= last:
        yield moment
        moment += timedelta(hours=1)


def days(since: datetime, until: datetime) -> Iterator[datetime]:
    """Every UTC day from the day of ``since`` to the day of ``until``, inclusive."""
    moment = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = until.astimezone(UTC)
    while moment <= last:
        yield moment
        moment += timedelta(days=1)


def hour_prefix(prefix: str, consumer: str, hour: datetime, partition_key: str | None = None) -> str:
    base = f"{prefix}/{consumer}/{_hour(hour)}/"
    return base if partition_key is None else f"{base}{partition_segment(partition_key)}/"


def day_prefix(prefix: str, consumer: str, day: datetime) -> str:
    return f"{prefix}/{consumer}/{_day(day)}/"
