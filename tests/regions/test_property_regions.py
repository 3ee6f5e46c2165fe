"""The no-loss property with two Regions: the one-Region schedules' faults (``tests/e2e/test_property.py``)
together with Region faults (``localcloud.chaos``): outages of either Region, short and past the 24 h
replication window, health-check flapping, replication lag, the endpoint with or without a verdict at
the start. Clients send to their nearest Region's API and to the other on errors.

The same books: every accepted event ends in the lake exactly once or in a DLQ; after the recovery
(the DLQ store replayed; for an outage past the replication window, the secondary's archive replayed
over it with the archive replay command's code, as docs/runbook.md says) every accepted event is in
the lake exactly once.

The same seeds: ``LOCALCLOUD_SCHEDULES`` (default 100) from ``LOCALCLOUD_SEED_BASE``, or
``LOCALCLOUD_SEED=<n>`` alone; ``make soak`` runs 1,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from localcloud.chaos import Schedule, random_schedule
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.scenario import register_sources
from tests.e2e.no_loss import check_schedule, seeds
from tools.region_recovery import replay_archive

ROOT = Path(__file__).resolve().parents[2]
WARM_UP_LIMIT: Final = 30 * 60.0  # cloud seconds for the endpoint's first healthy verdict


@pytest.fixture(scope="module")
def two_regions() -> Iterator[LocalCloud]:
    with LocalCloud(CloudOptions(template=ROOT / "template.yaml", regions=("primary", "secondary"))) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def warm_keys() -> dict[str, str]:
    return {}


def _start(cloud: LocalCloud, schedule: Schedule, keys: dict[str, str]) -> None:
    """A warm reset, the sources in both replicas, and the endpoint healthy if the schedule says so;
    the schedule's fault windows count from the end of this."""
    assert cloud.joined is not None
    cloud.reset(warm=bool(keys))
    register_sources(cloud, schedule.scenario, keys)
    if schedule.healthy_start:
        endpoint, primary = cloud.joined.endpoint, cloud.primary.name
        cloud.advance(WARM_UP_LIMIT, until=lambda: endpoint.region() == primary)
        assert endpoint.region() == primary, "the endpoint never became healthy"
    cloud.faults.started_at = cloud.clock.now()


def _replay_past_window_outages(cloud: LocalCloud, schedule: Schedule, started: float) -> str:
    """The runbook after an outage past the replication window, once copies for the primary were given
    up: the secondary's archive replayed from the incident's start (a copy may have waited for a
    replication lag before the outage began) to the last outage's end."""
    assert cloud.joined is not None
    primary = cloud.primary
    secondary = next(region for region in cloud.regions.values() if region is not primary)
    given_up = cloud.joined.replication.given_up(primary.name)
    if not given_up:
        return ""
    # one replay over the incident (two outages past the window would overlap: the tool refuses that)
    until = started + max(outage.window[1] for outage in schedule.past_window_outages if outage.window)
    replayed = replay_archive(cloud, secondary, started, until, not_before=started)
    settled = cloud.settle()
    return f"; replication gave up {len(given_up)} signals; {replayed} archived entries replayed ({settled=})"


@pytest.mark.parametrize("seed", seeds())
def test_no_loss_property_with_two_regions(
    two_regions: LocalCloud, warm_keys: dict[str, str], seed: int
) -> None:
    # GIVEN a random fault schedule with Region faults, on two Regions
    schedule = random_schedule(seed, two_regions)
    _start(two_regions, schedule, warm_keys)
    started = two_regions.faults.started_at
    joined = two_regions.joined
    assert joined is not None
    # WHEN its traffic runs, and the operator recovers; THEN every accepted event is in the lake once
    rerun = f"LOCALCLOUD_SEED={seed} python -m pytest tests/regions -k property"
    check_schedule(
        two_regions,
        schedule,
        warm_keys,
        rerun,
        more_recovery=lambda: _replay_past_window_outages(two_regions, schedule, started),
        archived=lambda: frozenset(joined.replication.given_up(two_regions.primary.name)),
    )
