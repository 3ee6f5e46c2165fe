"""The lake property (``tests/e2e/test_accepted_reaches_lake.py``) with two Regions: the same odd
requests (``tests/e2e/lake_property.py``) sent to the secondary Region's API, whose validator puts
them through the global endpoint to the primary's bus (and the replication to the secondary's):
every accepted event is one lake line of the primary, readable, as sent, and at the partner once
with the same content; nothing is set aside.
"""

from __future__ import annotations

from collections.abc import Mapping

from localcloud.http_api import HttpResponse
from tests.e2e.lake_property import ANY_REQUESTS, examples, holds_for, send
from tests.regions.conftest import TwoRegions

REQUESTS = examples(8)
WARM_UP_LIMIT = 30 * 60.0  # cloud seconds for the endpoint's healthy verdict after a reset


class SecondaryApi:
    """The secondary Region's HTTP API, asked once the source just registered in the primary's table
    is in the secondary's replica and the endpoint routes to the primary (as after a deploy)."""

    def __init__(self, regions: TwoRegions) -> None:
        self.regions = regions

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        cloud, primary = self.regions.cloud, self.regions.primary.name
        assert cloud.joined is not None
        joined = cloud.joined
        cloud.advance(
            WARM_UP_LIMIT,
            until=lambda: joined.tables.pending() == 0 and joined.endpoint.region() == primary,
        )
        assert joined.endpoint.region() == primary, "the endpoint never routed to the primary"
        return self.regions.secondary.api.request(method, target, body, headers)


def test_accepted_events_sent_to_the_secondary_reach_the_primary_lake_once_as_sent(
    regions: TwoRegions,
) -> None:
    # GIVEN native and Segment requests of events with odd content, sent to the secondary's API
    secondary = SecondaryApi(regions)
    # WHEN each is sent and both Regions drain
    # THEN each accepted event is one readable lake line of the contract, as sent, and at the partner
    # once; nothing set aside
    holds_for(ANY_REQUESTS, REQUESTS, lambda request: send(regions.cloud, request, front_door=secondary))
