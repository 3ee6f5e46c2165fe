"""`make drill`: a Region outage rehearsed in the local cloud, and the proof that nothing is lost.

Two Regions from template.yaml (the ``primary`` and ``secondary`` config-envs), joined by the global
endpoint. Clients send to both Regions' APIs the way clients do: half of them are nearest the
primary, half nearest the secondary; each sends to its nearest Region first and to the other when
that one answers 5xx, and keeps what neither accepted to resend later (same event_ids). Mid-run the
primary Region goes down (its EventBridge, Lambda, Pipes and every AWS call of its functions, so its
API answers 503); the endpoint fails over when its health alarm says so; the primary comes back and
replication catches up.

Scenarios:

- ``outage``: the primary is down for ``--outage-minutes`` (15); replication brings what the
  secondary took to the primary.
- ``past-window``: the primary is down for 25 hours, past the 24 hours EventBridge retries
  replication; recovery replays the secondary's archive with the archive replay command's code
  (``tools.replay``), whose forward rule carries the batches to the primary.
- ``active-active``: both Regions process (``ProcessingMode=active-active``), each only the events
  that entered its own bus (the rules on ``region``); the primary is down for ``--outage-minutes``,
  the secondary processes what the endpoint sends it meanwhile into its own lake, and replication's
  copies are not processed again in the other Region.
- ``secondary-outage`` (not in ``all``): the secondary is down for ``--outage-minutes``; the
  endpoint must not fail over, its clients go to the primary, replication to the secondary waits.

Per Region and in total it prints accepted, in the lake exactly once, processed twice (in the lake
more than once: the lakes of both Regions together) and lost (accepted, in no lake), the signals in
each Region's lake, the observed time to fail over (from the
outage to the endpoint's switch) and to recover (from the primary's return to the switch back), and
the template-implied failover time (``tools.objectives``). The last line is
``drill: lost=<n> processed_twice=<n> failover_s=<n>``; the exit status is 1 unless nothing was
lost or processed twice.

    python -m tools.drill [--scenario outage|past-window|active-active|all] [--clients 4] [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.region import Region
    from localcloud.traffic import TrafficEvent, TrafficGenerator

Scenario = Literal["outage", "past-window", "active-active", "secondary-outage"]
ALL: Final[tuple[Scenario, ...]] = ("outage", "past-window", "active-active")
ROOT: Final = Path(__file__).resolve().parents[1]
FINE_STEP: Final = 10.0  # cloud seconds per step while anything happens (heartbeats are a minute apart)
COARSE_STEP: Final = 60.0  # while the primary is simply down, or quiet
PAST_WINDOW_OUTAGE: Final = 25 * 3600.0
REQUEST_GAP: Final = 20.0  # cloud seconds between two requests of the run
BACKOFF_BASE: Final = 60.0  # a client's first wait after a failed flush (cloud seconds), doubling
BACKOFF_CAP: Final = 300.0
QUIET: Final = 60.0  # past-window: clients pause before the outage, so the primary holds nothing
WARM_UP_LIMIT: Final = 30 * 60.0
CATCH_UP_LIMIT: Final = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class DrillSettings:
    scenario: Scenario = "outage"
    clients: int = 4
    requests: int = 40
    per_request: int = 3
    outage_minutes: float = 15.0
    seed: int = 7


@dataclass
class Tally:
    accepted: set[str] = field(default_factory=set)
    exactly_once: int = 0
    processed_twice: int = 0
    lost: int = 0

    def count(self, lake: Counter[str]) -> None:
        self.exactly_once = sum(1 for event_id in self.accepted if lake[event_id] == 1)
        self.processed_twice = sum(1 for event_id in self.accepted if lake[event_id] > 1)
        self.lost = sum(1 for event_id in self.accepted if lake[event_id] == 0)


@dataclass
class DrillResult:
    scenario: Scenario
    tallies: dict[str, Tally]  # by the Region whose API accepted the event
    failover_s: float | None
    recover_s: float | None
    lakes: dict[str, int]  # signals in each Region's lake, by role (the Regions that process)
    implied_failover_s: tuple[int, int]
    alarm_period_s: float
    switches: list[tuple[float, str]]  # (seconds from the outage's start, Region routed to from then)
    outage_s: float
    replication_expired: int
    replayed: int
    wall_s: float

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            total.accepted |= tally.accepted
            total.exactly_once += tally.exactly_once
            total.processed_twice += tally.processed_twice
            total.lost += tally.lost
        return total

    @property
    def ok(self) -> bool:
        total = self.total
        return total.lost == 0 and total.processed_twice == 0

    def lines(self) -> list[str]:
        lines = [f"scenario {self.scenario}"]
        row = "  {:<12} {:>9} {:>15} {:>16} {:>5}"
        lines.append(row.format("", "accepted", "in lake once", "processed twice", "lost"))
        for name, tally in [*self.tallies.items(), ("total", self.total)]:
            lines.append(
                row.format(name, len(tally.accepted), tally.exactly_once, tally.processed_twice, tally.lost)
            )
        lakes = ", ".join(f"{role} {count}" for role, count in self.lakes.items())
        lines.append(f"  signals in each Region's lake: {lakes}")
        low, high = self.implied_failover_s
        lines.append(
            f"  failover observed {_seconds(self.failover_s)} (template, silent primary: {low}-{high} s; "
            f"alarm period {self.alarm_period_s:.0f} s); recovery observed {_seconds(self.recover_s)}"
        )
        timeline = ", ".join(f"{at:+.0f} s -> {region}" for at, region in self.switches)
        lines.append(
            f"  endpoint routing (from the outage's start; it lasted {self.outage_s:.0f} s): {timeline}"
        )
        lines.append(
            f"  replication given up after 24 h: {self.replication_expired}; "
            f"entries in the secondary's archive replayed: {self.replayed}; wall {self.wall_s:.1f} s"
        )
        return lines


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


# ---------------------------------------------------------------------------- clients
@dataclass
class Client:
    """One client, as analytics SDKs behave: events queue up and are flushed to the nearest Region
    first, to the other when that one fails (5xx, 429, no connection); what neither accepted stays
    queued (same event_ids) and the next flush waits longer each time (exponential backoff)."""

    source: str
    write_key: str
    nearest: str
    queue: list[TrafficEvent] = field(default_factory=list)
    failures: int = 0
    next_flush: float = 0.0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.next_flush = now + min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (self.failures - 1))

    def succeeded(self, now: float) -> None:
        self.failures = 0
        self.next_flush = now


class Drill:
    def __init__(self, cloud: LocalCloud, settings: DrillSettings, generator: TrafficGenerator) -> None:
        self.cloud = cloud
        self.settings = settings
        self.generator = generator
        self.primary = cloud.primary
        self.secondary = next(region for region in cloud.regions.values() if region is not cloud.primary)
        self.tallies: dict[str, Tally] = {region.role: Tally() for region in cloud.regions.values()}
        if cloud.joined is None:
            raise ValueError("the drill needs a two-Region cloud (CloudOptions.regions)")
        self.joined = cloud.joined

    # ------------------------------------------------------------------ time
    def step(self, seconds: float) -> None:
        self.cloud.advance(seconds, step=seconds)

    def now(self) -> float:
        return self.cloud.clock.now()

    def warm_up(self) -> None:
        """Until the endpoint routes to the primary: heartbeats flowing, the health alarm OK."""
        deadline = self.now() + WARM_UP_LIMIT
        while self.joined.endpoint.region() != self.primary.name:
            if self.now() > deadline:
                raise RuntimeError("the global endpoint never became healthy (no heartbeats?)")
            self.step(FINE_STEP)

    # ------------------------------------------------------------------ sending
    def flush(self, client: Client) -> None:
        """Nearest Region first, the other on a failure; what neither accepted stays queued."""
        pending, client.queue = client.queue, []
        order = [client.nearest, *(name for name in self.cloud.regions if name != client.nearest)]
        for name in order:
            pending = self._post(self.cloud.regions[name], client.write_key, pending)
            if not pending:
                break
        client.queue = pending + client.queue
        if pending:
            client.failed(self.now())
        else:
            client.succeeded(self.now())

    def _post(self, region: Region, write_key: str, events: list[TrafficEvent]) -> list[TrafficEvent]:
        from signal_platform import codec  # noqa: PLC0415

        if self.cloud.faults.region_down(region.name):
            return events  # the Region's API is down too: no connection
        body = codec.dumps({"events": [item.event for item in events]})
        headers = {"content-type": "application/json", "x-api-key": write_key}
        response = region.api.request("POST", "/v1/events", body, headers)
        if response.status >= 500 or response.status == 429:
            return events
        results = response.json().get("results", [])
        pending = []
        for result, item in zip(results, events, strict=True):
            if result.get("verdict") == "accepted":
                self.tallies[region.role].accepted.add(str(result["event_id"]))
            elif result.get("verdict") == "retry":
                pending.append(item)
            else:
                raise RuntimeError(f"the drill sends valid events only, {region.name} rejected: {result}")
        return pending

    # ------------------------------------------------------------------ the run
    def run(self, clients: list[Client]) -> DrillResult:
        from localcloud.faults import RegionOutage  # noqa: PLC0415

        started_wall = time.perf_counter()
        self.warm_up()
        outage_seconds = (
            PAST_WINDOW_OUTAGE
            if self.settings.scenario == "past-window"
            else self.settings.outage_minutes * 60
        )
        traffic_start = self.now()
        outage_start = traffic_start + self.settings.requests * REQUEST_GAP / 3
        if self.settings.scenario == "past-window":
            outage_start += QUIET  # nothing in flight inside the primary when it goes for a day
        outage_end = outage_start + outage_seconds
        elapsed = self.cloud.faults.started_at
        down = self.secondary if self.settings.scenario == "secondary-outage" else self.primary
        self.cloud.faults.add(RegionOutage(down.name, (outage_start - elapsed, outage_end - elapsed)))
        next_request, sent, number = traffic_start, 0, 0
        while sent < self.settings.requests or any(client.queue for client in clients):
            quiet = (
                self.settings.scenario == "past-window" and outage_start - QUIET <= self.now() < outage_start
            )
            while not quiet and sent < self.settings.requests and next_request <= self.now():
                client = clients[number % len(clients)]
                # occurred now on the clients' clock (the validator's is the machine's)
                client.queue.extend(
                    self.generator.one(client.source, datetime.now(UTC), 0.0)
                    for _ in range(self.settings.per_request)
                )
                sent, number, next_request = sent + 1, number + 1, next_request + REQUEST_GAP
            for client in clients:
                if client.queue and client.next_flush <= self.now() and not quiet:
                    self.flush(client)
            self.step(FINE_STEP if self._busy(outage_start, outage_end) else COARSE_STEP)
            if self.now() > outage_end + CATCH_UP_LIMIT:
                raise RuntimeError("clients still hold events long after the outage")
        while self.now() < outage_end:
            self.step(FINE_STEP if self._busy(outage_start, outage_end) else COARSE_STEP)
        replayed = 0
        if self._past_window(outage_seconds):
            replayed = self.replay_secondary_archive(outage_start, outage_end)
        self.catch_up(outage_end)
        return self.result(outage_start, outage_end, replayed, time.perf_counter() - started_wall)

    def _busy(self, outage_start: float, outage_end: float) -> bool:
        now = self.now()
        near_start = outage_start - 60 <= now <= outage_start + 15 * 60
        return now < outage_start or near_start or now >= outage_end

    @staticmethod
    def _past_window(outage_seconds: float) -> bool:
        from localcloud.replication import REPLICATION_WINDOW  # noqa: PLC0415

        return outage_seconds >= REPLICATION_WINDOW

    def catch_up(self, outage_end: float) -> None:
        """After the outage: replication and the pipeline until every accepted event is in the lake
        (or nothing more is pending), the endpoint routing to the primary again."""
        deadline = outage_end + CATCH_UP_LIMIT
        accepted = set().union(*(tally.accepted for tally in self.tallies.values()))
        while self.now() < deadline:
            self.step(FINE_STEP)
            routed_back = self.joined.endpoint.region() == self.primary.name
            idle = not self.joined.replication.pending() and not self.joined.tables.pending()
            if routed_back and idle and accepted <= set(self.lake()):
                return

    def lakes(self) -> dict[str, Counter[str]]:
        """Each processing Region's lake (event_id -> copies), by role."""
        return {
            region.role: Counter(self.cloud.census(region).lake)
            for region in self.cloud.regions.values()
            if region.pipes
        }

    def lake(self) -> Counter[str]:
        """Every lake together: an event in two lakes was processed twice."""
        return sum(self.lakes().values(), Counter[str]())

    def replay_secondary_archive(self, since: float, until: float) -> int:
        """The secondary's archive replayed for the outage (``tools.region_recovery``)."""
        from tools.region_recovery import replay_archive  # noqa: PLC0415

        return replay_archive(self.cloud, self.secondary, since, until)

    # ------------------------------------------------------------------ the books
    def result(self, outage_start: float, outage_end: float, replayed: int, wall: float) -> DrillResult:
        from tools.objectives import from_template  # noqa: PLC0415

        lakes = self.lakes()
        lake = sum(lakes.values(), Counter[str]())
        for tally in self.tallies.values():
            tally.count(lake)
        switches = self.joined.endpoint.switches
        secondary, primary = self.secondary.name, self.primary.name
        failover = next((at for at, name in switches if name == secondary and at >= outage_start), None)
        recovery = next((at for at, name in switches if name == primary and at >= outage_end), None)
        objectives = from_template(self.primary.loaded.cfn)
        alarm = self.primary.cloudwatch.alarms[self.joined.endpoint.spec.alarm]
        return DrillResult(
            scenario=self.settings.scenario,
            tallies=self.tallies,
            failover_s=None if failover is None else failover - outage_start,
            recover_s=None if recovery is None else recovery - outage_end,
            lakes={role: sum(counts.values()) for role, counts in lakes.items()},
            implied_failover_s=objectives.silent_failover_seconds,  # the outage silences the primary
            alarm_period_s=alarm.period,
            switches=[(at - outage_start, region) for at, region in switches],
            outage_s=outage_end - outage_start,
            replication_expired=len(self.joined.replication.expired),
            replayed=replayed,
            wall_s=wall,
        )


