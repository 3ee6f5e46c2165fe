"""An event's time checks and ``derived_at``, as one request's clock sees them (pure).

``derived_at`` is ``occurred_at`` corrected for the client's clock skew: ``received - (sent -
occurred)``, in RFC 3339 UTC with milliseconds. An event's age (``sent - occurred``, or ``received -
occurred`` without ``sent_at``) must lie within the limits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from signal_platform.timeutil import format_rfc3339, parse_validated_rfc3339

# occurred_at as clients send it, "2026-12-07T06:30:21.808Z": a minute, then ":SS.mmmZ".
_CANONICAL_LENGTH: Final = len("2026-12-07T06:30:21.808Z")
_MINUTE_LENGTH: Final = len("2026-12-07T06:30")
_MICROSECOND: Final = timedelta(microseconds=1)
_MINUTE: Final = timedelta(minutes=1)
_MS_PER_MINUTE: Final = 60_000
_SECONDS_TEXT: Final = tuple(f"{second:02d}." for second in range(60))
_MILLISECONDS_TEXT: Final = tuple(f"{millisecond:03d}Z" for millisecond in range(1000))
_SECOND_MS: Final = {f"{second:02d}": second * 1000 for second in range(61)}
_MILLISECONDS: Final = {f"{millisecond:03d}": millisecond for millisecond in range(1000)}
_MINUTE_TEXT: Final = tuple(f"{minute:02d}:" for minute in range(60))
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_UTC_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def derived_time(occurred: datetime, sent: datetime | None, received: datetime) -> datetime:
    """Client clock skew corrected: ``received - (sent - occurred)``; ``occurred`` without ``sent_at``."""
    return occurred if sent is None else received - (sent - occurred)


def derived_text(occurred_at: str, occurred: datetime, sent: datetime | None, received: datetime) -> str:
    """``derived_time`` as RFC 3339 UTC with milliseconds; without skew correction a client timestamp
    that already has that form is reused, which saves the arithmetic and formatting on that path. A
    leap second (":60") is not: it is the next minute's first instant, as readers of the lake parse it."""
    if (
        sent is None
        and len(occurred_at) == _CANONICAL_LENGTH
        and occurred_at[19::4] == ".Z"
        and occurred_at[17] != "6"
    ):
        return occurred_at
    return format_rfc3339(derived_time(occurred, sent, received))


def microseconds(span: timedelta) -> int:
    return span // _MICROSECOND


# What every occurred_at of one minute shares, for one request's clock: the "YYYY-MM-DDTHH:MM:" of
# the minute's first instant skew corrected and of the minute after that, the corrected instant's
# milliseconds into its minute, and the age of an event at the minute's first instant (microseconds).
# A tuple: built and unpacked for less than a class instance costs to create.
_Minute = tuple[str, str, int, int]


def _following_prefix(derived: datetime, prefix: str) -> str:
    """The "YYYY-MM-DDTHH:MM:" of the minute after ``derived``'s, whose is ``prefix``."""
    if derived.minute < 59:  # the minute's two digits: a quarter of the cost of formatting the time
        return prefix[:14] + _MINUTE_TEXT[derived.minute + 1]
    return (derived + _MINUTE).isoformat()[:17]


# A minute not met yet, met once (None: left to the general path); told apart by identity, so
# their contents differ (equal constant tuples are one object).
_UNSEEN: Final[_Minute] = ("unseen", "", 0, 0)
_SEEN_ONCE: Final[_Minute] = ("seen once", "", 0, 0)


