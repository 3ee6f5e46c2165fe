"""Two Regions from the same template.yaml: the primary's and the secondary's samconfig config-envs,
each provisioned with its role's resources, in make deploy's order, and joined as AWS joins them.

Provisioning (``provision``), as ``tools.deploy``'s plan passes values between the stacks:

- the secondary first (its edge: API, validator, ingress bus and archive), then the primary (edge,
  pipeline, global tables, health alarm and check, heartbeat, global endpoint) with the secondary's
  ``PersonalDataKey`` ARN as ``ReplicaKmsKeyArn``;
- with active-active, the secondary's stack then updated with the primary's key as its
  ``ReplicaKmsKeyArn`` (``secondary_key_override``), once the primary holds the replica buckets of
  the secondary's lake and DLQ store, so the secondary replicates them too;
- both with ``GlobalEndpointId`` set to the primary's endpoint, so both validators publish through
  it (make deploy's final state; the local id is known before the endpoint exists).

Joining (``join``): the global tables' replicas in the secondary (``global_tables``), the secrets the
primary replicates (``ReplicaRegions``), the endpoint's managed replication rules on both buses
(``replication``), the endpoint itself (``global_endpoint``) and the bucket replication of each Region
that replicates into the other's replica buckets (``bucket_replication``: the primary's; with
active-active the secondary's too), whose emulators the cloud runs beside the Regions' own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localcloud import template as templates
from localcloud.bucket_replication import BucketReplication, ReplicationRule
from localcloud.emulator import Emulator
from localcloud.global_endpoint import EndpointSpec, GlobalEndpoint
from localcloud.global_tables import GlobalTables, GlobalTableSpec
from localcloud.names import PhysicalNames
from localcloud.options import CloudOptions
from localcloud.provision.engine import endpoint_id
from localcloud.region import Region
from localcloud.replication import Replication
from localcloud.scheduler import ScheduleSpec
from localcloud.template import ConfigEnv, LoadedTemplate, TemplateError


@dataclass
class Joined:
    """What joins the two Regions; ``emulators`` run in the cloud's loop."""

    endpoint: GlobalEndpoint
    replication: Replication
    tables: GlobalTables
    buckets: BucketReplication  # the primary's lake and DLQ store into the secondary's replica buckets
    # The secondary's into the primary's (active-active); None where the secondary does not replicate.
    secondary_buckets: BucketReplication | None = None
    emulators: list[Emulator] = field(default_factory=list)

    @property
    def bucket_replications(self) -> list[BucketReplication]:
        return [self.buckets, *([self.secondary_buckets] if self.secondary_buckets else [])]

    def reset(self) -> None:
        """After the Regions were reset: replicas copied from their owners, nothing in flight."""
        self.tables.reset()
        self.replication.reset()
        for buckets in self.bucket_replications:
            buckets.reset()
        self.endpoint.reset()


def load_pair(
    options: CloudOptions, sam: dict[str, Any], overrides: Mapping[str, str]
) -> tuple[tuple[LoadedTemplate, ConfigEnv], tuple[LoadedTemplate, ConfigEnv], dict[str, str]]:
    """The secondary's and the primary's templates with the values make deploy passes to both, and
    those values (the primary is loaded again with ``replica_key_override`` once the secondary exists)."""
    primary_env, secondary_env = options.regions
    primary_config = templates.read_config_env(options.template.parent / "samconfig.toml", primary_env)
    endpoint_logical_id = next(
        (
            name
            for name, resource in sam.get("Resources", {}).items()
            if resource.get("Type") == "AWS::Events::Endpoint"
        ),
        None,
    )
    if endpoint_logical_id is None:
        raise TemplateError("two Regions need the template's AWS::Events::Endpoint")
    stack_name = options.stack_name or primary_config.stack_name or "localcloud"
    names = PhysicalNames(stack_name, primary_config.region or templates.DEFAULT_REGION)
    shared = {**overrides, "GlobalEndpointId": endpoint_id(names, endpoint_logical_id)}
    secondary = templates.load(options.template, config_env=secondary_env, overrides=shared, sam=sam)
    primary = templates.load(options.template, config_env=primary_env, overrides=shared, sam=sam)
    if secondary[1].region == primary[1].region:
        raise TemplateError(f"config-envs {primary_env} and {secondary_env} are in the same Region")
    return secondary, primary, shared


