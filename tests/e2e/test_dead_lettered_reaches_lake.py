"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) on the dead-letter paths.

The same odd requests (``tests/e2e/lake_property.py``), sent while one consumer's Pipe target (the
lake's S3 writer, or the partner's API destination) fails on every invocation: the Pipe retries,
then sends each batch's pointer to its DLQ; the DLQ-hydrate reads the records back from the stream
into the DLQ store. Then the runbook's recovery (``localcloud.recovery.recover``: faults cleared,
last-resort queues moved back, the store replayed with the replay tool's engine) must bring every
accepted event to that consumer exactly once: a readable lake line holding what was sent, and the
same content at the partner as in the lake (one of the two came the direct way). No DLQ message or
stored object may be left behind.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import (
    LAKE_PROFILE,
    Consumer,
    OddRequest,
    check_lake,
    native_requests,
    segment_requests,
    send_through_dlq,
)

REQUESTS = 30


@pytest.mark.parametrize("failing", ["lake", "partner"])
def test_dead_lettered_events_reach_their_consumer_once_as_sent_after_the_replay(
    warm_cloud: LocalCloud, failing: Consumer
) -> None:
    # GIVEN native and Segment requests of events with odd content
    accepted = 0

    @settings(LAKE_PROFILE, max_examples=REQUESTS)
    @given(st.one_of(native_requests(), segment_requests()))
    def check(request: OddRequest) -> None:
        nonlocal accepted
        # WHEN it is sent while the consumer's Pipe target fails past the Pipe's retries, and the
        # DLQ store is replayed once the cause is fixed (THEN every accepted event was stored and
        # none reached the consumer; after the replay each is one lake line and at the partner
        # once with the line's content, and no DLQ or store holds anything)
        run = send_through_dlq(warm_cloud, request, failing)
        # THEN each accepted event's line holds what was sent, as on the direct path
        check_lake(run, request)
        accepted += len(run.accepted)

    check()
    assert accepted >= REQUESTS, accepted
