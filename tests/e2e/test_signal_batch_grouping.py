"""End to end with each SignalBatchGrouping (docs/adr/0010). Request (the default): realistic
mixed-type traffic with resends and faults travels in mixed signal batches, one bus entry per request
and per partition key. EventType: the same traffic in batches of one type each. Either way every
accepted event is in the lake and at the partner exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from localcloud import scenario
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.faults import SdkFault, TargetFault
from localcloud.recovery import recover
from localcloud.scenario import Outcome, Scenario
from signal_platform.signal_batches import MIXED_EVENT_TYPE
from tests.e2e.test_pipeline import _no_loss

ROOT: Final = Path(__file__).resolve().parents[2]
REGION: Final = "ap-southeast-2"
# Requests of 40 events of the registry's mixed types, 10 % invalid, a third resent identically.
TRAFFIC: Final = Scenario(
    events=240, per_request=40, invalid_share=0.1, resend_share=0.3, seed=23, sources=("web-shop", "ios-app")
)


def _stack(name: str, grouping: str, region: str = REGION) -> LocalCloud:
    """A one-Region stack of its own Region and name (moto is shared with the package's cloud)."""
    options = CloudOptions(
        template=ROOT / "template.yaml",
        region=region,
        stack_name=name,
        overrides={"PrimaryRegion": region, "SecondaryRegion": region, "SignalBatchGrouping": grouping},
    )
    return LocalCloud(options)


@pytest.fixture(scope="module")
def per_request() -> Iterator[LocalCloud]:
    with _stack("lc-per-request", "Request") as cloud:
        yield cloud


@pytest.fixture
def cloud(per_request: LocalCloud) -> LocalCloud:
    per_request.reset()
    return per_request


def _ingress_entries(cloud: LocalCloud) -> int:
    stats = cloud.services.calls.snapshot().get(("ValidatorFunction", "events", "PutEvents"))
    return stats.units["entries"] if stats else 0


def _partner_events(cloud: LocalCloud) -> list[dict[str, Any]]:
    assert cloud.partner is not None
    events: list[dict[str, Any]] = []
    for received in cloud.partner.received:
        body = received.body
        events.extend(item for item in (body if isinstance(body, list) else [body]) if isinstance(item, dict))
    return events


def _exactly_once(outcome: Outcome) -> None:
    assert outcome.settled, "the pipeline did not go quiet"
    _no_loss(outcome)
    report = outcome.report
    assert {b.sink: b.in_sink for b in report.balances} == {
        "lake": len(report.ledger.accepted),
        "partner": len(report.ledger.accepted),
    }
    assert report.lake is not None and report.lake.duplicated == ()


def test_mixed_traffic_with_resends_travels_in_mixed_batches_and_lands_exactly_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN the stack grouping signal batches per request
    before = _ingress_entries(cloud)
    # WHEN mixed-type requests arrive, a third of them resent identically
    outcome = scenario.run(cloud, TRAFFIC)
    # THEN nothing is lost or stored twice, and resends were suppressed
    _exactly_once(outcome)
    report = outcome.report
    assert len(report.ledger.accepted) > 180
    assert report.duplicates_suppressed > 0
    # AND the validator put one entry per request of ~40 one-KB events (per type it would be ~6)
    requests = sum(report.ledger.accepted.values()) / TRAFFIC.per_request
    assert _ingress_entries(cloud) - before <= requests * 1.2
    # AND what the partner got are mixed enriched batches listing several types
    events = _partner_events(cloud)
    assert events and {event["detail-type"] for event in events} == {MIXED_EVENT_TYPE}
    assert any(len(event["detail"]["event_types"]) > 1 for event in events)
    for event in events:
        kinds = {signal["event_type"] for signal in event["detail"]["signals"]}
        assert event["detail"]["event_types"] == sorted(kinds)


def test_mixed_batches_survive_a_partial_put_events_and_a_writer_timeout_exactly_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN the enrichment's PutEvents failing some entries (its retry re-puts every mixed batch with
    # the same ids) and the S3 writer timing out once after its writes
    cloud.faults.add(
        SdkFault("events", "put_events", times=20, per_entry=True, function="EnrichmentFunction")
    )
    cloud.faults.add(TargetFault("S3WriterFunction", times=1, mode="timeout"))
    # WHEN mixed-type traffic with resends arrives
    outcome = scenario.run(cloud, TRAFFIC)
    # THEN both faults struck, and every accepted event is in the lake and at the partner exactly once
    assert sum(cloud.faults.fired.values()) >= 2, cloud.faults.fired
    _exactly_once(outcome)


def test_mixed_batches_of_an_enrichment_outage_are_hydrated_replayed_and_land_exactly_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN the enrichment down for longer than every retry: the mixed ingress batches end in its DLQ
    cloud.faults.add(TargetFault("EnrichmentFunction", window=(0, 300_000)))
    outcome = scenario.run(cloud, TRAFFIC)
    accepted = set(outcome.report.ledger.accepted)
    assert outcome.report.census.dead_lettered("EnrichmentFailureDlq") == accepted
    assert not outcome.report.census.lake
    # WHEN the runbook's recovery runs: the hydrated batches are put back on the ingress bus as stored
    recovery = recover(cloud)
    after = cloud.report(outcome.report.ledger).census
    # THEN the replayed mixed batches are enriched once, and every accepted event is in the lake once
    assert recovery.ok, recovery.output
    assert set(after.lake) == accepted
    assert all(copies == 1 for copies in after.lake.values())
    assert set(after.partner) == accepted


def test_the_same_traffic_grouped_per_event_type_travels_in_one_type_batches_exactly_once() -> None:
    # GIVEN a stack grouping signal batches per event type
    with _stack("lc-per-type", "EventType", region="eu-north-1") as cloud:
        # WHEN the same mixed-type requests arrive, a third of them resent identically
        outcome = scenario.run(cloud, TRAFFIC)
        # THEN nothing is lost or stored twice
        _exactly_once(outcome)
        # AND every enriched batch the partner got holds one type, its DetailType, of several types
        events = _partner_events(cloud)
        assert len({event["detail-type"] for event in events}) > 1
        assert MIXED_EVENT_TYPE not in {event["detail-type"] for event in events}
        for event in events:
            assert {signal["event_type"] for signal in event["detail"]["signals"]} == {event["detail-type"]}
