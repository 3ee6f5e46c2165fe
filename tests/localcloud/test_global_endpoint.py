"""The global endpoint's health check and the pieces two Regions share, without a cloud."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.faults import ClientFactory, Faults
from localcloud.global_endpoint import health
from localcloud.scheduler import rate_seconds


@pytest.mark.parametrize(
    ("state", "insufficient", "expected"),
    [
        ("OK", "Unhealthy", "Healthy"),
        ("ALARM", "Healthy", "Unhealthy"),
        ("INSUFFICIENT_DATA", "Unhealthy", "Unhealthy"),
        ("INSUFFICIENT_DATA", "Healthy", "Healthy"),
    ],
)
def test_health_check_follows_its_alarm_and_insufficient_data_status(
    state: Any, insufficient: Any, expected: str
) -> None:
    # AWS (Route 53 HealthCheckConfig): a CLOUDWATCH_METRIC check is healthy while its alarm is OK,
    # unhealthy in ALARM, and InsufficientDataHealthStatus while CloudWatch lacks data.
    assert health(state, insufficient) == expected


@pytest.mark.parametrize(
    ("expression", "seconds"), [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(30 seconds)", 30)]
)
def test_schedule_rates_are_read_in_seconds(expression: str, seconds: float) -> None:
    assert rate_seconds(expression) == seconds


class _Real:
    def __init__(self, service: str, region: str | None) -> None:
        self.service, self.region = service, region

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        return {"region": self.region, **kwargs}


def test_project_clients_are_keyed_by_the_region_of_the_invoked_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the wrapped client factory and functions of two Regions asking for "their" client
    built: list[tuple[str, str | None]] = []

    def original(service: str, region: str | None = None) -> _Real:
        built.append((service, region))
        return _Real(service, region)

    factory = ClientFactory(original, Faults(lambda: 0.0))
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    west = factory("events")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    east = factory("events")

    # THEN each got a client of its own Region (not the first caller's)
    assert built == [("events", "us-west-2"), ("events", "us-east-1")]
    assert west.put_events(Entries=[])["region"] == "us-west-2"
    assert east.put_events(Entries=[])["region"] == "us-east-1"


def test_calls_naming_an_endpoint_go_to_its_route() -> None:
    # GIVEN a route for the events service (the global endpoint)
    factory = ClientFactory(lambda service, region=None: _Real(service, region), Faults(lambda: 0.0))
    routed: list[dict[str, Any]] = []
    factory.routes["events"] = lambda operation, arguments: routed.append(arguments) or {"routed": operation}

    # WHEN a PutEvents names an EndpointId, and another does not
    client = factory("events", "us-east-1")
    through_endpoint = client.put_events(Entries=[], EndpointId="abcde.veo")
    direct = client.put_events(Entries=[])

    # THEN only the first went to the route
    assert through_endpoint == {"routed": "put_events"}
    assert routed == [{"Entries": [], "EndpointId": "abcde.veo"}]
    assert direct == {"region": "us-east-1", "Entries": []}