def replica_key_override(secondary: Region) -> dict[str, str]:
    """``ReplicaKmsKeyArn`` for the primary: the secondary stack's PersonalDataKeyArn output."""
    key = secondary.stack.resources.get("PersonalDataKey")
    return {"ReplicaKmsKeyArn": key.arn} if key is not None else {}


def secondary_key_override(primary: Region, secondary: Region) -> dict[str, str]:
    """``ReplicaKmsKeyArn`` for a secondary that processes (active-active): the primary stack's
    ReplicaBucketsKeyArn output, its PersonalDataKey once it holds replica buckets (else nothing)."""
    key = primary.stack.resources.get("PersonalDataKey")
    holds_replicas = primary.stack.resources.get("LakeReplicaBucket") is not None
    processes = secondary.stack.resources.get("LakeBucket") is not None
    return {"ReplicaKmsKeyArn": key.arn} if key is not None and holds_replicas and processes else {}


def join(primary: Region, secondary: Region, events_client: Callable[[str], Any]) -> Joined:
    """Replicas, replication and the endpoint between ``primary`` and ``secondary``."""
    spec = EndpointSpec.of(primary.stack)
    if spec is None:
        raise TemplateError(
            f"the primary ({primary.name}) has no global endpoint: is CreateGlobalEndpoint on?"
        )
    if spec.secondary_region != secondary.name:
        raise TemplateError(f"the endpoint fails over to {spec.secondary_region}, not to {secondary.name}")
    services = {primary.name: primary.services, secondary.name: secondary.services}
    faults = primary.services.faults
    _replicate_secrets(primary, secondary)
    tables = GlobalTables(GlobalTableSpec.of_stack(primary.stack), services, faults)
    tables.install()
    heartbeats = frozenset(
        tick.source
        for region in (primary, secondary)
        for schedule in region.stack.of_type("AWS::Scheduler::Schedule")
        if (tick := ScheduleSpec.of(schedule)) is not None
    )
    replication = Replication(spec, services, faults, quiet_sources=heartbeats)
    if spec.replication:
        for region, (rule_arn, tap) in replication.install().items():
            (primary if region == primary.name else secondary).taps[rule_arn] = tap
    endpoint = GlobalEndpoint(spec, lambda: primary.cloudwatch, primary.services.clock.now, events_client)
    primary.stack.not_emulated = [line for line in primary.stack.not_emulated if spec.logical_id not in line]
    buckets = BucketReplication(primary.name, secondary.name, services, faults)
    secondary_buckets = (
        BucketReplication(secondary.name, primary.name, services, faults)
        if ReplicationRule.of_stack(secondary.stack)
        else None
    )
    joined = Joined(endpoint, replication, tables, buckets, secondary_buckets)
    joined.emulators = [replication, tables, *joined.bucket_replications, endpoint]
    return joined


def _replicate_secrets(primary: Region, secondary: Region) -> None:
    """Secrets the primary replicates to the secondary (``ReplicaRegions``): same name and value."""
    source = primary.services.client("secretsmanager")
    target = secondary.services.client("secretsmanager")
    for secret in primary.stack.of_type("AWS::SecretsManager::Secret"):
        regions = {str(replica.get("Region")) for replica in secret.properties.get("ReplicaRegions") or []}
        if secondary.name not in regions:
            continue
        value = source.get_secret_value(SecretId=secret.arn)["SecretString"]
        name = str(secret.properties.get("Name") or secret.arn.rsplit(":", 1)[-1].rsplit("-", 1)[0])
        target.create_secret(Name=name, SecretString=value)
