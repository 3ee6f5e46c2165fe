"""The EventBridge global endpoint (``AWS::Events::Endpoint``), which moto lacks: routing of PutEvents
calls that name its ``EndpointId`` between the primary's and the secondary's bus, on a health state
the local cloud computes, never sets.

The chain, each link from the template:

1. ``IngestionToInvocationStartLatency`` of the primary Region: EventBridge reports it for every rule
   invocation (``eventbridge``), the heartbeats of the template's schedule included (``scheduler``).
   A Region outage stops both, so the metric has no data, or (deliveries held back) large values.
2. The health alarm the endpoint's Route 53 health check names (``AlarmIdentifier``), evaluated by the
   primary's local CloudWatch with the template's Period, EvaluationPeriods, DatapointsToAlarm,
   Threshold and TreatMissingData.
3. The health check (``Type: CLOUDWATCH_METRIC``): healthy while the alarm is OK, unhealthy in ALARM,
   ``InsufficientDataHealthStatus`` while the alarm has INSUFFICIENT_DATA (Route 53 developer guide,
   "Monitoring a CloudWatch alarm"). The check and the endpoint's DNS answer follow the alarm after
   ``ROUTING_DELAY`` seconds: AWS states a failover time of 360 s, at most 420 s, for its prescribed
   5 x 60 s alarm, so the part after the alarm is 60-120 s; the emulator takes the 60 s end.
4. Routing: healthy, the call goes to the primary's bus; otherwise to the secondary's (the Region in
   ``FailoverConfig.Secondary.Route``). A call routed to a Region that is down fails as the SDK would
   there (the caller's retries, then its 503).

``switches`` lists every change of the Region the endpoint routes to, with its cloud-clock time: the
drill's observed time to fail over and to recover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from localcloud.cloudwatch import CloudWatch, State
from localcloud.provision import Stack
from localcloud.template import TemplateError

Health = Literal["Healthy", "Unhealthy"]
# Route 53 + endpoint routing after the alarm changes state (AWS: 360-420 s minus its 300 s alarm).
ROUTING_DELAY: Final = 60.0


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    logical_id: str
    arn: str
    endpoint_id: str
    bus_name: str
    primary_region: str
    secondary_region: str
    alarm: str  # the health alarm's logical id (the local CloudWatch's key)
    insufficient_data: Health
    replication: bool

    @classmethod
    def of(cls, stack: Stack) -> EndpointSpec | None:
        """The stack's global endpoint with its health check and alarm; None without one."""
        endpoints = stack.of_type("AWS::Events::Endpoint")
        if not endpoints:
            return None
        endpoint = endpoints[0]
        props = endpoint.properties
        buses = [str(bus["EventBusArn"]) for bus in props["EventBuses"]]
        names = {arn.rsplit("/", 1)[-1] for arn in buses}
        if len(buses) != 2 or len(names) != 1:
            raise TemplateError(f"{endpoint.logical_id}: EventBuses must be two buses of the same name")
        failover = props["RoutingConfig"]["FailoverConfig"]
        check_ref = str(failover["Primary"]["HealthCheck"]).rsplit("/", 1)[-1]
        check = next((r for r in stack.of_type("AWS::Route53::HealthCheck") if str(r.ref) == check_ref), None)
        if check is None:
            raise TemplateError(f"{endpoint.logical_id}: health check {check_ref} is not in the stack")
        config = check.properties["HealthCheckConfig"]
        if config.get("Type") != "CLOUDWATCH_METRIC":
            raise TemplateError(f"{check.logical_id}: only CLOUDWATCH_METRIC health checks are emulated")
        alarm_name = str(config["AlarmIdentifier"]["Name"])
        alarm = next((r for r in stack.of_type("AWS::CloudWatch::Alarm") if str(r.ref) == alarm_name), None)
        if alarm is None:
            raise TemplateError(f"{check.logical_id}: alarm {alarm_name} is not in the stack")
        insufficient = str(config.get("InsufficientDataHealthStatus", "LastKnownStatus"))
        if insufficient not in ("Healthy", "Unhealthy"):
            raise TemplateError(
                f"{check.logical_id}: InsufficientDataHealthStatus {insufficient} not emulated"
            )
        return cls(
            logical_id=endpoint.logical_id,
            arn=endpoint.arn,
            endpoint_id=str(endpoint.attributes["EndpointId"]),
            bus_name=names.pop(),
            primary_region=stack.region,
            secondary_region=str(failover["Secondary"]["Route"]),
            alarm=alarm.logical_id,
            insufficient_data=insufficient,  # type: ignore[arg-type]
            replication=(props.get("ReplicationConfig") or {}).get("State", "ENABLED") == "ENABLED",
        )


