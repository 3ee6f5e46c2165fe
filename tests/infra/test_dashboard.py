"""The flow dashboard (``FlowDashboard``) rendered for every Region role: valid JSON, every widget
reading only metrics something emits (the check the alarms use) of resources that role creates,
and the flow's steps in order where the role has them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from tests.infra.rendering import PRIMARY, SECONDARY, Rendering, Role, every_role, render
from tests.localcloud.test_alarm_metrics import _emitted
from tools.dashboard import Widget, widgets

_TOKEN = re.compile(r"<(?:Ref|GetAtt) ([A-Za-z0-9]+)(?:\.[A-Za-z]+)?>")
EDGE_TITLES = (
    "API requests, 4XX and 5XX",
    "API latency p99 (ms)",
    "Validator: accepted, rejected, retry",
    "Ingress bus: entries put, PutEvents calls",
)
PIPELINE_TITLES = (
    "Enrichment rule: matched, invocations, failed",
    "Enrichment: signals enriched, quarantined, errors",
    "Stream rule: matched, invocations, failed",
    "Signal stream: incoming records, iterator age (ms)",
    "Lake Pipe: invocations, failed executions",
    "Lake: objects and signals written, bad records",
    "DLQ depth (messages visible)",
    "DLQ oldest message age (s)",
)
ENDPOINT_TITLES = ("Endpoint health: ingestion to invocation (ms), heartbeats",)
PARTNER_TITLES = ("Partner: deliveries, failed executions, DLQ depth",)
REPLICATION_TITLES = ("Bucket replication latency (s)", "Bucket replication: pending and failed operations")
PARTNER = {"PartnerEndpointUrl": "https://partner.example.com/v1", "PartnerApiKeySecretName": "partner/key"}


@cache
def _renderings() -> dict[str, Rendering]:
    roles = [*every_role(), *(Role(role.region, {**role.overrides, **PARTNER}) for role in every_role())]
    return {role.label: rendering for role in roles if not (rendering := render(role)).refused}


def _body(rendering: Rendering) -> dict[str, Any]:
    body = rendering.resources["FlowDashboard"]["Properties"]["DashboardBody"]
    assert isinstance(body, str)
    return dict(json.loads(body))


def _metrics(body: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    for widget in widgets(body):
        for metric in widget.metrics:
            yield metric.namespace, metric.name, metric.dimensions


@pytest.mark.parametrize("label", sorted(_renderings()))
def test_every_metric_of_the_dashboard_is_one_something_emits(label: str) -> None:
    # GIVEN the dashboard body one Region role gets
    rendering = _renderings()[label]
    body = _body(rendering)

    # THEN every metric it reads is emitted (by AWS as the local cloud reports it, or by a function's EMF)
    metrics = list(_metrics(body))
    assert metrics
    for namespace, name, dimensions in metrics:
        assert _emitted(namespace, name, dimensions), f"nothing emits {namespace} {name} {dimensions}"
    # and names only resources this role creates
    named = set(_TOKEN.findall(rendering.resources["FlowDashboard"]["Properties"]["DashboardBody"]))
    assert named <= set(rendering.resources), named - set(rendering.resources)


@pytest.mark.parametrize("label", sorted(_renderings()))
def test_the_dashboard_follows_the_flow_of_the_regions_role(label: str) -> None:
    # GIVEN the dashboard one Region role gets, and that role's conditions
    rendering = _renderings()[label]
    conditions = rendering.conditions
    titles = tuple(widget.title for widget in widgets(_body(rendering)))

    # THEN it shows the edge everywhere, and each later step exactly where the role has it, in order
    expected = (
        EDGE_TITLES
        + (ENDPOINT_TITLES if conditions["IsMultiRegionPrimary"] else ())
        + (PIPELINE_TITLES if conditions["RunsProcessing"] else ())
        + (PARTNER_TITLES if conditions["HasPartner"] else ())
        + (REPLICATION_TITLES if conditions["ReplicatesBuckets"] else ())
    )
    assert titles == expected


def test_each_region_of_a_deployment_gets_its_own_dashboard_name() -> None:
    # GIVEN every role of a two-Region pair, as its stack renders
    names: dict[str, set[str]] = {}
    for rendering in _renderings().values():
        if rendering.role.overrides.get("SecondaryRegion") == SECONDARY and not rendering.role.overrides.get(
            "PartnerEndpointUrl"
        ):
            properties = rendering.resources["FlowDashboard"]["Properties"]
            names.setdefault(rendering.role.region, set()).add(properties["DashboardName"])

    # THEN the name carries the Region, so the two stacks' dashboards never collide in the console
    assert names[PRIMARY] & names[SECONDARY] == set()
    assert all(name.endswith(f"-flow-{region}") for region, found in names.items() for name in found)


def test_the_widget_reader_refuses_a_metric_row_it_cannot_read() -> None:
    # GIVEN a widget whose metric row uses the "..." shorthand the reader does not expand
    body = {"widgets": [{"type": "metric", "properties": {"title": "t", "metrics": [["...", "x"]]}}]}

    # THEN reading it fails instead of silently dropping the row
    with pytest.raises(ValueError, match="metric row"):
        list(widgets(body))


def test_widget_dimensions_pair_up_names_and_values() -> None:
    body = {
        "widgets": [
            {
                "type": "metric",
                "properties": {
                    "title": "t",
                    "stat": "Sum",
                    "metrics": [["NS", "M", "A", "1", "B", "2", {"stat": "Maximum", "yAxis": "right"}]],
                },
            }
        ]
    }
    (widget,) = widgets(body)
    assert isinstance(widget, Widget)
    (metric,) = widget.metrics
    assert (metric.namespace, metric.name, metric.dimensions) == ("NS", "M", {"A": "1", "B": "2"})
    assert (metric.stat, metric.right_axis) == ("Maximum", True)
