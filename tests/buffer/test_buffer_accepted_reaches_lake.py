"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) with the front-door buffer on:
the validator writes small signal batches to the buffer stream and the batcher re-packs them before
the ingress bus. Whatever odd content the validator accepts, the batcher's hop too must bring each
event to the lake exactly once, readable, as sent (``tests/e2e/lake_property.py``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import (
    LAKE_PROFILE,
    OddRequest,
    check_lake,
    native_requests,
    segment_requests,
    send,
)

REQUESTS = 60


def test_accepted_events_reach_the_lake_through_the_buffer_once_and_readable(buffered: LocalCloud) -> None:
    # GIVEN native and Segment requests of events with odd content, through the buffer
    buffered.reset()  # cold once: the package's cloud may hold another test's sources
    accepted = 0

    @settings(LAKE_PROFILE, max_examples=REQUESTS)
    @given(st.one_of(native_requests(), segment_requests()))
    def check(request: OddRequest) -> None:
        nonlocal accepted
        # WHEN it is sent and the pipeline drains / THEN each accepted event is one lake line, as sent
        run = send(buffered, request)
        check_lake(run, request)
        accepted += len(run.accepted)

    check()
    assert accepted >= REQUESTS, accepted
