"""The no-loss property: under random fault schedules, every accepted event ends in the lake exactly once
or in a DLQ; every rejected event has its reason; nothing else appears. Then, once the faults are gone
and the DLQ store is replayed as the runbook says (``localcloud.recovery``), every accepted event is in
the lake exactly once and at the partner, and no DLQ and no store object is left.

Schedules come from seeds (``localcloud.chaos``): ``LOCALCLOUD_SCHEDULES`` of them (default 100),
starting at ``LOCALCLOUD_SEED_BASE`` (default 1); ``LOCALCLOUD_SEED=<n>`` runs that one schedule only.
The soak run: ``LOCALCLOUD_SCHEDULES=1000 python -m pytest tests/e2e -k property``.

No excuse list: the schedules include duplicate deliveries, timeouts part-way through a function's
writes, throttles, resharding and faults that outlast every retry, and the lake must still hold every
accepted event exactly once (the S3 writer's lake ledger closes the duplicate windows,
docs/adr/0004-exactly-once-into-the-lake.md); a quarantined or bad record counts as lost unless the
recovery brings it back.
"""

from __future__ import annotations

import os

import pytest

from localcloud import scenario
from localcloud.accounting import Report
from localcloud.chaos import random_schedule
from localcloud.cloud import LocalCloud
from localcloud.recovery import Recovery, recover, undelivered
from localcloud.scenario import Outcome


def _seeds() -> list[int]:
    if os.environ.get("LOCALCLOUD_SEED"):
        return [int(os.environ["LOCALCLOUD_SEED"])]
    base = int(os.environ.get("LOCALCLOUD_SEED_BASE", "1"))
    return list(range(base, base + int(os.environ.get("LOCALCLOUD_SCHEDULES", "100"))))


def violations(outcome: Outcome) -> list[str]:
    report, found = outcome.report, []
    if not outcome.settled:
        found.append("the pipeline did not go quiet")
    for consumer in report.balances:
        if consumer.lost:
            found.append(
                f"{consumer.sink}: {len(consumer.lost)} accepted events in neither the sink nor a DLQ"
            )
        if consumer.unexpected:
            found.append(
                f"{consumer.sink}: {len(consumer.unexpected)} signals no client was told were accepted"
            )
    lake = report.lake
    if lake is not None and lake.duplicated:
        found.append(f"lake: {len(lake.duplicated)} signals more than once")
    known = set(report.ledger.accepted) | report.ledger.retry
    found.extend(
        f"{name}: signals no client sent"
        for name in report.census.dlq_scope
        if report.census.dead_lettered(name) - known
    )
    if report.ledger.rejected_without_reason:
        found.append(f"{report.ledger.rejected_without_reason} rejections without a reason")
    if report.ledger.reason_mismatches:
        found.append(f"rejections with another reason than expected: {report.ledger.reason_mismatches[:3]}")
    if report.census.dropped:
        found.append(f"{len(report.census.dropped)} signals dropped (no DLQ configured on their path)")
    if report.census.dlq_unreadable:
        found.append(
            f"DLQ messages whose records are gone from the stream: {dict(report.census.dlq_unreadable)}"
        )
    return found


def violations_after_recovery(report: Report, recovery: Recovery) -> list[str]:
    """After the replay nothing waits in a DLQ: every accepted event is delivered or set aside."""
    found = [] if recovery.ok else [f"{recovery.describe()}: {recovery.stranded=}, {recovery.settled=}"]
    found.extend(undelivered(report))
    lake = report.lake
    if lake is not None and lake.duplicated:
        found.append(f"lake: {len(lake.duplicated)} signals more than once after the replay")
    return found


@pytest.mark.parametrize("seed", _seeds())
def test_no_loss_property(warm_cloud: LocalCloud, warm_keys: dict[str, str], seed: int) -> None:
    cloud = warm_cloud
    # GIVEN a random fault schedule
    schedule = random_schedule(seed, cloud)
    cloud.faults.add(*schedule.faults)
    # WHEN its traffic runs through the pipeline until it is quiet
    outcome = scenario.run(cloud, schedule.scenario, requests=schedule.requests, write_keys=warm_keys)
    # THEN the books balance
    found = violations(outcome)
    rerun = f"\n  rerun: LOCALCLOUD_SEED={seed} python -m pytest tests/e2e -k property\n"
    assert not found, f"{schedule.describe()}\n  " + "\n  ".join(found) + rerun + outcome.report.render()
    # WHEN the faults are gone and an operator moves the DLQs back and replays the DLQ store
    recovery = recover(cloud)
    # THEN every accepted event is in the lake exactly once and at the partner, and no DLQ holds any
    after = cloud.report(outcome.report.ledger)
    found = violations_after_recovery(after, recovery)
    assert not found, (
        f"{schedule.describe()}\n  {recovery.describe()}\n  "
        + "\n  ".join(found)
        + rerun
        + after.render()
        + "\n"
        + recovery.output
    )
