"""End to end with the front-door buffer: one-event requests through the validator, the buffer
stream and the batcher into full signal batches, and on to the lake and the partner exactly once,
also when the batcher fails part-way through a batch or the bus refuses some of its entries."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from localcloud import scenario
from localcloud.cloud import LocalCloud
from localcloud.faults import SdkFault, TargetFault
from localcloud.scenario import Outcome, Scenario

SINGLE_EVENTS = Scenario(
    events=300, per_request=1, invalid_share=0.05, resend_share=0.05, seed=5, sources=("web-shop", "ios-app")
)


def _run(cloud: LocalCloud, plan: Scenario = SINGLE_EVENTS) -> Outcome:
    outcome = scenario.run(cloud, plan, write_keys={})
    assert outcome.settled, "the pipeline did not go quiet"
    return outcome


def _exactly_once(outcome: Outcome, minimum: int = 250) -> None:
    report = outcome.report
    assert len(report.ledger.accepted) >= minimum
    for consumer in report.balances:
        assert consumer.lost == (), f"{consumer.consumer} lost {len(consumer.lost)}: {consumer.lost[:3]}"
        assert consumer.unexpected == (), consumer.unexpected[:3]
        assert consumer.duplicated == (), f"{consumer.consumer} holds copies: {consumer.duplicated[:3]}"
        assert consumer.in_sink == len(report.ledger.accepted), consumer
    assert sum(report.census.dlq_messages.values()) == 0
    assert not report.census.dropped


def _batcher(cloud: LocalCloud) -> str:
    return str(cloud.stack.get("BatcherFunction").ref)


def _batcher_metric(cloud: LocalCloud, name: str) -> float:
    return sum(cloud.primary.cloudwatch.values("CustomerSignals", name, {"service": "batcher"}))


def test_single_event_requests_reach_the_lake_exactly_once(cloud: LocalCloud) -> None:
    # GIVEN the buffer enabled, WHEN 300 one-event requests of the realistic mix are sent (5 % resent)
    outcome = _run(cloud)

    # THEN nothing is lost and nothing is stored twice, identical resends included
    _exactly_once(outcome)
    assert _batcher_metric(cloud, "BufferResendsDropped") >= 1
    # AND the batcher forwarded every accepted signal (the validator wrote them to the buffer only)
    assert _batcher_metric(cloud, "SignalsForwarded") == len(outcome.report.ledger.accepted)


def test_single_event_requests_of_one_type_become_signal_batches_of_many_signals(cloud: LocalCloud) -> None:
    # GIVEN one-event requests of one source and one event type, nothing invalid, nothing resent
    plan = replace(SINGLE_EVENTS, events=800, invalid_share=0.0, resend_share=0.0, sources=("web-shop",))
    planned = scenario.plan_traffic(plan)
    kind, _ = Counter(request.events[0].event["event_type"] for request in planned).most_common(1)[0]
    requests = [request for request in planned if request.events[0].event["event_type"] == kind]
    assert len(requests) >= 50

    # WHEN they are sent
    outcome = scenario.run(cloud, plan, requests=requests, write_keys={})
    assert outcome.settled

    # THEN every one is in the lake once, carried by a few full entries (one per shard and window)
    _exactly_once(outcome, minimum=len(requests))
    entries = _batcher_metric(cloud, "BusEntries")
    assert _batcher_metric(cloud, "BufferRecordsReceived") == len(requests)
    assert 1 <= entries <= len(requests) / 5


def test_a_batcher_that_times_out_mid_batch_loses_and_repeats_nothing(cloud: LocalCloud) -> None:
    # GIVEN the batcher stops after its first AWS calls (the signing key, a PutEvents), twice
    cloud.faults.add(TargetFault("BatcherFunction", mode="timeout", after_calls=2, times=2))

    # WHEN the traffic is sent and the mapping retries the batch from its first record
    outcome = _run(cloud)

    # THEN the batches published before the timeout come again with the same ids and are suppressed
    _exactly_once(outcome)
    assert (
        sum(cloud.primary.cloudwatch.values("AWS/Lambda", "Errors", {"FunctionName": _batcher(cloud)})) == 2
    )


def test_entries_the_bus_refuses_are_retried_from_their_segment_exactly_once(cloud: LocalCloud) -> None:
    # GIVEN the bus refuses entries of the batcher's PutEvents calls (per entry) for a while
    cloud.faults.add(
        SdkFault(
            "events",
            "put_events",
            times=12,
            code="InternalFailure",
            per_entry=True,
            function="BatcherFunction",
        )
    )

    # WHEN the traffic is sent
    outcome = _run(cloud)

    # THEN the segments that were not delivered were retried from their first record, and every
    # signal is in the lake once
    _exactly_once(outcome)
    assert _batcher_metric(cloud, "BufferSegmentsRetried") >= 1