def run_scenario(settings: DrillSettings, template: Path = ROOT / "template.yaml") -> DrillResult:
    """One scenario on a fresh two-Region cloud."""
    from localcloud.cloud import CloudOptions, LocalCloud  # noqa: PLC0415
    from localcloud.traffic import TrafficGenerator  # noqa: PLC0415
    from signal_platform.schema_registry import SchemaRegistry  # noqa: PLC0415

    overrides = {"ProcessingMode": "active-active"} if settings.scenario == "active-active" else {}
    options = CloudOptions(
        template=template, regions=("primary", "secondary"), seed=settings.seed, overrides=overrides
    )
    with LocalCloud(options) as cloud:
        names = list(cloud.regions)
        clients = [
            Client(source, cloud.register_source(source, "Region-outage drill"), names[n % len(names)])
            for n, source in enumerate(f"drill-{n}" for n in range(settings.clients))
        ]
        drill = Drill(cloud, settings, TrafficGenerator(SchemaRegistry(), seed=settings.seed))
        return drill.run(clients)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    description = (__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m tools.drill", description=description)
    parser.add_argument(
        "--scenario",
        choices=(*ALL, "secondary-outage", "all"),
        default="all",
        help="default: all but secondary-outage",
    )
    parser.add_argument("--clients", type=int, default=4, help="clients, half nearest each Region")
    parser.add_argument("--requests", type=int, default=40, help="requests per scenario (default 40)")
    parser.add_argument("--per-request", type=int, default=3, help="events per request (default 3)")
    parser.add_argument("--outage-minutes", type=float, default=15.0, help="the outage scenario's outage")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    scenarios: list[Scenario] = list(ALL) if args.scenario == "all" else [args.scenario]
    results = []
    for scenario in scenarios:
        settings = DrillSettings(
            scenario=scenario,
            clients=args.clients,
            requests=args.requests,
            per_request=args.per_request,
            outage_minutes=args.outage_minutes,
            seed=args.seed,
        )
        result = run_scenario(settings)
        print("\n".join(result.lines()), flush=True)
        results.append(result)
    lost = sum(result.total.lost for result in results)
    twice = sum(result.total.processed_twice for result in results)
    failover = next((result.failover_s for result in results if result.failover_s is not None), None)
    failover_s = -1 if failover is None else round(failover)
    print(f"drill: lost={lost} processed_twice={twice} failover_s={failover_s}")
    return 0 if lost == 0 and twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
