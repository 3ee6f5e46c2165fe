"""Physical names of resources the template does not name."""

from __future__ import annotations

from localcloud.names import PhysicalNames


def test_the_same_stack_gets_other_names_in_another_region() -> None:
    # GIVEN the same stack in two Regions
    west, east = PhysicalNames("signals", "us-west-2"), PhysicalNames("signals", "us-east-1")

    # THEN an unnamed bucket (a global name) differs between them, as CloudFormation's random
    # suffixes would, and each Region keeps its names from run to run
    assert west.name("LakeBucket", lowercase=True) != east.name("LakeBucket", lowercase=True)
    assert west.name("LakeBucket") == PhysicalNames("signals", "us-west-2").name("LakeBucket")
    assert west.name("LakeBucket").startswith("signals-LakeBucket-")
