"""``LocalCloud``: template.yaml running on one machine, without AWS or Docker.

    with LocalCloud(CloudOptions()) as cloud:
        write_key = cloud.register_source("web-shop")
        cloud.api.request("POST", "/v1/events", body, {"x-api-key": write_key, ...})
        cloud.settle()
        print(cloud.report(ledger).render())

Start-up: moto (in-process ``mock_aws`` by default, or a ``ThreadedMotoServer`` on 127.0.0.1), the
template loaded and SAM-translated with the samconfig config-env's parameters, every resource
provisioned (``provision``), the functions imported in their own environments (``runtime``), the
emulators wired (``eventbridge``, ``lambda_async``, ``pipes``, ``sqs_source``), the partner stand-in
started, and the project's AWS clients wrapped for fault injection (``faults``).

The partner: ``PartnerEndpointUrl`` and ``PartnerApiKeySecretName`` are overridden (unless given) so the
partner Pipe deploys, and the secret the template expects to exist already is created first with a
random ``api_key``, as an operator would before deploying. Requests go to the local stand-in.

Work runs in ``pump`` (everything that is due now) and ``settle`` (pump until nothing is left, jumping
the virtual clock over waits, within a real-time deadline). ``make local`` runs ``serve_forever``
in a thread instead.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from localcloud import template as templates
from localcloud.accounting import Census, Ledger, Report, balance, take_census
from localcloud.clock import Clock, VirtualClock, WallClock
from localcloud.eventbridge import (
    DeliveryError,
    EventBridgeEmulator,
    Inbox,
    RuleTarget,
    kinesis_sender,
    moto_rule_hook,
)
from localcloud.faults import ClientFactory, Fault, Faults
from localcloud.http_api import HttpApi
from localcloud.http_targets import ApiDestinationError, HttpSender
from localcloud.lambda_async import AsyncInvoker
from localcloud.partner import PartnerStandIn
from localcloud.pipes import PipeEmulator, PipeSpec
from localcloud.provision import Provisioner, ProvisionSettings, Stack
from localcloud.runtime import FunctionRuntime, FunctionSpec, Handler, function_specs
from localcloud.services import Services
from localcloud.sqs_source import SqsMapping, SqsMappingSpec
from signal_platform import codec

log = logging.getLogger("localcloud")

ROOT: Final = Path(__file__).resolve().parents[1]
PARTNER_ENDPOINT: Final = "https://partner.localcloud.invalid/v1/signals"
PARTNER_SECRET_NAME: Final = "localcloud/partner-api-key"  # noqa: S105 - a name; the value is random
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_SESSION_TOKEN": "localcloud",
}
SETTLE_HORIZON: Final = 8 * 24 * 3600.0  # further than the longest wait in the template (24 h ages)


@dataclass
class CloudOptions:
    template: Path = ROOT / "template.yaml"
    config_env: str = "default"
    overrides: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    stack_name: str | None = None
    seed: int = 7
    shards: int = 4
    server_port: int | None = None
    wall_clock: bool = False
    partner: bool = True
    log_level: str | None = "CRITICAL"
    function_output: TextIO | None = None
    window_scale: float = 1.0
    handlers: dict[str, Handler] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)


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
        self.pipes: list[PipeEmulator] = []
        self.sqs_mappings: list[SqsMapping] = []
        self.started_at = 0.0

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
        self.loaded, self.config_env = templates.load(
            options.template,
            config_env=options.config_env,
            overrides=overrides,
            region=options.region,
            sam=sam,
        )
        region = str(self.config_env.region)
        stack_name = options.stack_name or self.config_env.stack_name or "localcloud"
        if overrides.get("PartnerApiKeySecretName"):
            self.session.client(
                "secretsmanager", region_name=region, endpoint_url=self.endpoint_url
            ).create_secret(
                Name=overrides["PartnerApiKeySecretName"],
                SecretString=json.dumps({"api_key": secrets.token_urlsafe(24)}),
            )
        self._provisioner = Provisioner(
            _EndpointSession(self.session, self.endpoint_url),
            region=region,
            stack_name=stack_name,
            settings=ProvisionSettings(on_demand_shards=options.shards, seed=options.seed),
        )
        self.stack: Stack = self._provisioner.provision(self.loaded)
        self.faults = Faults(self.clock.now, started_at=self.clock.now(), seed=options.seed)
        self.faults.add(*options.faults)
        self.services = Services(
            self.stack, self.clock, self.faults, self.session, self.endpoint_url, options.seed
        )
        self.functions: dict[str, FunctionSpec] = function_specs(self.stack, self.loaded.code_dirs)
        extra = dict(FAKE_CREDENTIALS)
        if self.endpoint_url:
            extra["AWS_ENDPOINT_URL"] = self.endpoint_url
        self.runtime = FunctionRuntime(
            self.functions,
            region=region,
            faults=self.faults,
            seed=options.seed,
            extra_environment=extra,
            log_level=options.log_level,
            output=options.function_output,
        )
        for logical_id, handler in options.handlers.items():
            self.runtime.override(logical_id, handler)
        self._wrap_project_clients()
        self.runtime.start()
        self._exits.callback(self.runtime.stop)
        self._start_emulators()
        self.api = HttpApi(self.loaded.http_routes, self.runtime, seed=options.seed)
        self.started_at = self.clock.now()
        self._wall_started = time.perf_counter()

    def _start_moto(self) -> None:
        self._kinesis_on_the_cloud_clock()
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
        aws_clients.client = ClientFactory(original, self.faults, self.services.watch)  # type: ignore[assignment]

        def unwrap() -> None:
            aws_clients.client = original
            aws_clients.reset()

        self._exits.callback(unwrap)

    def _start_emulators(self) -> None:
        destinations = self.stack.of_type("AWS::Events::ApiDestination")
        self.http: HttpSender | None = None
        if destinations:
            # The stand-in expects the key the (first) destination's connection sends.
            self.partner = PartnerStandIn(api_key=None).start()
            self._exits.callback(self.partner.stop)
            self.http = HttpSender(self.stack, self.partner.url)
            headers = self.http.destination(destinations[0].arn).headers
            header = next((name for name in headers if name.lower() != "authorization"), None)
            if header is not None:
                self.partner.header, self.partner.api_key = header.lower(), headers[header]
        self.inbox = Inbox()
        self._start_delivery()
        self._exits.enter_context(
            moto_rule_hook(self.inbox, self.eventbridge.emulated_rules, self.stack.account_id)
        )
        self._start_pollers()

    def _start_delivery(self) -> None:
        self.async_invoker = AsyncInvoker(self.services, self.runtime)
        self.eventbridge = EventBridgeEmulator(
            self.services,
            self.inbox,
            {
                "lambda": self.async_invoker.rule_sender,
                "kinesis": kinesis_sender(self.services),
                "api-destination": self._rule_http_sender,
            },
        )

    def _start_pollers(self) -> None:
        services = self.services
        self.pipes, self.sqs_mappings = [], []
        # With the wall clock (make local) shards and queues are also polled every second, as Pipes and
        # Lambda do, so what anyone writes (the AWS CLI) is seen; otherwise only after writes the cloud
        # sees (the emulators' own, and the project code's through its wrapped clients).
        poll = 1.0 if self.options.wall_clock else None
        for pipe in self.stack.of_type("AWS::Pipes::Pipe"):
            spec = PipeSpec.of(pipe, services)
            self.pipes.append(
                PipeEmulator(
                    spec,
                    services,
                    self.runtime,
                    self.http,
                    self.async_invoker.enqueue,
                    self.options.window_scale,
                    poll,
                )
            )
        for mapping in self.stack.of_type("AWS::Lambda::EventSourceMapping"):
            source = str(mapping.properties.get("EventSourceArn", ""))
            if ":sqs:" in source:
                self.sqs_mappings.append(
                    SqsMapping(SqsMappingSpec.of(mapping), services, self.runtime, poll_interval=poll)
                )
            else:
                log.warning(
                    "not emulated locally: event source mapping %s from %s", mapping.logical_id, source
                )

    def _rule_http_sender(self, target: RuleTarget, payload: Any, event: dict[str, Any]) -> None:  # noqa: ARG002
        if self.http is None:
            raise DeliveryError("NO_RESOURCE", "no API destination in the template")
        headers = {
            str(k): str(v) for k, v in ((target.http_parameters or {}).get("HeaderParameters") or {}).items()
        }
        try:
            self.http.send(target.arn, codec.dumps(payload), headers)
        except ApiDestinationError as exc:
            raise DeliveryError("SDK_CLIENT_ERROR", str(exc)) from exc

    # ------------------------------------------------------------------ running
    def _components(self) -> list[Any]:
        return [self.eventbridge, self.async_invoker, *self.pipes, *self.sqs_mappings]

    def pump(self, *, passes: int = 1000) -> int:
        """Everything that is due now, until nothing more is (bounded by ``passes``)."""
        total = 0
        for _ in range(passes):
            done = sum(component.pump() for component in self._components())
            total += done
            if not done:
                break
        return total

    def next_due(self) -> float | None:
        dues = [due for component in self._components() if (due := component.next_due()) is not None]
        return min(dues) if dues else None

    def settle(self, *, timeout: float = 60.0, horizon: float = SETTLE_HORIZON) -> bool:
        """Run until nothing is pending (True), or ``timeout`` real / ``horizon`` cloud seconds pass."""
        deadline = time.monotonic() + timeout
        limit = self.clock.now() + horizon
        while time.monotonic() < deadline:
            self.pump()
            due = self.next_due()
            if due is None:
                return True
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
        self.services.dropped.clear()
        self.services.stream_activity.clear()
        self.services.queue_activity.clear()
        self.services.message_sources.clear()
        self.inbox.drain()
        s3, sqs, kinesis = (self.services.client(name) for name in ("s3", "sqs", "kinesis"))
        sources_tables = {spec.environment.get("SOURCES_TABLE_NAME") for spec in self.functions.values()}
        for bucket in self.stack.of_type("AWS::S3::Bucket"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket.ref):
                doomed = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
                ]
                for start in range(0, len(doomed), 1000):
                    s3.delete_objects(Bucket=bucket.ref, Delete={"Objects": doomed[start : start + 1000]})
        # Queues and streams are re-created from the template's resolved properties (same names and
        # ARNs): PurgeQueue is limited to once a minute, and Kinesis cannot delete records.
        for queue in self.stack.of_type("AWS::SQS::Queue"):
            sqs.delete_queue(QueueUrl=queue.ref)
            self._provisioner.recreate(queue)
        for stream in self.stack.of_type("AWS::Kinesis::Stream"):
            kinesis.delete_stream(StreamName=stream.ref)
            self._provisioner.recreate(stream)
        dynamodb = self.services.client("dynamodb")
        for kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            for table in self.stack.of_type(kind):
                if warm and table.ref in sources_tables:
                    continue
                dynamodb.delete_table(TableName=table.ref)
                self._provisioner.recreate(table)
        if not warm:
            self.runtime.cold_start()
        if self.partner is not None:
            self.partner.received.clear()
            self.partner.refused.clear()
            self.partner.failing = lambda body: False  # noqa: ARG005
        self._start_delivery()
        self._start_pollers()
        self.faults.started_at = self.clock.now()

    # ------------------------------------------------------------------ helpers for drivers
    def function_with_env(self, variable: str) -> FunctionSpec:
        for spec in self.functions.values():
            if variable in spec.environment:
                return spec
        raise KeyError(f"no function has {variable} in its environment")

    def register_source(self, source_id: str, description: str = "") -> str:
        """A source in the sources table the validator reads; returns its write key."""
        from signal_platform.sources import SourceRegistry, new_write_key  # noqa: PLC0415

        table = self.function_with_env("SOURCES_TABLE_NAME").environment["SOURCES_TABLE_NAME"]
        write_key, source = new_write_key(source_id, description)
        SourceRegistry(table, client=lambda: self.services.client("dynamodb")).register(source)
        return write_key

    def census(self) -> Census:
        specs = [pipe.spec for pipe in self.pipes]
        return take_census(self.services, self.functions, specs, self.partner)

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


class _EndpointSession:
    """A boto3 session whose clients talk to the local endpoint (the ThreadedMotoServer), if any."""

    def __init__(self, session: Any, endpoint_url: str | None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url, **kwargs)


def run_with_deadline(step: Callable[[], bool], *, timeout: float, poll: float = 0.01) -> bool:
    """Poll ``step`` until it returns True or ``timeout`` real seconds pass (tests and tools)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step():
            return True
        time.sleep(poll)
    return False
