"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) with the front-door buffer on:
the validator writes small signal batches to the buffer stream and the batcher re-packs them before
the ingress bus. Whatever odd content the validator accepts, the batcher's hop too must bring each
event to the lake exactly once, readable, as sent (``tests/e2e/lake_property.py``); and when the
batcher fails until the records age out, the buffer's DLQ, the DLQ-hydrate and the replay onto the
buffer stream must do the same (``tests/e2e/test_dead_lettered_reaches_lake.py``'s property)."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from signal_platform.signal_batches import MIXED_EVENT_TYPE
from tests.e2e.lake_property import ANY_REQUESTS, examples, holds_for, send, send_through_dlq

REQUESTS = examples(20)
DEAD_LETTERED_REQUESTS = examples(5)


def mixed_batches(cloud: LocalCloud) -> None:
    """Each enriched batch the partner got is of the default SignalBatchGrouping (Request): named
    "mixed", listing its signals' types, distinct and sorted."""
    assert cloud.partner is not None
    for got in cloud.partner.received:
        detail = got.body["detail"]
        kinds = sorted({signal["event_type"] for signal in detail["signals"]})
        assert (got.body["detail-type"], detail["event_types"]) == (MIXED_EVENT_TYPE, kinds), detail


def test_accepted_events_reach_the_lake_through_the_buffer_once_and_readable(buffered: LocalCloud) -> None:
    # GIVEN native and Segment requests of events with odd content, through the buffer
    buffered.reset()  # cold once: the package's cloud may hold another test's sources
    # WHEN each is sent and the pipeline drains
    # THEN each accepted event is one lake line, as sent, and at the partner once, in mixed batches
    # that list their types (the default grouping: the batcher re-packs requests of several types)
    holds_for(
        ANY_REQUESTS,
        REQUESTS,
        lambda request: send(buffered, request),
        and_then=lambda: mixed_batches(buffered),
    )


def test_events_the_batcher_dead_letters_reach_the_lake_once_as_sent_after_the_replay(
    buffered: LocalCloud,
) -> None:
    # GIVEN native and Segment requests of events with odd content, through the buffer
    buffered.reset()
    # WHEN each is sent while the batcher fails until its records age out, and the DLQ store is
    # replayed once the cause is fixed
    # THEN every accepted event was stored, none reached the lake or the partner; after the replay
    # each is one lake line, as sent, and at the partner once
    holds_for(
        ANY_REQUESTS, DEAD_LETTERED_REQUESTS, lambda request: send_through_dlq(buffered, request, "buffer")
    )
