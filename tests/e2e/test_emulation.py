"""The local cloud runs template.yaml's own settings for what it emulates beyond moto."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from localcloud.template import load
from tests.e2e.conftest import ROOT


def test_pipes_run_the_parallelization_factor_lanes_of_the_template(pipeline: LocalCloud) -> None:
    # GIVEN the ParallelizationFactor each Pipe of template.yaml declares
    loaded, _ = load(ROOT / "template.yaml")
    declared = {
        logical_id: int(
            resource["Properties"]["SourceParameters"]["KinesisStreamParameters"]["ParallelizationFactor"]
        )
        for logical_id, resource in loaded.resources.items()
        if resource["Type"] == "AWS::Pipes::Pipe"
    }
    # THEN every Pipe of the running cloud has that many lanes per shard
    assert declared
    assert {pipe.spec.logical_id: pipe.spec.parallelization for pipe in pipeline.pipes} == declared
    assert all(
        poller.lanes == declared[pipe.spec.logical_id] for pipe in pipeline.pipes for poller in pipe.pollers
    )
