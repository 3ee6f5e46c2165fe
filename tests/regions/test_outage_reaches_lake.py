"""The lake property (``tests/e2e/lake_property.py``) through an outage of the primary Region: the
same odd requests, each sent at one phase of it:

- ``before``: the primary takes it and goes down with its batches in flight on its bus;
- ``in-stream``: the same, once enrichment has put its records in the signal stream;
- ``resent``: the primary takes it, the client never hears back and resends it to the secondary
  once the global endpoint has failed over (same event_ids: both copies reach the primary);
- ``failing-over``: the secondary refuses it (503 + Retry-After, nothing accepted) while the
  endpoint still routes to the down primary, and the client resends it after the failover;
- ``during``: the secondary takes it after the failover;
- ``after``: the primary takes it back up, while the endpoint still routes to the secondary.

Then what docs/runbook.md §5 has happen or an operator do: for an outage shorter than the 24 h
EventBridge retries replication, nothing (the endpoint fails back, replication brings the
secondary's batches to the primary); past it, the secondary's archive replayed from the outage to
10 minutes after the failback (``tools.region_recovery``, the archive replay command's code), and
the DLQ store replayed (``localcloud.recovery``). Every accepted event is then one lake line of the
primary, readable, as sent, at the partner once; nothing is left aside; the secondary's replica of
the lake holds the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import pytest

from localcloud.faults import RegionOutage
from localcloud.http_api import HttpResponse
from localcloud.recovery import recover
from localcloud.replication import REPLICATION_WINDOW
from tests.e2e.lake_property import ANY_REQUESTS, OddRequest, Run, examples, holds_for, send
from tests.regions.conftest import STEP, TwoRegions
from tools.region_recovery import replay_archive

Phase = Literal["before", "in-stream", "resent", "failing-over", "during", "after"]
PHASES: Final[tuple[Phase, ...]] = ("before", "in-stream", "resent", "failing-over", "during", "after")
SHORT_OUTAGE: Final = 15 * 60.0
PAST_WINDOW_OUTAGE: Final = REPLICATION_WINDOW + 3600.0
WARM_UP_LIMIT: Final = 30 * 60.0  # cloud seconds for the endpoint's healthy verdict after a reset
FAILOVER_LIMIT: Final = 20 * 60.0  # the template implies 480-600 s for a silent primary
FAILBACK_LIMIT: Final = 10 * 60.0  # and 120-180 s back once the primary is healthy
REPLAY_MARGIN: Final = 10 * 60.0  # docs/runbook.md: the window ends 10 minutes after the failback
REQUESTS: Final = examples(1)


def check_lake_replica(regions: TwoRegions) -> None:
    """The secondary's replica of the lake (S3 replication) holds every lake object as written."""
    cloud = regions.cloud
    assert cloud.joined is not None
    lake = cloud.function_with_env("LAKE_BUCKET_NAME").environment["LAKE_BUCKET_NAME"]
    rule = next(rule for rule in cloud.joined.buckets.rules if rule.source_bucket == lake)
    source, replica = cloud.services.client("s3"), regions.secondary.services.client("s3")

    def objects(client: Any, bucket: str) -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=rule.prefix).get("Contents", [])
        return {
            item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed
        }

    assert objects(replica, rule.destination_bucket) == objects(source, lake)


