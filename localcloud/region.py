"""``Region``: one AWS Region of the local cloud, as a value: its config-env and template load, the
stack provisioned in moto, the ``Services`` its emulators read through, its functions and their
runtime, its HTTP API, and its emulators.

Shared by every Region of a cloud (``LocalCloud``): moto itself (Regions are moto's own namespaces), the
clock, the faults and the partner stand-in. The role (``primary`` / ``secondary``) follows from the
template's ``PrimaryRegion`` parameter, as the template's conditions do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from localcloud.clock import Clock
from localcloud.cloudwatch import CloudWatch
from localcloud.emulator import Emulator
from localcloud.eventbridge import (
    DeliveryError,
    EventBridgeEmulator,
    Inbox,
    RuleTarget,
    Tap,
    bus_sender,
    kinesis_sender,
    moto_rule_hook,
)
from localcloud.faults import Faults
from localcloud.http_api import HttpApi, LoadBalancer, multi_value_headers
from localcloud.http_targets import ApiDestinationError, HttpSender
from localcloud.lambda_async import AsyncInvoker
from localcloud.options import CloudOptions
from localcloud.pipes import PipeEmulator, PipeSpec
from localcloud.provision import Provisioner, ProvisionSettings, Stack
from localcloud.queue_ages import QueueAges
from localcloud.runtime import FunctionRuntime, FunctionSpec, function_specs
from localcloud.scheduler import Scheduler
from localcloud.services import Services
from localcloud.sqs_retention import QueueRetention
from localcloud.sqs_source import SqsMapping, SqsMappingSpec
from localcloud.template import ConfigEnv, LoadedTemplate
from signal_platform import codec

log = logging.getLogger("localcloud")


class Region:
    def __init__(
        self,
        options: CloudOptions,
        loaded: LoadedTemplate,
        config_env: ConfigEnv,
        provisioner: Provisioner,
        services: Services,
        functions: dict[str, FunctionSpec],
        runtime: FunctionRuntime,
    ) -> None:
        self.options = options
        self.loaded = loaded
        self.config_env = config_env
        self.provisioner = provisioner
        self.stack: Stack = services.stack
        self.services = services
        self.runtime = runtime
        self.functions = functions
        self.api = HttpApi(loaded.http_routes, runtime, seed=options.seed, cors=loaded.http_cors)
        # The template's load balancer front door, when its FrontDoor creates one (else None).
        self.load_balancer = _load_balancer(services.stack, functions, runtime, options.seed)
        self.inbox = Inbox()
        self.taps: dict[str, Tap] = {}  # rules other emulators watch (a global endpoint's, see eventbridge)
        self.http: HttpSender | None = None
        self.emulators: list[Emulator] = []
        self.pipes: list[PipeEmulator] = []
        self.sqs_mappings: list[SqsMapping] = []
        # Kinesis -> Lambda event source mappings: the Pipe poller in Lambda's shapes (not a consumer
        # of the signal stream, so not among ``pipes``, which the accounting balances).
        self.stream_mappings: list[PipeEmulator] = []

    @classmethod
    def provision(
        cls,
        options: CloudOptions,
        loaded: LoadedTemplate,
        config_env: ConfigEnv,
        *,
        session: Any,
        endpoint_url: str | None,
        clock: Clock,
        faults: Faults,
        function_environment: Mapping[str, str],
        share_with: Region | None = None,
    ) -> Region:
        """The Region of ``config_env``: every resource of ``loaded`` provisioned in moto, its functions
        ready to import (``runtime.start``), no emulator running yet (``start_emulators``)."""
        provisioner = Provisioner(
            EndpointSession(session, endpoint_url),
            region=str(config_env.region),
            stack_name=options.stack_name or config_env.stack_name or "localcloud",
            settings=ProvisionSettings(on_demand_shards=options.shards, seed=options.seed),
        )
        stack = provisioner.provision(loaded)
        services = Services(stack, clock, faults, session, endpoint_url, options.seed)
        functions = function_specs(stack, loaded.code_dirs)
        runtime = FunctionRuntime(
            functions,
            region=stack.region,
            faults=faults,
            seed=options.seed,
            extra_environment=function_environment,
            log_level=options.log_level,
            output=options.function_output,
            share_with=share_with.runtime if share_with else None,
            clock=clock,
        )
        for logical_id, handler in options.handlers.items():
            runtime.override(logical_id, handler)
        return cls(options, loaded, config_env, provisioner, services, functions, runtime)

    @property
    def name(self) -> str:
        return self.stack.region

    @property
    def role(self) -> str:
        primary = self.loaded.parameters.get("PrimaryRegion") or self.name
        return "primary" if primary == self.name else "secondary"

    # ------------------------------------------------------------------ emulators
    def start_emulators(self, exits: ExitStack, partner_url: str | None) -> None:
        """Wire the emulators; rule deliveries moto would not make go to this Region's inbox."""
        if partner_url is not None and self.stack.of_type("AWS::Events::ApiDestination"):
            self.http = HttpSender(self.stack, partner_url)
        self.wire_emulators()
        exits.enter_context(
            moto_rule_hook(self.inbox, self.eventbridge.emulated_rules, self.stack.account_id, self.name)
        )

    def wire_emulators(self) -> None:
        """Build every emulator afresh (start, ``reset``); ``emulators`` is what the cloud's loop runs."""
        services = self.services
        self.async_invoker = AsyncInvoker(services, self.runtime)
        self.eventbridge = EventBridgeEmulator(
            services,
            self.inbox,
            {
                "lambda": self.async_invoker.rule_sender,
                "kinesis": kinesis_sender(services),
                "api-destination": self._rule_http_sender,
                "bus": bus_sender(services),
            },
            self.taps,
        )
        # With the wall clock (make local) shards and queues are also polled every second, as Pipes and
        # Lambda do, so what anyone writes (the AWS CLI) is seen; otherwise only after writes the cloud
        # sees (the emulators' own, and the project code's through its wrapped clients).
        poll = 1.0 if self.options.wall_clock else None
        self.pipes = [
            PipeEmulator(
                PipeSpec.of(pipe, services),
                services,
                self.runtime,
                self.http,
                self.async_invoker.enqueue,
                self.options.window_scale,
                poll,
            )
            for pipe in self.stack.of_type("AWS::Pipes::Pipe")
        ]
        self.sqs_mappings = []
        self.stream_mappings = []
        for mapping in self.stack.of_type("AWS::Lambda::EventSourceMapping"):
            source = str(mapping.properties.get("EventSourceArn", ""))
            if ":sqs:" in source:
                self.sqs_mappings.append(
                    SqsMapping(SqsMappingSpec.of(mapping), services, self.runtime, poll_interval=poll)
                )
            elif ":kinesis:" in source:
                self.stream_mappings.append(
                    PipeEmulator(
                        PipeSpec.of_mapping(mapping, services),
                        services,
                        self.runtime,
                        None,
                        self.async_invoker.enqueue,
                        self.options.window_scale,
                        poll,
                    )
                )
            else:
                log.warning(
                    "not emulated locally: event source mapping %s from %s", mapping.logical_id, source
                )
        self.scheduler = Scheduler(services)
        self.queue_ages = QueueAges(services)
        self.queue_retention = QueueRetention(services, self.queue_ages)
        self.cloudwatch = CloudWatch(
            services, self.runtime, self.api, self.queue_ages, self.load_balancer
        )  # last: it sees what the others did
        self.emulators = [
            self.scheduler,
            self.eventbridge,
            self.async_invoker,
            *self.pipes,
            *self.stream_mappings,
            *self.sqs_mappings,
            self.queue_retention,
            self.cloudwatch,
        ]

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

    # ------------------------------------------------------------------ reset
    def reset(self, *, warm: bool) -> None:
        """Empty every store, table, queue and stream of this Region and forget in-flight work (see
        ``LocalCloud.reset``)."""
        self.services.dropped.clear()
        self.services.metrics.clear()
        self.services.stream_activity.clear()
        self.services.queue_activity.clear()
        self.services.message_sources.clear()
        self.inbox.drain()
        self.inbox.matched.clear()
        s3, sqs, kinesis = (self.services.client(name) for name in ("s3", "sqs", "kinesis"))
        sources_tables = {spec.environment.get("SOURCES_TABLE_NAME") for spec in self.functions.values()}
        for bucket in self.stack.of_type("AWS::S3::Bucket"):
            empty_bucket(s3, bucket.ref)
        # Queues, streams and archives are re-created from the template's resolved properties (same
        # names and ARNs): PurgeQueue is limited to once a minute, Kinesis cannot delete records, and
        # an archive cannot be emptied (a replay of one kept would bring back every earlier run's events).
        events = self.services.client("events")
        for archive in self.stack.of_type("AWS::Events::Archive"):
            events.delete_archive(ArchiveName=archive.ref)
            self.provisioner.recreate(archive)
        for queue in self.stack.of_type("AWS::SQS::Queue"):
            sqs.delete_queue(QueueUrl=queue.ref)
            self.provisioner.recreate(queue)
        for stream in self.stack.of_type("AWS::Kinesis::Stream"):
            kinesis.delete_stream(StreamName=stream.ref)
            self.provisioner.recreate(stream)
        dynamodb = self.services.client("dynamodb")
        for kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            for table in self.stack.of_type(kind):
                if warm and table.ref in sources_tables:
                    continue
                dynamodb.delete_table(TableName=table.ref)
                self.provisioner.recreate(table)
        if not warm:
            self.runtime.cold_start()
        self.wire_emulators()

    # ------------------------------------------------------------------ helpers for drivers
    def function_with_env(self, variable: str) -> FunctionSpec:
        for spec in self.functions.values():
            if variable in spec.environment:
                return spec
        raise KeyError(f"no function has {variable} in its environment")