class RequestClock:
    """One request's view of event times: ``received``, and ``sent`` (the batch's or an event's own
    ``sent_at``; None without one), with the age limits in microseconds.

    ``derived_at`` of an ``occurred_at`` in the form clients send costs integer arithmetic, not a
    parse, a subtraction and a format of datetimes: everything that depends on its minute (the first
    16 characters) is worked out once per minute and request, and derived = occurred + (received -
    sent) is that minute's derived time plus the seconds and milliseconds of ``occurred_at``. Naive
    datetimes (UTC) inside: ``isoformat`` and ``replace`` of an aware one cost twice as much."""

    __slots__ = (
        "_by_sent",
        "_max_age_us",
        "_min_age_us",
        "_minutes",
        "_offset",
        "_received",
        "_reference",
        "_sent",
    )

    def __init__(self, received: datetime, sent: datetime | None, min_age_us: int, max_age_us: int) -> None:
        self._received, self._sent = received, sent
        self._reference = received if sent is None else sent  # what an event's age is measured from
        self._offset = received - self._reference
        self._min_age_us, self._max_age_us = min_age_us, max_age_us
        self._minutes: dict[str, _Minute | None] = {}
        self._by_sent: dict[str, RequestClock | None] | None = None

    def with_sent(self, sent_at: str) -> RequestClock | None:
        """The clock of an event with its own ``sent_at`` (kept: a batch's events often share one);
        None when ``datetime`` cannot read it."""
        if self._by_sent is None:
            self._by_sent = {}
        clock = self._by_sent.get(sent_at, self)
        if clock is self:
            try:
                sent = parse_validated_rfc3339(sent_at)
            except ValueError:
                clock = None
            else:
                clock = RequestClock(self._received, sent, self._min_age_us, self._max_age_us)
            self._by_sent[sent_at] = clock
        return clock

    def derived_at(self, occurred_at: str) -> str | None:
        """``derived_at`` of an event that occurred at ``occurred_at`` (text the schema's ``date-time``
        check has passed), or None when the event's age is outside the limits or the text is not a
        time ``datetime`` can hold (``EventJudge`` words the rejection)."""
        if len(occurred_at) == _CANONICAL_LENGTH and occurred_at[19::4] == ".Z":
            prefix = occurred_at[:_MINUTE_LENGTH]
            minute = self._minutes.get(prefix, _UNSEEN)
            if minute is _UNSEEN:
                # A minute's first event takes the general path: working the minute out pays from
                # its second event on (a one-event request would pay more than it saves).
                self._minutes[prefix] = _SEEN_ONCE
                return self._derived_at_of_any_form(occurred_at)
            if minute is _SEEN_ONCE:
                minute = self._minute(prefix)
            # The milliseconds into the minute, "SS" and "mmm" looked up (the date-time check let
            # only digits through): a third of the cost of int(). 60 s (a leap second) takes the
            # general path, which reads it as the next minute.
            ms = _SECOND_MS[occurred_at[17:19]] + _MILLISECONDS[occurred_at[20:23]]
            if minute is not None and ms < _MS_PER_MINUTE:
                derived_prefix, next_prefix, derived_ms, age_us = minute
                if not self._min_age_us <= age_us - ms * 1000 <= self._max_age_us:
                    return None
                # Whole milliseconds: the sum's are the derived time's, as format_rfc3339 truncates.
                derived_ms += ms
                if derived_ms >= _MS_PER_MINUTE:
                    derived_ms, derived_prefix = derived_ms - _MS_PER_MINUTE, next_prefix
                # Looked up and joined: a quarter of the cost of %-formatting the two numbers.
                return (
                    derived_prefix + _SECONDS_TEXT[derived_ms // 1000] + _MILLISECONDS_TEXT[derived_ms % 1000]
                )
        return self._derived_at_of_any_form(occurred_at)

    def _minute(self, prefix: str) -> _Minute | None:
        """The minute ``prefix`` names, for this clock (kept for its next events); None when the
        general path must judge its events (a lower-case "t", a minute ``datetime`` cannot hold)."""
        minute = None
        if prefix[10] == "T":
            try:
                start = datetime.fromisoformat(prefix)
                derived = start + self._offset
                derived_prefix = derived.isoformat()[:17]
                minute = (
                    derived_prefix,
                    _following_prefix(derived, derived_prefix),
                    derived.second * 1000 + derived.microsecond // 1000,
                    (self._reference - _UTC_EPOCH - (start - _NAIVE_EPOCH)) // _MICROSECOND,
                )
            except (ValueError, OverflowError):
                pass
        self._minutes[prefix] = minute
        return minute

    def _derived_at_of_any_form(self, occurred_at: str) -> str | None:
        """The general path, on parsed datetimes."""
        try:
            occurred = parse_validated_rfc3339(occurred_at)
        except ValueError:
            return None
        if not self._min_age_us <= (self._reference - occurred) // _MICROSECOND <= self._max_age_us:
            return None
        return derived_text(occurred_at, occurred, self._sent, self._received)
