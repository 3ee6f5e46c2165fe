"""RFC 3339 output: UTC, milliseconds, ``Z``, for any aware moment and any offset it carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signal_platform.timeutil import as_utc, format_rfc3339, parse_rfc3339

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


def test_as_utc_takes_a_naive_moment_as_utc_and_converts_an_aware_one() -> None:
    naive = datetime(2026, 12, 7, 10, 0)
    assert as_utc(naive) == naive.replace(tzinfo=UTC)
    assert as_utc(datetime(2026, 12, 7, 11, 0, tzinfo=timezone(timedelta(hours=1)))) == naive.replace(
        tzinfo=UTC
    )


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))),
    ],
)
def test_as_utc_of_a_moment_outside_utcs_years_is_a_value_error(moment: datetime) -> None:
    with pytest.raises(ValueError, match="out of range"):
        as_utc(moment)
