"""The no-loss property: under random fault schedules, every accepted event ends in the lake exactly once
or in a DLQ; every rejected event has its reason; nothing else appears. Then, once the faults are gone
and the DLQ store is replayed as the runbook says (``localcloud.recovery``), every accepted event is in
the lake exactly once and at the partner, and no DLQ and no store object is left.

Schedules come from seeds (``localcloud.chaos``): ``LOCALCLOUD_SCHEDULES`` of them (default 100),
starting at ``LOCALCLOUD_SEED_BASE`` (default 1); ``LOCALCLOUD_SEED=<n>`` runs that one schedule only.
The soak run: ``LOCALCLOUD_SCHEDULES=1000 python -m pytest tests/e2e tests/regions -k property``
(this test and its two-Region sibling, ``tests/regions/test_property_regions.py``).

No excuse list: the schedules include duplicate deliveries, timeouts part-way through a function's
writes, throttles, resharding and faults that outlast every retry, and the lake must still hold every
accepted event exactly once (the S3 writer's lake ledger closes the duplicate windows,
docs/adr/0004-exactly-once-into-the-lake.md); a quarantined or bad record counts as lost unless the
recovery brings it back.
"""

from __future__ import annotations

import pytest

from localcloud.chaos import random_schedule
from localcloud.cloud import LocalCloud
from tests.e2e.no_loss import check_schedule, seeds


@pytest.mark.parametrize("seed", seeds())
def test_no_loss_property(warm_cloud: LocalCloud, warm_keys: dict[str, str], seed: int) -> None:
    # GIVEN a random fault schedule; WHEN its traffic runs and the operator recovers;
    # THEN the books balance and every accepted event ends in the lake exactly once
    schedule = random_schedule(seed, warm_cloud)
    rerun = f"LOCALCLOUD_SEED={seed} python -m pytest tests/e2e -k property"
    check_schedule(warm_cloud, schedule, warm_keys, rerun)
