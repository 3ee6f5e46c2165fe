"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) with the settings the default
stack does not run: StoreRawIp "true" (the enriched signal keeps the client's address beside its
network), SignalBatchGrouping "EventType" (one event type per signal batch) and FrontDoor "Both"
(the HTTP API and the Application Load Balancer, whose event shape the validator reads too).

One stack of its own Region and name (moto is shared with the package's cloud) runs the same odd
requests (``tests/e2e/lake_property.py``) through each front door: every accepted event is one lake
line, readable, as sent, with the raw address kept, and at the partner once with the same content;
and so after the enrichment or the S3 writer fails past its retries and the DLQ store is replayed
(``tests/e2e/test_dead_lettered_reaches_lake.py``'s property: per-type batches and raw addresses
through the DLQs, the store and the replay).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest

from localcloud.cloud import CloudOptions, LocalCloud
from tests.e2e.lake_property import ANY_REQUESTS, DeadLetterPath, examples, holds_for, send, send_through_dlq
from tests.e2e.test_load_balancer import NETWORK

ROOT: Final = Path(__file__).resolve().parents[2]
REGION: Final = "ca-central-1"
REQUESTS: Final = examples(20)
DEAD_LETTERED_REQUESTS: Final = examples(8)


@contextmanager
def other_settings_cloud(region: str, stack_name: str, **overrides: str) -> Iterator[LocalCloud]:
    """A one-Region stack of its own Region and name with the settings the default stack does not run
    (StoreRawIp, per-type batches, both front doors) and ``overrides`` on top."""
    settings = {
        "PrimaryRegion": region,
        "SecondaryRegion": region,
        "StoreRawIp": "true",
        "SignalBatchGrouping": "EventType",
        "FrontDoor": "Both",
        "ApiCertificateArn": f"arn:aws:acm:{region}:123456789012:certificate/abc-123",
        **NETWORK,
        **overrides,
    }
    options = CloudOptions(
        template=ROOT / "template.yaml", region=region, stack_name=stack_name, overrides=settings
    )
    with LocalCloud(options) as cloud:
        cloud.reset()
        yield cloud


@pytest.fixture(scope="module")
def other_settings() -> Iterator[LocalCloud]:
    with other_settings_cloud(REGION, "lc-lake-settings") as cloud:
        yield cloud


def batches_of_one_type(cloud: LocalCloud) -> None:
    """Each enriched batch the partner got holds the one event type it is named after."""
    assert cloud.partner is not None
    for got in cloud.partner.received:
        kinds = {signal["event_type"] for signal in got.body["detail"]["signals"]}
        assert kinds == {got.body["detail-type"]}, (kinds, got.body["detail-type"])


@pytest.mark.parametrize("front_door", ["http-api", "load-balancer"])
def test_accepted_events_reach_the_lake_with_raw_addresses_per_type_batches_and_either_door(
    other_settings: LocalCloud, front_door: str
) -> None:
    # GIVEN native and Segment requests of events with odd content, on the stack keeping raw
    # addresses and grouping signal batches per event type
    door = other_settings.load_balancer if front_door == "load-balancer" else other_settings.api

    # WHEN each is sent through the front door and the pipeline drains
    # THEN each accepted event is one lake line, as sent, the client's address kept beside its
    # network, and at the partner once; AND each enriched batch the partner got holds the one
    # event type it is named after
    holds_for(
        ANY_REQUESTS,
        REQUESTS,
        lambda request: send(other_settings, request, front_door=door),
        raw_ip=True,
        and_then=lambda: batches_of_one_type(other_settings),
    )


@pytest.mark.parametrize("failing", ["enrichment-failure", "lake"])
def test_dead_lettered_events_with_raw_addresses_and_per_type_batches_reach_the_lake_once(
    other_settings: LocalCloud, failing: DeadLetterPath
) -> None:
    # GIVEN native and Segment requests of events with odd content, on the stack of other settings
    # WHEN each is sent while the path's target fails past its retries, and the DLQ store is
    # replayed once the cause is fixed
    # THEN all of it was stored, and after the replay each accepted event is one lake line, as sent
    # (the client's address kept beside its network), and at the partner once; no DLQ or store
    # holds anything
    holds_for(
        ANY_REQUESTS,
        DEAD_LETTERED_REQUESTS,
        lambda request: send_through_dlq(other_settings, request, failing),
        raw_ip=True,
    )