def empty_bucket(s3: Any, bucket: str) -> None:
    """Delete every version and delete marker of ``bucket``.

    Each round lists from the start again: moto resumes a listing after its ``VersionIdMarker`` only
    while that version still exists, so deleting page by page while paginating skipped every page
    after the first, and whatever sorted past the first 1,000 versions survived the reset.
    """
    while True:
        page = s3.list_object_versions(Bucket=bucket)
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
        ]
        if not doomed:
            return
        for start in range(0, len(doomed), 1000):
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
            if answer.get("Errors"):
                raise RuntimeError(f"could not empty bucket {bucket}: {answer['Errors'][:3]}")


class EndpointSession:
    """A boto3 session whose clients talk to the local endpoint (the ThreadedMotoServer), if any."""

    def __init__(self, session: Any, endpoint_url: str | None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url, **kwargs)


def _load_balancer(
    stack: Stack, functions: Mapping[str, FunctionSpec], runtime: FunctionRuntime, seed: int
) -> LoadBalancer | None:
    """The load balancer whose listener forwards to a Lambda target group of this stack, if any."""
    by_arn = {spec.arn: logical_id for logical_id, spec in functions.items()}
    for resource in stack.resources.values():
        if resource.type != "AWS::ElasticLoadBalancingV2::TargetGroup":
            continue
        if resource.properties.get("TargetType") != "lambda":
            continue
        for target in resource.properties.get("Targets") or []:
            function = by_arn.get(str(target.get("Id")))
            if function is not None:
                multi_value = multi_value_headers(resource.properties)
                return LoadBalancer(
                    function, str(resource.ref), runtime, seed=seed, multi_value_headers=multi_value
                )
    return None
