"""`make dashboard` on a tiny run: one panel per widget of the primary's FlowDashboard, with data."""

from __future__ import annotations

import math
from pathlib import Path

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.cloudwatch import metric_key
from tests.infra.test_dashboard import (
    EDGE_TITLES,
    ENDPOINT_TITLES,
    PARTNER_TITLES,
    PIPELINE_TITLES,
    REPLICATION_TITLES,
)
from tests.regions.conftest import ROOT
from tools.dashboard import dashboard_body, draw, run, widgets

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_drawing_has_one_panel_per_widget_of_the_primarys_dashboard(tmp_path: Path) -> None:
    # GIVEN two Regions and a few minutes of demo traffic with its faults
    path = tmp_path / "dashboard.png"
    options = CloudOptions(template=ROOT / "template.yaml", regions=("primary", "secondary"))
    with LocalCloud(options) as cloud:
        start, end = run(cloud, minutes=4, per_request=3)
        panels = widgets(dashboard_body(cloud))

        # WHEN the dashboard is drawn
        titles = draw(cloud.primary.cloudwatch, panels, start, end, path)

        # THEN every panel had something to draw from the run
        empty = [
            panel.title
            for panel in panels
            if not any(
                value is not None and not math.isnan(value)
                for metric in panel.metrics
                for _, value in cloud.primary.cloudwatch.datapoints(
                    metric_key(metric.namespace, metric.name, metric.dimensions),
                    metric.stat,
                    panel.period,
                    start,
                    end,
                )
            )
        ]
        assert empty == []

    # AND the PNG holds one panel per widget of the template's dashboard for this role, in its order
    expected = EDGE_TITLES + ENDPOINT_TITLES + PIPELINE_TITLES + PARTNER_TITLES + REPLICATION_TITLES
    assert tuple(titles) == expected
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 10_000 < len(data) < 300_000
