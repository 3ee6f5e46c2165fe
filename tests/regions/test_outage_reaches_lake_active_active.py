"""The lake property through an outage of the primary (``test_outage_reaches_lake``) with both Regions
processing (``ProcessingMode=active-active``): what the secondary's bus takes while the endpoint
routes to it is processed there, into the secondary's own lake, and nowhere else. A module of its
own: one local cloud at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.lake_property import ANY_REQUESTS, OddRequest, Run, holds_for, send
from tests.regions.conftest import TwoRegions, two_regions
from tests.regions.test_outage_reaches_lake import REQUESTS, SHORT_OUTAGE, OutageDrill, Phase


@pytest.fixture(scope="module")
def active_active() -> Iterator[TwoRegions]:
    with two_regions({"ProcessingMode": "active-active"}) as world:
        yield world


@pytest.mark.parametrize("phase", ["during", "after"])
def test_with_active_active_events_the_secondary_took_reach_its_lake_once_as_sent(
    active_active: TwoRegions, phase: Phase
) -> None:
    # GIVEN both Regions processing (ProcessingMode=active-active), and requests of events with odd
    # content sent during a short outage of the primary, or right after it, while the endpoint routes
    # to the secondary
    def run(request: OddRequest) -> Run:
        drill = OutageDrill(active_active, phase, SHORT_OUTAGE)
        return send(active_active.cloud, request, front_door=drill, recovery=drill.recover)

    # WHEN the primary recovers
    # THEN each accepted event is one readable lake line, as sent, in the lakes of both Regions
    # together (the secondary's: its bus took the event), and at the partner once; nothing set aside
    holds_for(ANY_REQUESTS, REQUESTS, run, and_then=lambda: _none_in_the_primary_lake(active_active))


def _none_in_the_primary_lake(regions: TwoRegions) -> None:
    """The lakes together hold each accepted event once (``send``): all of them in the secondary's."""
    assert not regions.cloud.census(regions.primary).lake
