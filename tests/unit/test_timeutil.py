"""RFC 3339 output: UTC, milliseconds, ``Z``, for any aware moment and any offset it carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from signal_platform.timeutil import format_rfc3339, parse_rfc3339

OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Moments whose UTC form stays inside years 1..9999 (the edges of the calendar are a day away).
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@given(MOMENTS, OFFSETS)
def test_format_rfc3339_of_any_offset_is_the_utc_isoformat_in_milliseconds(
    moment: datetime, offset: timezone
) -> None:
    # GIVEN a moment expressed in an arbitrary offset
    local = moment.astimezone(offset)
    # WHEN it is formatted
    text = format_rfc3339(local)
    # THEN it is the UTC moment, cut to milliseconds, with "Z", exactly as isoformat writes it
    expected = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert text == expected
    assert parse_rfc3339(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_format_rfc3339_pads_small_years_and_fields() -> None:
    # GIVEN a moment in year 7 with one-digit fields
    moment = datetime(7, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    # WHEN it is formatted / THEN every field keeps its width
    assert format_rfc3339(moment) == "0007-01-02T03:04:05.006Z"