def health(state: State, insufficient_data: Health) -> Health:
    """A CLOUDWATCH_METRIC health check's status for its alarm's state."""
    if state == "OK":
        return "Healthy"
    if state == "ALARM":
        return "Unhealthy"
    return insufficient_data


class GlobalEndpoint:
    """Routes PutEvents with ``EndpointId`` (an ``Emulator``: ``pump`` notes switches, never due)."""

    def __init__(
        self,
        spec: EndpointSpec,
        cloudwatch: Callable[[], CloudWatch],  # the primary's (a reset builds a new one)
        now: Callable[[], float],
        events_client: Callable[[str], Any],  # the project's wrapped events client for a Region
    ) -> None:
        self.spec = spec
        self._cloudwatch = cloudwatch
        self._now = now
        self._events_client = events_client
        self.switches: list[tuple[float, str]] = []  # (cloud-clock time, Region routed to from then)
        self.routed: dict[str, int] = {spec.primary_region: 0, spec.secondary_region: 0}

    # ------------------------------------------------------------------ health and routing
    def health(self, at: float | None = None) -> Health:
        """The health check's status at ``at`` (now): the alarm's state ``ROUTING_DELAY`` earlier."""
        state, _ = self._seen(self._now() if at is None else at)
        return health(state, self.spec.insufficient_data)

    def _seen(self, moment: float) -> tuple[State, float]:
        """The alarm state the routing follows at ``moment``, and since when it follows it."""
        state: State = "INSUFFICIENT_DATA"
        since = 0.0
        for change in self._cloudwatch().changes(self.spec.alarm):
            if change.at + ROUTING_DELAY <= moment:
                state, since = change.new, change.at + ROUTING_DELAY
        return state, since

    def region(self) -> str:
        """The Region the endpoint routes to now, on the alarm's history as the primary's CloudWatch
        has evaluated it (the cloud's loop keeps it caught up; evaluating here too would race the loop
        thread of make local)."""
        now = self._now()
        state, since = self._seen(now)
        healthy = health(state, self.spec.insufficient_data) == "Healthy"
        routed = self.spec.primary_region if healthy else self.spec.secondary_region
        if not self.switches or self.switches[-1][1] != routed:
            self.switches.append((since if self.switches else now, routed))
        return routed

    def put_events(self, operation: str, arguments: dict[str, Any]) -> Any:
        """A PutEvents call that names the endpoint, made on the chosen Region's bus of the same name."""
        if operation != "put_events" or arguments.get("EndpointId") != self.spec.endpoint_id:
            raise ValueError(f"no global endpoint {arguments.get('EndpointId')!r} for {operation}")
        region = self.region()
        self.routed[region] += 1
        entries = [{**entry, "EventBusName": self.spec.bus_name} for entry in arguments["Entries"]]
        rest = {key: value for key, value in arguments.items() if key not in ("EndpointId", "Entries")}
        return self._events_client(region).put_events(Entries=entries, **rest)

    def reset(self) -> None:
        """After ``LocalCloud.reset`` (a new CloudWatch, its alarm without data): a new routing history."""
        self.switches.clear()
        self.routed = dict.fromkeys(self.routed, 0)

    # ------------------------------------------------------------------ the emulator protocol
    def pump(self) -> int:
        self.region()
        return 0

    def next_due(self) -> None:
        return None
