"""The no-loss property's machinery, shared by the one-Region and the two-Region property tests
(``tests/e2e/test_property.py``, ``tests/regions/test_property_regions.py``): the seeds, one
schedule's run with its recovery, and what counts as a violation before and after the recovery.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from localcloud import scenario
from localcloud.accounting import Report
from localcloud.chaos import Schedule
from localcloud.cloud import LocalCloud
from localcloud.recovery import Recovery, recover, undelivered
from localcloud.scenario import Outcome


def seeds() -> list[int]:
    """``LOCALCLOUD_SEED`` alone, or ``LOCALCLOUD_SCHEDULES`` seeds from ``LOCALCLOUD_SEED_BASE``."""
    if os.environ.get("LOCALCLOUD_SEED"):
        return [int(os.environ["LOCALCLOUD_SEED"])]
    base = int(os.environ.get("LOCALCLOUD_SEED_BASE", "1"))
    return list(range(base, base + int(os.environ.get("LOCALCLOUD_SCHEDULES", "100"))))


def violations(outcome: Outcome, archived: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong once the traffic went quiet; ``archived``: accepted events that only an archive
    holds yet (two Regions: replication gave up after its window; the recovery replays them)."""
    report, found = outcome.report, []
    if not outcome.settled:
        found.append("the pipeline did not go quiet")
    for consumer in report.balances:
        lost = set(consumer.lost) - archived
        if lost:
            found.append(
                f"{consumer.sink}: {len(lost)} accepted events in neither the sink, a DLQ nor an archive"
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


def violations_after_recovery(
    report: Report, recovery: Recovery, *, past_window_outage: bool = False
) -> list[str]:
    """After the replay nothing waits in a DLQ: every accepted event is delivered or set aside, and
    no sink holds a signal no client was told was accepted (a replay brings back only this run's).
    ``past_window_outage``: the incident was a Region outage past the replication window, which
    the runbook answers with an archive replay; such an outage can outlast the stream's margin past
    the Pipes' record age (StreamRetentionHours - 24 h), so a stored DLQ message whose records left
    the stream before the hydrate could read them is not a violation as long as every accepted event is in the
    lake (``undelivered`` checks that on its own)."""
    found = [] if recovery.ok else [f"{recovery.describe()}: {recovery.stranded=}, {recovery.settled=}"]
    census = report.census
    covered = past_window_outage and not +census.unparsed
    found.extend(
        finding
        for finding in undelivered(report)
        if not (covered and finding.startswith("store objects the replay cannot send"))
    )
    found.extend(
        f"{balance.sink}: {len(balance.unexpected)} signals no client was told were accepted, after replay"
        for balance in report.balances
        if balance.unexpected
    )
    lake = report.lake
    if lake is not None and lake.duplicated:
        found.append(f"lake: {len(lake.duplicated)} signals more than once after the replay")
    return found


def check_schedule(
    cloud: LocalCloud,
    schedule: Schedule,
    write_keys: dict[str, str],
    rerun: str,
    *,
    more_recovery: Callable[[], str] | None = None,
    archived: Callable[[], frozenset[str]] = frozenset,
) -> None:
    """Run ``schedule``'s traffic under its faults until quiet and check the books; then recover as
    the runbook says (``more_recovery`` after the DLQ replay, returning what it did; ``archived``:
    what it will recover from an archive) and check that
    every accepted event is in the lake exactly once and at the partner. A failure's message names
    the schedule and how to run its seed again (``rerun``)."""
    # GIVEN the schedule's faults
    cloud.faults.add(*schedule.faults)
    # WHEN its traffic runs through the pipeline until it is quiet
    outcome = scenario.run(cloud, schedule.scenario, requests=schedule.requests, write_keys=write_keys)
    # THEN the books balance
    found = violations(outcome, archived())
    rerun = f"\n  rerun: {rerun}\n"
    assert not found, f"{schedule.describe()}\n  " + "\n  ".join(found) + rerun + outcome.report.render()
    # WHEN the faults are gone and an operator moves the DLQs back and replays the DLQ store
    recovery = recover(cloud)
    done = more_recovery() if more_recovery is not None else ""
    # THEN every accepted event is in the lake exactly once and at the partner, and no DLQ holds any
    after = cloud.report(outcome.report.ledger)
    found = violations_after_recovery(after, recovery, past_window_outage=bool(schedule.past_window_outages))
    assert not found, (
        f"{schedule.describe()}\n  {recovery.describe()}{done}\n  "
        + "\n  ".join(found)
        + rerun
        + after.render()
        + "\n"
        + recovery.output
    )
