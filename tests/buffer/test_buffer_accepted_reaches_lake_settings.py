"""The lake property (``tests/e2e/lake_property.py``) with the front-door buffer AND the settings
the buffer's default stack does not run: FrontDoor "Both" (the load balancer's event shape into the
validator that writes the buffer), StoreRawIp "true" (raw addresses in the buffer records the batcher
re-packs) and SignalBatchGrouping "EventType" (the batcher re-packs per type). The default grouping,
Request (mixed-type batches), is the buffer's default stack: ``test_buffer_accepted_reaches_lake.py``.

One stack of its own Region and name (moto is shared with the package's cloud) runs the odd requests
through either front door, and through the buffer's dead-letter path: every accepted event is one
lake line, readable, as sent, its raw address kept, at the partner once, in batches of one type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import ANY_REQUESTS, FrontDoor, examples, holds_for, send, send_through_dlq
from tests.e2e.test_accepted_reaches_lake_settings import batches_of_one_type, other_settings_cloud

REGION: Final = "ap-northeast-1"
REQUESTS: Final = examples(8)
DEAD_LETTERED_REQUESTS: Final = examples(4)


@pytest.fixture(scope="module")
def buffered_settings() -> Iterator[LocalCloud]:
    with other_settings_cloud(REGION, "lc-buffer-settings", FrontDoorBuffer="Enabled") as cloud:
        yield cloud


def _batcher_invocations(cloud: LocalCloud) -> float:
    batcher = str(cloud.stack.get("BatcherFunction").ref)
    return sum(cloud.primary.cloudwatch.values("AWS/Lambda", "Invocations", {"FunctionName": batcher}))


@pytest.fixture(params=["http-api", "load-balancer", "load-balancer, multi-value headers on"])
def front_door(request: pytest.FixtureRequest, buffered_settings: LocalCloud) -> Iterator[FrontDoor]:
    """Either door; the load balancer also as its target group delivers with multi-value headers on
    (the template turns them off: tests/infra/test_load_balancer.py)."""
    if request.param == "http-api":
        yield buffered_settings.api
        return
    balancer = buffered_settings.load_balancer
    balancer.multi_value_headers = request.param.endswith("on")
    try:
        yield balancer
    finally:
        balancer.multi_value_headers = False


def test_accepted_events_reach_the_lake_through_the_buffer_with_raw_addresses_per_type_and_either_door(
    buffered_settings: LocalCloud, front_door: FrontDoor
) -> None:
    # GIVEN native and Segment requests of events with odd content, on the buffered stack keeping raw
    # addresses and grouping signal batches per event type
    cloud = buffered_settings
    batched: list[float] = []  # per request: the batcher's invocations (a reset clears the metrics)

    def per_type_and_batched() -> None:
        batches_of_one_type(cloud)
        batched.append(_batcher_invocations(cloud))

    # WHEN each is sent through the front door and the pipeline drains
    # THEN each accepted event is one lake line, as sent, the client's address kept beside its
    # network, and at the partner once, in enriched batches of the one type each is named after
    holds_for(
        ANY_REQUESTS,
        REQUESTS,
        lambda request: send(cloud, request, front_door=front_door),
        raw_ip=True,
        and_then=per_type_and_batched,
    )
    # AND the batcher packed them (requests of small batches go through the buffer)
    assert sum(batched) > 0, batched


def test_events_the_batcher_dead_letters_reach_the_lake_with_raw_addresses_per_type_after_the_replay(
    buffered_settings: LocalCloud,
) -> None:
    # GIVEN native and Segment requests of events with odd content, on the buffered stack of other
    # settings
    # WHEN each is sent while the batcher fails until its records age out, and the DLQ store is
    # replayed onto the buffer stream once the cause is fixed
    # THEN every accepted event was stored; after the replay each is one lake line, as sent (its raw
    # address kept), at the partner once, in batches of one type
    holds_for(
        ANY_REQUESTS,
        DEAD_LETTERED_REQUESTS,
        lambda request: send_through_dlq(buffered_settings, request, "buffer"),
        raw_ip=True,
        and_then=lambda: batches_of_one_type(buffered_settings),
    )
