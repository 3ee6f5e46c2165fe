"""The recovery times the template's settings imply, from template.yaml (docs/runbook.md quotes them).

    python -m tools.objectives

Failover: the health alarm needs ``DatapointsToAlarm`` breaching periods of ``Period`` seconds, then
Route 53 marks the health check unhealthy and the endpoint's DNS answers the secondary. AWS states
360 s, at most 420 s, for its prescribed alarm (5 x 60 s): the part after the alarm, 60-120 s, is
what the health check and the endpoint add, and this module adds it to whatever the alarm says.
A primary that goes silent (a Region outage: no invocations, no heartbeats) takes longer: CloudWatch
evaluates a range of EvaluationPeriods + 2 periods and uses the older real (healthy) datapoints in
it before treating missing ones as breaching, so the alarm fires once the whole range is empty (the
period in which the outage began still holds data, hence up to one period more). Failback: one good
period turns the alarm OK (it needs every one of its periods breaching), then the same 60-120 s.
Bucket replication: S3 RTC's 15-minute SLA, or no bound without it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
# Health check + endpoint routing after the alarm changes state (AWS: 360/420 s minus its 300 s alarm).
ROUTING_DELAY_SECONDS: Final = (60, 120)
RTC_MINUTES: Final = 15
# The CloudWatch user guide's evaluation range: EvaluationPeriods plus 2 (its worked example).
EVALUATION_RANGE_EXTRA_PERIODS: Final = 2


@dataclass(frozen=True, slots=True)
class Objectives:
    failover_seconds: tuple[int, int]
    failback_seconds: tuple[int, int]
    heartbeat_seconds: int
    silent_failover_seconds: tuple[int, int] = (0, 0)

    def lines(self) -> list[str]:
        (fo_low, fo_high), (fb_low, fb_high) = self.failover_seconds, self.failback_seconds
        return [
            f"failover (RTO; also the window whose events wait in the primary): {fo_low}-{fo_high} s",
            f"failover when the primary goes silent (Region outage): {self.silent_failover_seconds[0]}-"
            f"{self.silent_failover_seconds[1]} s",
            f"failback after the primary recovers: {fb_low}-{fb_high} s",
            f"heartbeat: one event every {self.heartbeat_seconds} s keeps the health metric alive",
            f"bucket replication with RTC: 99.99 % of objects within {RTC_MINUTES} min (no bound without)",
        ]


def failover_seconds(period: int, datapoints_to_alarm: int) -> tuple[int, int]:
    alarm = period * datapoints_to_alarm
    return alarm + ROUTING_DELAY_SECONDS[0], alarm + ROUTING_DELAY_SECONDS[1]


def silent_failover_seconds(period: int, evaluation_periods: int) -> tuple[int, int]:
    """No datapoints at all: the whole evaluation range must be empty, the outage's own period too."""
    alarm = period * (evaluation_periods + EVALUATION_RANGE_EXTRA_PERIODS)
    return alarm + ROUTING_DELAY_SECONDS[0], alarm + period + ROUTING_DELAY_SECONDS[1]


def failback_seconds(period: int) -> tuple[int, int]:
    return period + ROUTING_DELAY_SECONDS[0], period + ROUTING_DELAY_SECONDS[1]


def rate_seconds(expression: str) -> int:
    """``rate(1 minute)``, ``rate(5 minutes)``, ``rate(30 seconds)`` in seconds."""
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return int(value) * {"second": 1, "minute": 60, "hour": 3600}[unit.rstrip("s")]


def from_template(cfn: dict[str, Any]) -> Objectives:
    alarm = cfn["Resources"]["IngressHealthAlarm"]["Properties"]
    period = int(alarm["Period"])
    datapoints = int(alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]))
    schedule = cfn["Resources"]["HeartbeatSchedule"]["Properties"]["ScheduleExpression"]
    return Objectives(
        failover_seconds(period, datapoints),
        failback_seconds(period),
        rate_seconds(schedule),
        silent_failover_seconds(period, int(alarm["EvaluationPeriods"])),
    )


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m tools.objectives", description=__doc__.splitlines()[0]
    ).parse_args(argv)
    from cfnlint.decode import decode  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM CLI's linter

    cfn, problems = decode(str(ROOT / "template.yaml"))
    if problems or cfn is None:
        print(f"cannot read template.yaml: {problems}", file=sys.stderr)
        return 1
    for line in from_template(cfn).lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
