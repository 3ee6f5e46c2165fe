"""``LocalCloud.settle`` while one Region is down: the other Regions' work runs on time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from localcloud.clock import VirtualClock
from localcloud.cloud import LocalCloud
from localcloud.emulator import Emulator
from localcloud.faults import Faults, RegionOutage
from localcloud.region import Region

OUTAGE = 25 * 3600.0


@dataclass
class FakeRegion:
    """What ``settle`` reads of a Region: its name and its emulators."""

    name: str
    emulators: list[Emulator] = field(default_factory=list)


@dataclass
class HeldWork:
    """An emulator of the Region that is down: work due now that it cannot do until it is back."""

    faults: Faults
    clock: VirtualClock
    done_at: float | None = None

    def pump(self) -> int:
        if self.done_at is not None or self.faults.region_down("down"):
            return 0
        self.done_at = self.clock.now()
        return 1

    def next_due(self) -> float | None:
        return None if self.done_at is not None else self.clock.now()


@dataclass
class BatchingWindow:
    """An emulator of a Region that is up: a batch gathered now, sent when its window ends."""

    clock: VirtualClock
    due: float
    done_at: float | None = None

    def pump(self) -> int:
        if self.done_at is not None or self.clock.now() < self.due:
            return 0
        self.done_at = self.clock.now()
        return 1

    def next_due(self) -> float | None:
        return None if self.done_at is not None else self.due


def test_settle_runs_the_other_regions_work_on_time_while_a_region_is_down() -> None:
    # GIVEN a Region down for a day with work waiting for it, and another Region's batch due in 1 s
    cloud = LocalCloud()
    clock = cloud.clock
    assert isinstance(clock, VirtualClock)
    start = clock.now()
    cloud.faults = Faults(clock.now, started_at=start)
    cloud.faults.add(RegionOutage("down", (0.0, OUTAGE)))
    held = HeldWork(cloud.faults, clock)
    batch = BatchingWindow(clock, start + 1.0)
    regions: dict[str, Any] = {"down": FakeRegion("down", [held]), "up": FakeRegion("up", [batch])}
    cloud.regions = cast(dict[str, Region], regions)

    # WHEN the cloud settles
    settled = cloud.settle()

    # THEN the batch went when its window ended, not when the other Region came back a day later,
    # and the held work ran once it was back
    assert settled
    assert batch.done_at is not None
    assert start + 1.0 <= batch.done_at < start + 60.0  # the virtual clock runs on with the wall's
    assert held.done_at is not None
    assert held.done_at >= start + OUTAGE