class OutageDrill:
    """A front door that sends a request at its ``phase`` of an outage of the primary Region that it
    starts (``outage`` cloud seconds), and then the recovery the runbook describes."""

    def __init__(self, regions: TwoRegions, phase: Phase, outage: float) -> None:
        self.regions, self.phase, self.outage = regions, phase, outage
        self.began = self.outage_start = self.outage_end = 0.0

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        cloud, primary, secondary = self.regions.cloud, self.regions.primary, self.regions.secondary
        joined = cloud.joined
        assert joined is not None
        # the request's source in the secondary's replica, the endpoint routing to the primary
        self.began = cloud.clock.now()
        cloud.advance(
            WARM_UP_LIMIT,
            step=STEP,
            until=lambda: joined.tables.pending() == 0 and joined.endpoint.region() == primary.name,
        )
        assert joined.endpoint.region() == primary.name, "the endpoint never routed to the primary"
        first = None
        if self.phase in ("before", "in-stream", "resent"):
            first = primary.api.request(method, target, body, headers)
        if self.phase == "in-stream":
            runs = primary.runtime.stats.invocations["EnrichmentFunction"]
            cloud.advance(
                60.0, step=1.0, until=lambda: primary.runtime.stats.invocations["EnrichmentFunction"] > runs
            )
        self.outage_start = cloud.clock.now()
        self.outage_end = self.outage_start + self.outage
        since = self.outage_start - cloud.faults.started_at
        cloud.faults.add(RegionOutage(primary.name, (since, since + self.outage)))
        if first is not None and self.phase != "resent":
            return first
        if self.phase == "failing-over":
            cloud.advance(STEP, step=STEP)
            assert joined.endpoint.region() == primary.name, "failed over at once"
            refused = secondary.api.request(method, target, body, headers)
            verdicts = {result["verdict"] for result in refused.json().get("results", [])}
            assert "accepted" not in verdicts, (refused.status, refused.body[:2000])
            if refused.status == 503 or "retry" in verdicts:
                assert int(refused.headers["retry-after"]) > 0, (refused.status, refused.headers)
        cloud.advance(FAILOVER_LIMIT, step=STEP, until=lambda: joined.endpoint.region() == secondary.name)
        assert joined.endpoint.region() == secondary.name, "the endpoint never failed over"
        if self.phase in ("failing-over", "during", "resent"):
            return secondary.api.request(method, target, body, headers)
        cloud.advance(self.outage, step=STEP, until=lambda: not cloud.faults.region_down(primary.name))
        assert joined.endpoint.region() == secondary.name, "failed back before the primary took a request"
        return primary.api.request(method, target, body, headers)

    def recover(self) -> None:
        """The outage over and the endpoint failed back; past the replication window, the runbook's
        archive replay of the secondary and the DLQ store's replay."""
        cloud, primary = self.regions.cloud, self.regions.primary
        joined = cloud.joined
        assert joined is not None
        cloud.advance(
            max(0.0, self.outage_end - cloud.clock.now()) + FAILBACK_LIMIT,
            step=STEP,
            until=lambda: cloud.clock.now() >= self.outage_end and joined.endpoint.region() == primary.name,
        )
        assert joined.endpoint.region() == primary.name, "the endpoint never failed back"
        if self.outage < REPLICATION_WINDOW:
            return
        cloud.advance(REPLAY_MARGIN, step=STEP)
        replay_archive(
            cloud, self.regions.secondary, self.outage_start, cloud.clock.now(), not_before=self.began
        )
        recovery = recover(cloud)
        assert recovery.ok, (recovery.describe(), recovery.output)


# Every phase of both outages, but for two that add nothing there: records in the stream matter
# only past their age limit, and the refusal before the failover does not depend on the outage.
CASES = [
    pytest.param(outage, phase, id=f"{name}-{phase}")
    for outage, name, left_out in (
        (SHORT_OUTAGE, "short", "in-stream"),
        (PAST_WINDOW_OUTAGE, "past-window", "failing-over"),
    )
    for phase in PHASES
    if phase != left_out
]


@pytest.mark.parametrize(("outage", "phase"), CASES)
def test_events_accepted_around_an_outage_of_the_primary_reach_its_lake_once_as_sent(
    regions: TwoRegions, outage: float, phase: Phase
) -> None:
    # GIVEN native and Segment requests of events with odd content, each sent at a phase of an
    # outage of the primary Region (short, or past the replication window)
    def run(request: OddRequest) -> Run:
        drill = OutageDrill(regions, phase, outage)
        return send(regions.cloud, request, front_door=drill, recovery=drill.recover)

    # WHEN the Regions recover as the runbook says
    # THEN each accepted event is one readable lake line of the contract, as sent, and at the partner
    # once; nothing set aside; the secondary's replica of the lake holds the same objects
    holds_for(ANY_REQUESTS, REQUESTS, run, and_then=lambda: check_lake_replica(regions))
