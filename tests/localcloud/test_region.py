"""The cloud's shape: Regions as values, and the loop that runs whatever ``Emulator`` a Region wires."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localcloud.clock import Clock
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.emulator import Emulator
from tests.localcloud.conftest import queue, running, write_template


@dataclass
class Reminder:
    """A minimal emulated service: one piece of work, due ``after`` cloud seconds from its creation."""

    clock: Clock
    after: float
    due: float = field(init=False)
    done_at: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.due = self.clock.now() + self.after

    def pump(self) -> int:
        if self.done_at or self.clock.now() < self.due:
            return 0
        self.done_at.append(self.clock.now())
        return 1

    def next_due(self) -> float | None:
        return None if self.done_at else self.due


def test_an_emulator_wired_into_a_region_is_run_by_the_loop_at_its_due_time(tmp_path: Path) -> None:
    # GIVEN a running cloud and one more emulated service wired into its Region, due in an hour
    with running(tmp_path, {"Queue": queue()}, handlers={}) as cloud:
        reminder = Reminder(cloud.clock, after=3600.0)
        wired: Emulator = reminder
        cloud.primary.emulators.append(wired)
        # WHEN the cloud settles
        settled = cloud.settle()
        # THEN the loop jumped the virtual clock to the work and ran it once, then went quiet
        assert settled
        assert len(reminder.done_at) == 1
        assert reminder.done_at[0] >= reminder.due
        assert cloud.pump() == 0


@pytest.mark.parametrize(("region", "role"), [("us-west-2", "primary"), ("us-east-1", "secondary")])
def test_a_region_is_held_by_name_and_its_role_follows_the_template(
    tmp_path: Path, region: str, role: str
) -> None:
    # GIVEN a template whose PrimaryRegion is us-west-2
    template = write_template(
        tmp_path,
        {"Queue": queue()},
        Parameters={"PrimaryRegion": {"Type": "String", "Default": "us-west-2"}},
    )
    # WHEN the cloud starts it in one Region
    with LocalCloud(CloudOptions(template=template, region=region, partner=False)) as cloud:
        # THEN that Region is a value of the cloud, its resources are provisioned there, and its role
        # is the one the template's conditions would give it
        assert cloud.regions == {region: cloud.primary}
        assert cloud.primary.role == role
        assert cloud.primary.stack.get("Queue").arn.startswith(f"arn:aws:sqs:{region}:")
        assert cloud.stack is cloud.primary.stack
