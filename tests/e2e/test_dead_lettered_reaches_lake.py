"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) on the dead-letter paths.

The same odd requests (``tests/e2e/lake_property.py``), sent while one target fails on every
invocation past its retries (``FAILING_TARGET_AND_DLQ``): the enrichment rule's target, the
enrichment function itself (its async failure destination), the rule target putting enriched
batches on the signal stream, or a consumer Pipe's target (the lake's S3 writer, the partner's API
destination, whose Pipe sends each batch's pointer to its DLQ). The DLQ-hydrate stores what its DLQ
got (for a Pipe, the records read back from the stream). Then the runbook's recovery
(``localcloud.recovery.recover``: faults cleared, last-resort queues moved back, the store replayed
with the replay tool's engine) must bring every accepted event to the lake and the partner exactly
once: a readable lake line holding what was sent, and the same content at the partner. No DLQ
message or stored object may be left behind.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import (
    FAILING_TARGET_AND_DLQ,
    LAKE_PROFILE,
    DeadLetterPath,
    OddRequest,
    check_lake,
    examples,
    native_requests,
    segment_requests,
    send_through_dlq,
)

REQUESTS = examples(8)


@pytest.mark.parametrize("failing", sorted(set(FAILING_TARGET_AND_DLQ) - {"buffer"}))  # no buffer here
def test_dead_lettered_events_reach_lake_and_partner_once_as_sent_after_replay(
    warm_cloud: LocalCloud, failing: DeadLetterPath
) -> None:
    # GIVEN native and Segment requests of events with odd content
    accepted = 0

    @settings(LAKE_PROFILE, max_examples=REQUESTS)
    @given(st.one_of(native_requests(), segment_requests()))
    def check(request: OddRequest) -> None:
        nonlocal accepted
        # WHEN it is sent while the path's target fails past its retries, and the DLQ store is
        # replayed once the cause is fixed (THEN every accepted event was stored and none reached
        # what is behind the failing target; after the replay each is one lake line and at the
        # partner once with the line's content, and no DLQ or store holds anything)
        run = send_through_dlq(warm_cloud, request, failing)
        # THEN each accepted event's line holds what was sent, as on the direct path
        check_lake(run, request)
        accepted += len(run.accepted)

    check()
    assert accepted >= REQUESTS, accepted
