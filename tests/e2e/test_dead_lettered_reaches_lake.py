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

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import (
    ANY_REQUESTS,
    FAILING_TARGET_AND_DLQ,
    DeadLetterPath,
    examples,
    holds_for,
    send_through_dlq,
)

REQUESTS = examples(8)


@pytest.mark.parametrize("failing", sorted(set(FAILING_TARGET_AND_DLQ) - {"buffer"}))  # no buffer here
def test_dead_lettered_events_reach_lake_and_partner_once_as_sent_after_replay(
    warm_cloud: LocalCloud, failing: DeadLetterPath
) -> None:
    # GIVEN native and Segment requests of events with odd content
    # WHEN each is sent while the path's target fails past its retries, and the DLQ store is
    # replayed once the cause is fixed
    # THEN every accepted event was stored and none reached what is behind the failing target; after
    # the replay each is one lake line, as sent (as on the direct path), and at the partner once with
    # the line's content, and no DLQ or store holds anything
    holds_for(ANY_REQUESTS, REQUESTS, lambda request: send_through_dlq(warm_cloud, request, failing))
