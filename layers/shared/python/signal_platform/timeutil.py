"""RFC 3339 timestamps, always UTC, millisecond precision on output."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

# RFC 3339 section 5.6 `date-time`, as JSON Schema's `date-time` format checks it: "T"/"Z" in either
# case, a fraction of any length, a numeric offset with a colon. ASCII digits only.
_DATE_TIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_LEAP_SECOND: Final = timedelta(seconds=1)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 `date-time`; anything else (no offset, ISO 8601 variants) is a ValueError.

    A leap second (``:60``) is read as the first instant of the next minute; a moment that cannot be
    represented (year 0, past year 9999 after the leap second) is a ValueError too.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    leap = match[1] == "60"
    iso = f"{text[:17]}59{text[19:]}" if leap else text
    try:
        parsed = datetime.fromisoformat(iso.upper())  # fromisoformat wants "T" and "Z" in upper case
        return parsed + _LEAP_SECOND if leap else parsed
    except OverflowError as exc:
        raise ValueError(f"date-time out of range: {text!r}") from exc


def parse_validated_rfc3339(text: str) -> datetime:
    """``parse_rfc3339`` for text a JSON Schema ``date-time`` format check has already passed: the
    common form is parsed without the pattern match, the rare ones (lower case, leap second) with it."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return parse_rfc3339(text)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, a naive one taken as UTC already. A ValueError when UTC has no such moment:
    an offset moves it before year 1 or past year 9999 (``0001-01-01T00:00+01:00``)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{moment.isoformat()} is out of range: UTC has years 1 to 9999") from exc


def format_rfc3339(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # what parse_rfc3339 of "...Z" and utc_now() give: no conversion
        moment = moment.astimezone(UTC)
    # %-formatting is about twice as fast as isoformat(timespec=...) and runs once per event.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
