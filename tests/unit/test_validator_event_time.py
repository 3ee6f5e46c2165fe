"""The request clock's derived_at and age check against the plain datetime arithmetic they replace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform.timeutil import format_rfc3339, parse_rfc3339
from validator.event_time import RequestClock, derived_time, microseconds

RECEIVED = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)
MIN_AGE, MAX_AGE = timedelta(hours=-1), timedelta(days=7)
# Instants where a carry runs through the fields: minute, hour, day, month, a leap day, a year.
EDGES = (
    datetime(2026, 11, 26, 11, 59, 59, 999000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    datetime(2028, 2, 28, 23, 59, 30, tzinfo=UTC),
    datetime(2028, 2, 29, 23, 59, 59, 500000, tzinfo=UTC),
    datetime(2100, 2, 28, 23, 59, 59, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
)


def _plain(
    occurred_at: str, received: datetime, sent: datetime | None, min_age: timedelta, max_age: timedelta
) -> str | None:
    """What the clock must answer, on parsed datetimes: the derived time formatted, or None."""
    try:
        occurred = parse_rfc3339(occurred_at)
    except ValueError:
        return None
    if not min_age <= (received if sent is None else sent) - occurred <= max_age:
        return None
    return format_rfc3339(derived_time(occurred, sent, received))


def _outcome(answer: Callable[[], str | None]) -> str | None:
    """The answer, or the name of the error it raised (both sides must fail alike near year 1 or 9999)."""
    try:
        return answer()
    except OverflowError:
        return "OverflowError"


def _text(moment: datetime, form: int) -> str:
    return [
        moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),  # the form clients send
        moment.isoformat().replace("+00:00", "Z"),  # microseconds, or none at all
        moment.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat(timespec="milliseconds"),
        moment.isoformat(timespec="milliseconds").replace("+00:00", "z").replace("T", "t"),
        moment.strftime("%Y-%m-%dT%H:%M:60.250Z"),  # a leap second
    ][form]


_MOMENTS = st.one_of(
    st.sampled_from(EDGES),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
)
_OFFSETS = st.one_of(
    st.timedeltas(min_value=timedelta(minutes=-3), max_value=timedelta(minutes=3)),
    st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
)


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_LATER = st.one_of(
    st.just(timedelta(0)),
    st.timedeltas(timedelta(0), timedelta(seconds=3)),
    st.timedeltas(timedelta(0), timedelta(minutes=2)),
)


@settings(max_examples=600, deadline=None)
@given(
    first=_MOMENTS,
    occurred=st.lists(st.tuples(st.integers(0, 4), _LATER), min_size=1, max_size=8),
    skew=_OFFSETS,
    delay=_OFFSETS,
    with_sent=st.booleans(),
    limit_slack=st.sampled_from([None, timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1)]),
    limit_below=st.booleans(),
)
def test_request_clock_agrees_with_datetime_arithmetic(
    first: datetime,
    occurred: list[tuple[int, timedelta]],
    skew: timedelta,
    delay: timedelta,
    with_sent: bool,
    limit_slack: timedelta | None,
    limit_below: bool,
) -> None:
    # GIVEN events that occurred near carries of every field, in each spelling, most of them in a
    # minute shared with others (the clock works minutes out from their second event), a client clock
    # off by `skew` (either way), a request that took `delay` to arrive, and age limits far away or
    # at the first event's age (either side)
    try:
        moments = [(_milliseconds(first + later), form) for form, later in occurred]
        sent = _milliseconds(first + skew) if with_sent else None
        received = (sent or first) + delay
    except OverflowError:
        return
    age = (received if sent is None else sent) - moments[0][0]
    min_age, max_age = (timedelta(days=-999_999), timedelta(days=999_999))
    if limit_slack is not None:
        bound = age + limit_slack
        min_age, max_age = (
            (bound, bound + timedelta(days=1)) if limit_below else (bound - timedelta(days=1), bound)
        )
    clock = RequestClock(received, sent, microseconds(min_age), microseconds(max_age))
    for moment, form in moments:
        occurred_at = _text(moment, form)
        # WHEN the clock derives its time
        fast = _outcome(lambda text=occurred_at: clock.derived_at(text))
        # THEN it is exactly what the datetime arithmetic gives
        plain = _outcome(lambda text=occurred_at: _plain(text, received, sent, min_age, max_age))
        assert fast == plain, (occurred_at, received, sent)


@pytest.mark.parametrize(
    ("occurred_at", "sent_at", "derived_at"),
    [
        # a client 2 h ahead: 12:00:00.123456 received, sent at 14:00:01.000
        ("2026-11-26T13:59:59.999Z", "2026-11-26T14:00:01.000Z", "2026-11-26T11:59:59.122Z"),
        ("2026-11-26T13:59:02.000Z", "2026-11-26T14:00:01.000Z", "2026-11-26T11:59:01.123Z"),
        # a request 50 ms on its way: derived runs into the next minute and hour
        ("2026-11-26T11:58:59.950Z", "2026-11-26T11:59:00.000Z", "2026-11-26T12:00:00.073Z"),
        # derived lands on a minute's first millisecond, or its last one
        ("2026-11-26T11:58:59.000Z", "2026-11-26T11:59:59.123Z", "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:58:58.999Z", "2026-11-26T11:59:59.123Z", "2026-11-26T11:58:59.999Z"),
        # no sent_at: the client's text as it is
        ("2026-11-26T11:59:59.999Z", None, "2026-11-26T11:59:59.999Z"),
        # a leap second: read as the next minute's first second, with or without sent_at
        ("2026-11-26T11:59:60.500Z", None, "2026-11-26T12:00:00.500Z"),
        ("2026-11-26T11:59:60.000Z", None, "2026-11-26T12:00:00.000Z"),
        ("2026-11-26T11:59:60.500Z", "2026-11-26T12:00:00.600Z", "2026-11-26T12:00:00.023Z"),
        # an offset, microseconds, a lower-case "t": the general path
        ("2026-11-26T13:59:00+02:00", None, "2026-11-26T11:59:00.000Z"),
        ("2026-11-26T11:59:00.123999Z", None, "2026-11-26T11:59:00.123Z"),
        ("2026-11-26t11:59:00.250Z", "2026-11-26T11:59:00.250Z", "2026-11-26T12:00:00.123Z"),
    ],
)
def test_request_clock_derived_at_examples(occurred_at: str, sent_at: str | None, derived_at: str) -> None:
    clock = RequestClock(RECEIVED, None, microseconds(MIN_AGE), microseconds(MAX_AGE))
    if sent_at is not None:
        event_clock = clock.with_sent(sent_at)
        assert event_clock is not None
        clock = event_clock
    # twice: a minute's first event takes the general path, the next ones the minute worked out
    assert [clock.derived_at(occurred_at), clock.derived_at(occurred_at)] == [derived_at, derived_at]


@pytest.mark.parametrize(
    ("occurred_at", "why"),
    [
        ("2026-11-26T13:00:00.124Z", "more than the future skew ahead"),
        ("2026-11-19T12:00:00.123Z", "just older than the oldest age"),
        ("2026-02-30T12:00:00.000Z", "no such day"),
    ],
)
def test_request_clock_refuses_what_the_checks_refuse(occurred_at: str, why: str) -> None:
    clock = RequestClock(RECEIVED, None, microseconds(MIN_AGE), microseconds(MAX_AGE))
    assert [clock.derived_at(occurred_at), clock.derived_at(occurred_at)] == [None, None], why


def test_request_clock_with_unreadable_sent_at_is_none() -> None:
    clock = RequestClock(RECEIVED, None, microseconds(MIN_AGE), microseconds(MAX_AGE))
    assert clock.with_sent("yesterday") is None
