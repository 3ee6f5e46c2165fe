"""``LocalCloud``: template.yaml running on one machine, without AWS or Docker.

    with LocalCloud(CloudOptions()) as cloud:
        write_key = cloud.register_source("web-shop")
        cloud.api.request("POST", "/v1/events", body, {"x-api-key": write_key, ...})
        cloud.settle()
        print(cloud.report(ledger).render())

Start-up: moto (in-process ``mock_aws`` by default, or a ``ThreadedMotoServer`` on 127.0.0.1), the
template loaded and SAM-translated with the samconfig config-env's parameters, and a ``Region``
(``region``) built from it: every resource provisioned (``provision``), the functions imported in their
own environments (``runtime``), the emulators wired (``eventbridge``, ``lambda_async``, ``pipes``,
``sqs_source``). Then the partner stand-in is started and the project's AWS clients are wrapped for
fault injection (``faults``). The cloud holds its Regions by name (``regions``: the ``primary``, and
with ``CloudOptions.regions`` the secondary, joined by the global endpoint: ``two_regions``);
``stack``, ``services``, ``functions``, ``runtime``, ``api`` and the emulators are the primary's. The
clock, the faults, moto and the partner are shared by every Region.

The partner: ``PartnerEndpointUrl`` and ``PartnerApiKeySecretName`` are overridden (unless given) so the
partner Pipe deploys, and the secret the template expects to exist already is created first with a
random ``api_key``, as an operator would before deploying. Requests go to the local stand-in.

Work runs in ``pump`` (everything that is due now, on every ``Emulator`` of every Region) and ``settle``
(pump until nothing is left, jumping the virtual clock over waits, within a real-time deadline).
``make local`` runs ``serve_forever`` in a thread instead.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from localcloud import shortcuts, timeshare, two_regions
from localcloud import template as templates
from localcloud.accounting import Census, Ledger, Report, balance, take_census
from localcloud.clock import Clock, VirtualClock, WallClock
from localcloud.emulator import Emulator
from localcloud.eventbridge import EventBridgeEmulator, Inbox
from localcloud.faults import ClientFactory, Faults
from localcloud.http_api import HttpApi, LoadBalancer
from localcloud.http_targets import HttpSender
from localcloud.lambda_async import AsyncInvoker
from localcloud.options import CloudOptions
from localcloud.partner import PartnerStandIn
from localcloud.pipes import PipeEmulator
from localcloud.provision import Stack
from localcloud.region import Region
from localcloud.runtime import FunctionRuntime, FunctionSpec
from localcloud.services import Services
from localcloud.sqs_source import SqsMapping

__all__ = ["CloudOptions", "LocalCloud", "run_with_deadline"]  # CloudOptions: drivers import it from here

log = logging.getLogger("localcloud")

PARTNER_ENDPOINT: Final = "https://partner.localcloud.invalid/v1/signals"
PARTNER_SECRET_NAME: Final = "localcloud/partner-api-key"  # noqa: S105 - a name; the value is random
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_SESSION_TOKEN": "localcloud",
}
SETTLE_HORIZON: Final = 8 * 24 * 3600.0  # further than the longest wait in the template (24 h ages)


@contextmanager
def _process_environment(values: dict[str, str], remove: tuple[str, ...]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in (*values, *remove)}
    os.environ.update(values)
    for key in remove:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalCloud:
    def __init__(self, options: CloudOptions | None = None) -> None:
        self.options = options or CloudOptions()
        self.clock: Clock = WallClock() if self.options.wall_clock else VirtualClock()
        self._exits = ExitStack()
        self.endpoint_url: str | None = None
        self.partner: PartnerStandIn | None = None
        self.regions: dict[str, Region] = {}
        self.joined: two_regions.Joined | None = None  # two Regions: the endpoint, replication, tables
        self.emulators: list[Emulator] = []  # emulators of no one Region (the joined ones)
        self.started_at = 0.0
        self.shares = timeshare.TimeShares()  # where the wall time goes (``timeshare``)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self._exits.close()
            raise
        return self

    def stop(self) -> None:
        self._exits.close()

    def _start(self) -> None:
        options = self.options
        self._exits.enter_context(_process_environment(FAKE_CREDENTIALS, ("AWS_PROFILE", "AWS_ENDPOINT_URL")))
        self._start_moto()
        import boto3  # noqa: PLC0415

        self.session = boto3.session.Session()
        overrides = dict(options.overrides)
        sam = templates.decode(options.template)
        declared = sam.get("Parameters", {})
        if options.partner and "PartnerEndpointUrl" in declared:
            overrides.setdefault("PartnerEndpointUrl", PARTNER_ENDPOINT)
            overrides.setdefault("PartnerApiKeySecretName", PARTNER_SECRET_NAME)
        if options.regions:
            (secondary_template, secondary_env), primary_pair, overrides = two_regions.load_pair(
                options, sam, overrides
            )
            self.loaded, self.config_env = primary_pair
        else:
            self.loaded, self.config_env = templates.load(
                options.template,
                config_env=options.config_env,
                overrides=overrides,
                region=options.region,
                sam=sam,
            )
        if overrides.get("PartnerApiKeySecretName"):
            regions = {str(self.config_env.region)}
            if options.regions:
                regions.add(str(secondary_env.region))
            self._create_partner_secret(overrides["PartnerApiKeySecretName"], regions)
        self.faults = Faults(self.clock.now, seed=options.seed)
        self.faults.add(*options.faults)
        function_environment = dict(FAKE_CREDENTIALS)
        if self.endpoint_url:
            function_environment["AWS_ENDPOINT_URL"] = self.endpoint_url

        def provision(
            loaded: templates.LoadedTemplate, env: templates.ConfigEnv, peer: Region | None
        ) -> Region:
            return Region.provision(
                options,
                loaded,
                env,
                session=self.session,
                endpoint_url=self.endpoint_url,
                clock=self.clock,
                faults=self.faults,
                function_environment=function_environment,
                share_with=peer,
            )

        secondary = None
        if options.regions:  # make deploy's order: the secondary's stack first
            secondary = provision(secondary_template, secondary_env, None)
            key = two_regions.replica_key_override(secondary)
            self.loaded, self.config_env = templates.load(
                options.template,
                config_env=options.regions[0],
                overrides={**overrides, **key},
                sam=sam,
            )
        primary = provision(self.loaded, self.config_env, secondary)
        if secondary is not None:
            self._update_secondary(secondary, primary, overrides, sam)
        self.faults.started_at = self.clock.now()  # fault windows count from the end of provisioning
        self.primary = primary  # the Region of the cloud's config-env
        self.regions = {primary.name: primary}
        if secondary is not None:
            self._join(primary, secondary)
        self._warn_not_emulated()
        self._wrap_project_clients()
        for region in self.regions.values():
            region.runtime.shares = region.api.shares = self.shares
            region.runtime.start()
            self._exits.callback(region.runtime.stop)
        self._start_partner(primary.stack)
        for region in self.regions.values():
            region.start_emulators(self._exits, self.partner.url if self.partner else None)
        self._configure_partner(primary)
        self.started_at = self.clock.now()
        self._wall_started = time.perf_counter()

    def _update_secondary(
        self, secondary: Region, primary: Region, overrides: dict[str, str], sam: dict[str, Any]
    ) -> None:
        """make deploy's second deploy of the secondary: with active-active, the primary's key (once
        it holds the replica buckets) as the secondary's ReplicaKmsKeyArn, so it replicates too."""
        key = two_regions.secondary_key_override(primary, secondary)
        if not key:
            return
        loaded, _ = templates.load(
            self.options.template,
            config_env=self.options.regions[1],
            overrides={**overrides, **key},
            sam=sam,
        )
        secondary.provisioner.update(loaded)
        secondary.loaded = loaded

    def _join(self, primary: Region, secondary: Region) -> None:
        """Two Regions: the global endpoint, event and bucket replication and global tables between them."""
        self.regions[secondary.name] = secondary
        self.joined = two_regions.join(
            primary, secondary, lambda region: self._client_factory("events", region)
        )
        self.emulators = self.joined.emulators
        for buckets in self.joined.bucket_replications:
            self._exits.enter_context(buckets.watching())
        self._exits.enter_context(self.joined.tables.watching())

    def _warn_not_emulated(self) -> None:
        """One line at start: what the Regions' stacks hold that nothing emulates, once they are joined
        (two Regions emulate the global endpoint)."""
        lines = sorted({line for region in self.regions.values() for line in region.stack.not_emulated})
        if lines:
            log.warning("not emulated locally: %s", ", ".join(lines))

    def _create_partner_secret(self, name: str, regions: set[str]) -> None:
        """The partner's API key secret, as an operator creates it before deploying: in every Region,
        since each one that processes (the primary; both in active/active) sends to the partner."""
        value = json.dumps({"api_key": secrets.token_urlsafe(24)})
        for region in sorted(regions):
            client = self.session.client("secretsmanager", region_name=region, endpoint_url=self.endpoint_url)
            client.create_secret(Name=name, SecretString=value)

    def _start_moto(self) -> None:
        self._kinesis_on_the_cloud_clock()
        self._exits.enter_context(shortcuts.memoized())
        self._exits.enter_context(timeshare.timing_aws_calls(self.shares))
        if self.options.server_port is None:
            from moto import mock_aws  # noqa: PLC0415

            mock = mock_aws()
            mock.start()
            self._exits.callback(mock.stop)
            return
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call otherwise

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.options.server_port, verbose=False)
        server.start()
        self._exits.callback(server.stop)
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def _kinesis_on_the_cloud_clock(self) -> None:
        """moto stamps a record's ApproximateArrivalTimestamp with its own ``utcnow``; the Pipes measure
        record age on the cloud clock. One clock for both, or once the virtual clock has skipped a day
        every later record would look a day old and age out."""
        from unittest import mock  # noqa: PLC0415

        import moto.kinesis.models  # noqa: PLC0415

        clock = self.clock

        def utcnow() -> datetime:
            return datetime.fromtimestamp(clock.now(), UTC).replace(tzinfo=None)

        self._exits.enter_context(mock.patch.object(moto.kinesis.models, "utcnow", utcnow))

    def _wrap_project_clients(self) -> None:
        from signal_platform import aws_clients  # noqa: PLC0415

        original = aws_clients.client
        aws_clients.reset()
        factory = ClientFactory(original, self.faults, self._watch, default_region=self.primary.name)
        if self.joined is not None:
            factory.routes["events"] = self.joined.endpoint.put_events  # PutEvents with EndpointId
        self._client_factory = factory
        aws_clients.client = factory  # type: ignore[assignment]

        def unwrap() -> None:
            aws_clients.client = original
            aws_clients.reset()

        self._exits.callback(unwrap)

    def _watch(self, client: Any) -> None:
        """The Services of the client's Region note the writes made through it. A client of a Region
        this cloud does not run belongs to another cloud of the process (its factory wraps this one's
        and watches it): the hooks are registered once per client, so noting it here would leave
        that cloud blind to the writes, e.g. a replay onto its stream that no mapping then reads."""
        region = self.regions.get(str(client.meta.region_name))
        if region is not None:
            region.services.watch(client)

    def _start_partner(self, stack: Stack) -> None:
        """The partner stand-in, when the template sends to an API destination."""
        if stack.of_type("AWS::Events::ApiDestination"):
            self.partner = PartnerStandIn(api_key=None).start()
            self._exits.callback(self.partner.stop)

    def _configure_partner(self, region: Region) -> None:
        """The stand-in expects the key the (first) destination's connection sends."""
        destinations = region.stack.of_type("AWS::Events::ApiDestination")
        if self.partner is None or region.http is None or not destinations:
            return
        headers = region.http.destination(destinations[0].arn).headers
        header = next((name for name in headers if name.lower() != "authorization"), None)
        if header is not None:
            self.partner.header, self.partner.api_key = header.lower(), headers[header]

    # ------------------------------------------------------------------ the primary Region's parts
    @property
    def stack(self) -> Stack:
        return self.primary.stack

    @property
    def services(self) -> Services:
        return self.primary.services

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return self.primary.functions

    @property
    def runtime(self) -> FunctionRuntime:
        return self.primary.runtime

    @property
    def api(self) -> HttpApi:
        return self.primary.api

    @property
    def load_balancer(self) -> LoadBalancer:
        """The primary's load balancer front door (a template FrontDoor of Alb or Both)."""
        if self.primary.load_balancer is None:
            raise RuntimeError(
                "the template's FrontDoor creates no load balancer (set FrontDoor=Alb or Both)"
            )
        return self.primary.load_balancer

    @property
    def http(self) -> HttpSender | None:
        return self.primary.http

    @property
    def inbox(self) -> Inbox:
        return self.primary.inbox

    @property
    def eventbridge(self) -> EventBridgeEmulator:
        return self.primary.eventbridge

    @property
    def async_invoker(self) -> AsyncInvoker:
        return self.primary.async_invoker

    @property
    def pipes(self) -> list[PipeEmulator]:
        return self.primary.pipes

    @property
    def sqs_mappings(self) -> list[SqsMapping]:
        return self.primary.sqs_mappings

    # ------------------------------------------------------------------ running
    def _components(self) -> list[Emulator]:
        return [
            *(emulator for region in self.regions.values() for emulator in region.emulators),
            *self.emulators,
        ]

    def pump(self, *, passes: int = 1000) -> int:
        """Everything that is due now, until nothing more is (bounded by ``passes``)."""
        total = 0
        with self.shares.within(timeshare.EMULATORS):
            for _ in range(passes):
                done = sum(component.pump() for component in self._components())
                total += done
                if not done:
                    break
        return total

    def next_due(self) -> float | None:
        dues = [due for component in self._components() if (due := component.next_due()) is not None]
        return min(dues) if dues else None

    def _next_due_beside_outages(self, after: float) -> float | None:
        """When the Regions that are up next have work later than ``after``: their pollers, windows
        and retries run on while another Region is down."""
        dues = [
            due
            for region in self.regions.values()
            if not self.faults.region_down(region.name)
            for component in region.emulators
            if (due := component.next_due()) is not None and due > after
        ]
        return min(dues) if dues else None

    def settle(self, *, timeout: float = 60.0, horizon: float = SETTLE_HORIZON) -> bool:
        """Run until nothing is pending (True), or ``timeout`` real / ``horizon`` cloud seconds pass."""
        deadline = time.monotonic() + timeout
        limit = self.clock.now() + horizon
        while time.monotonic() < deadline:
            done = self.pump()
            due = self.next_due()
            if due is None:
                return True
            now = self.clock.now()
            if not done and due <= now and self.faults.any_region_down():
                # Held by an outage: until a Region comes back, or sooner the others' next work.
                later = [
                    at
                    for at in (self.faults.next_region_change(), self._next_due_beside_outages(now))
                    if at is not None
                ]
                if not later:
                    return False
                due = min(later)
            if due > limit:
                return False
            self.clock.wait_until(due, at_most=max(0.0, min(0.05, deadline - time.monotonic())))
        return False

    def serve_forever(self, stop: threading.Event, *, idle_sleep: float = 0.05) -> None:
        """The emulator loop of `make local` (run it in a thread; set ``stop`` to end it)."""
        while not stop.is_set():
            try:
                self.pump()
            except Exception:
                log.exception("emulator loop failed; continuing")
            due = self.next_due()
            wait = idle_sleep if due is None else max(0.0, min(idle_sleep, due - self.clock.now()))
            stop.wait(wait)

    def advance(self, seconds: float, *, step: float = 60.0, until: Callable[[], bool] | None = None) -> None:
        """Let ``seconds`` pass in steps of at most ``step`` (no schedule tick jumped over: the heartbeat
        is a minute apart), everything due done at each, or stop once ``until`` holds."""
        end = self.clock.now() + seconds
        self.pump()
        while self.clock.now() < end and not (until is not None and until()):
            self.wait(min(step, end - self.clock.now()))
            self.pump()

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on the cloud's clock (instantly on the virtual clock)."""
        self.clock.wait_until(self.clock.now() + seconds, at_most=seconds)

    def reset(self, *, warm: bool = False) -> None:
        """Empty every store, table, queue and stream, and forget in-flight work and faults: a fresh
        stack without paying for start-up again (tests).

        Cold (default): functions start cold and every table is emptied, so sources must be registered
        again. ``warm``: functions keep their containers (cached settings, clients, the validator's
        source cache) and the sources table keeps its sources, so write keys stay valid; runs must
        then use new event ids (a warm enrichment remembers batch ids it has seen).
        """
        self.faults.clear()
        for region in self.regions.values():
            region.reset(warm=warm)
        if self.joined is not None:
            self.joined.reset()
        if self.partner is not None:
            self.partner.received.clear()
            self.partner.refused.clear()
            self.partner.failing = lambda body: False  # noqa: ARG005
        self.faults.started_at = self.clock.now()

    # ------------------------------------------------------------------ helpers for drivers
    def function_with_env(self, variable: str) -> FunctionSpec:
        return self.primary.function_with_env(variable)

    def register_source(
        self,
        source_id: str,
        description: str = "",
        origins: frozenset[str] = frozenset(),
        *,
        rate_per_second: int | None = None,
    ) -> str:
        """A source in the sources table the validator reads (``origins``: the web origins whose pages
        may send with its key; ``rate_per_second``: its rate limit, else the default); returns its
        write key."""
        from signal_platform.sources import SourceRegistry, new_write_key  # noqa: PLC0415

        table = self.function_with_env("SOURCES_TABLE_NAME").environment["SOURCES_TABLE_NAME"]
        write_key, source = new_write_key(source_id, description, origins)
        source = dataclasses.replace(source, rate_per_second=rate_per_second)
        SourceRegistry(table, client=lambda: self.services.client("dynamodb")).register(source)
        return write_key

    def census(self, region: Region | None = None) -> Census:
        """What the stores, queues and the partner hold, as seen from ``region`` (the primary)."""
        region = region or self.primary
        specs = [pipe.spec for pipe in region.pipes]
        return take_census(region.services, region.functions, specs, self.partner)

    def report(self, ledger: Ledger) -> Report:
        census = self.census()
        return Report(ledger, census, tuple(balance(ledger, census, [pipe.spec for pipe in self.pipes])))

    def exports(self) -> dict[str, str]:
        """The environment a shell needs to use this cloud with the AWS CLI or boto3."""
        exports = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.stack.region,
            "AWS_DEFAULT_REGION": self.stack.region,
        }
        if self.endpoint_url:
            exports["AWS_ENDPOINT_URL"] = self.endpoint_url
        return exports

    def summary(self) -> list[str]:
        lines = [
            f"template {self.loaded.path.name} (config-env {self.config_env.name}, "
            f"stack {self.stack.stack_name}, region {self.stack.region})",
            f"functions: {', '.join(sorted(self.functions))}",
            f"emulated rule targets: {', '.join(t.name for t in self.eventbridge.targets) or 'none'}",
            f"pipes: {', '.join(p.spec.logical_id for p in self.pipes) or 'none'}",
            f"local overrides of function environments: {self.runtime.overrides}",
        ]
        if self.stack.not_emulated:
            lines.append(f"not emulated: {', '.join(self.stack.not_emulated)}")
        return lines


def run_with_deadline(step: Callable[[], bool], *, timeout: float, poll: float = 0.01) -> bool:
    """Poll ``step`` until it returns True or ``timeout`` real seconds pass (tests and tools)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step():
            return True
        time.sleep(poll)
    return False
