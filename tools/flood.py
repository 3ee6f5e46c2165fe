"""One source floods the API at a multiple of its rate limit while another sends normally (local cloud).

    python -m tools.flood [--limit 50] [--factor 10] [--seconds 5]

The noisy source is registered with ``--limit`` events a second and sends ``--factor`` requests of
``--limit`` events a second (``--factor`` times its limit), alternating the native route
(``/v1/events``) and the Segment-compatible one (``/v1/batch``); the quiet source sends a few events
twice a second on the default limit. Requests are paced on the cloud's clock; a slow machine offers
fewer per second (the report says how many). Prints what each source got: the noisy one mostly 429
with Retry-After, the quiet one every event accepted; then lets the pipeline settle and checks that
every accepted event is in the lake exactly once.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.traffic import TrafficGenerator
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry

ROOT: Final = Path(__file__).resolve().parents[1]
QUIET_EVENTS: Final = 5
QUIET_EVERY_SECONDS: Final = 0.5


@dataclass(slots=True)
class SourceTally:
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    accepted: set[str] = field(default_factory=set)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def refused_share(self) -> float:
        return self.statuses[429] / self.requests if self.requests else 0.0


@dataclass(slots=True)
class FloodReport:
    limit: int
    seconds: float
    windows: int  # one-second windows the flood touched: the most it can be admitted is one each
    noisy: SourceTally
    quiet: SourceTally
    in_lake: Counter[str]

    def lines(self) -> list[str]:
        noisy, quiet = self.noisy, self.quiet
        return [
            f"noisy source: limit {self.limit} events/s, offered {noisy.sent / self.seconds:,.0f} events/s "
            f"({noisy.sent / self.seconds / self.limit:.1f}x) for {self.seconds:.1f} s",
            f"  answers {dict(sorted(noisy.statuses.items()))}, 429s {noisy.refused_share:.0%}, "
            f"Retry-After {dict(noisy.retry_after)}; accepted {len(noisy.accepted)} events "
            f"({len(noisy.accepted) / self.seconds:,.0f}/s)",
            f"quiet source: answers {dict(sorted(quiet.statuses.items()))}, "
            f"accepted {len(quiet.accepted)} of {quiet.sent} events",
            f"in the lake: {sum(1 for eid in noisy.accepted | quiet.accepted if self.in_lake[eid] == 1)} of "
            f"{len(noisy.accepted | quiet.accepted)} accepted events, exactly once",
        ]


def _native(generator: TrafficGenerator, source: str, count: int) -> tuple[str, bytes]:
    now = datetime.now(UTC)
    return "/v1/events", codec.dumps({"events": [generator.valid(source, now) for _ in range(count)]})


def _segment(count: int) -> tuple[str, bytes]:
    calls = [
        {"type": "track", "event": "Flood Tested", "userId": "flooder", "messageId": str(uuid.uuid4())}
        for _ in range(count)
    ]
    return "/v1/batch", codec.dumps({"batch": calls})


def _send(cloud: LocalCloud, key: str, path: str, body: bytes, tally: SourceTally, events: int) -> None:
    headers = {"content-type": "application/json", "x-api-key": key}
    response = cloud.api.request("POST", path, body, headers)
    tally.sent += events
    tally.statuses[response.status] += 1
    if response.status == 429:
        tally.retry_after[response.headers.get("retry-after", "missing")] += 1
        return
    answer: Any = response.json()
    for result in answer.get("results", []):
        if result.get("verdict") == "accepted":
            tally.accepted.add(str(result["event_id"]))


def flood(cloud: LocalCloud, *, limit: int, factor: int, seconds: float) -> FloodReport:
    """The noisy source sends ``factor`` x ``limit`` events a second for ``seconds`` (cloud time)."""
    generator = TrafficGenerator(SchemaRegistry())
    noisy_key = cloud.register_source("noisy", "flood test", rate_per_second=limit)
    quiet_key = cloud.register_source("quiet", "flood test")
    noisy, quiet = SourceTally(), SourceTally()
    started = cloud.clock.now()
    quiet_due = started
    for tick in range(round(seconds * factor)):
        due = started + tick / factor
        if cloud.clock.now() < due:
            cloud.wait(due - cloud.clock.now())
        path, body = _native(generator, "noisy", limit) if tick % 2 else _segment(limit)
        _send(cloud, noisy_key, path, body, noisy, limit)
        if cloud.clock.now() >= quiet_due:
            path, body = _native(generator, "quiet", QUIET_EVENTS)
            _send(cloud, quiet_key, path, body, quiet, QUIET_EVENTS)
            quiet_due += QUIET_EVERY_SECONDS
    ended = cloud.clock.now()
    windows = math.floor(ended) - math.floor(started) + 1
    cloud.settle()
    return FloodReport(limit, ended - started, windows, noisy, quiet, cloud.census().lake)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.flood", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--limit", type=int, default=50, help="the noisy source's limit, events/s (default 50)"
    )
    parser.add_argument(
        "--factor", type=int, default=10, help="how many times its limit it sends (default 10)"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="how long it floods, cloud time (default 5)"
    )
    args = parser.parse_args(argv)
    with LocalCloud(CloudOptions(template=ROOT / "template.yaml")) as cloud:
        report = flood(cloud, limit=args.limit, factor=args.factor, seconds=args.seconds)
    for line in report.lines():
        print(line)
    quiet_ok = len(report.quiet.accepted) == report.quiet.sent
    lake_ok = all(report.in_lake[eid] == 1 for eid in report.noisy.accepted | report.quiet.accepted)
    return 0 if quiet_ok and lake_ok and report.noisy.refused_share >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
