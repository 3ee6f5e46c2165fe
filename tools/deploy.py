"""Deploy both Regions in the one order that works, or print that order without touching AWS.

    python -m tools.deploy plan              # every step, its sam deploy and the values passed between stacks
    python -m tools.deploy plan --resolve    # the same with the values read from the deployed stacks
    python -m tools.deploy run [--restart]   # run the steps; a re-run skips the steps already done

The order (docs/runbook.md#2-deploy-order): the secondary's edge first (its ingress bus, archive, key
alias and replica buckets must exist before anything points at them), then the primary (pipeline,
global tables with their secondary replicas, health alarm, Route 53 health check, heartbeat and the
global endpoint; with active-active the replica buckets of the secondary's lake and DLQ store), then
a wait until the endpoint's health alarm is OK, then both validators with the endpoint's id (an
active-active secondary also with the primary's replica-bucket key: its own bucket replication starts
there, once the buckets it writes into exist), then a wait until the global tables' replicas are
ACTIVE. Every ``sam deploy`` gets the config-env's own ``parameter_overrides`` plus the values read
from the other stack's outputs, so a re-run converges on the same stacks (idempotent); a journal of
finished steps lets ``run`` resume.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

ROOT: Final = Path(__file__).resolve().parents[1]
SAMCONFIG: Final = ROOT / "samconfig.toml"
JOURNAL_DIR: Final = ROOT / ".deploy"
PRIMARY_ENV: Final = "primary"
SECONDARY_ENV: Final = "secondary"
# What one stack tells the other: (config-env, output) -> the parameter it becomes.
ENDPOINT_ID: Final = (PRIMARY_ENV, "IngressEndpointId")
SECONDARY_KEY: Final = (SECONDARY_ENV, "PersonalDataKeyArn")
# An output only once the primary's stack holds the replica buckets (active-active), so a secondary
# never points its replication at buckets that do not exist yet.
PRIMARY_REPLICA_KEY: Final = (PRIMARY_ENV, "ReplicaBucketsKeyArn")
PASSED_VALUES: Final = {
    ENDPOINT_ID: "GlobalEndpointId",
    SECONDARY_KEY: "ReplicaKmsKeyArn",
    PRIMARY_REPLICA_KEY: "ReplicaKmsKeyArn",
}
HEALTH_ALARM_OUTPUT: Final = "IngressHealthAlarmName"
TABLE_OUTPUTS: Final = ("SourcesTableName", "IdempotencyTableName")
# The per-Region table the sources global table replaces
# (docs/runbook.md#migrating-to-the-sources-global-table).
LEGACY_SOURCES_TABLE: Final = ("SourcesTable", "AWS::DynamoDB::Table")
GLOBAL_SOURCES_TABLE_PARAMETER: Final = "SourcesGlobalTableName"
WAIT_SECONDS: Final = 20 * 60
POLL_SECONDS: Final = 15

# An explicitly empty parameter value on sam's command line.
EMPTY_VALUE: Final = '""'

Outputs = Mapping[tuple[str, str], str]


class Kind(StrEnum):
    BUILD = "build"
    DEPLOY = "deploy"
    WAIT_ENDPOINT_HEALTHY = "wait-endpoint-healthy"
    WAIT_REPLICAS_ACTIVE = "wait-replicas-active"


class DeployError(Exception):
    """A step cannot run or did not succeed; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ConfigEnv:
    name: str
    region: str
    stack_name: str
    overrides: dict[str, str]


@dataclass(frozen=True, slots=True)
class Step:
    """One step: a ``sam deploy`` of a config-env with extra parameters, or a wait for a state."""

    name: str
    summary: str
    env: ConfigEnv
    kind: Kind
    # Parameter -> (config-env, output) read from a stack before the step runs.
    passed: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Passed only once the output exists (earlier steps of a first deployment run without it).
    passed_if_present: dict[str, tuple[str, str]] = field(default_factory=dict)

    def overrides(self, outputs: Outputs) -> dict[str, str]:
        """The config-env's overrides plus the passed values (placeholders where unknown)."""
        values = dict(self.env.overrides)
        for parameter, source in self.passed.items():
            values[parameter] = outputs.get(source, _placeholder(source))
        for parameter, source in self.passed_if_present.items():
            values[parameter] = outputs.get(source, values.get(parameter, ""))
        return values

    def command(self, outputs: Outputs) -> list[str]:
        if self.kind is Kind.BUILD:
            return ["sam", "build", "--config-env", self.env.name]
        if self.kind is not Kind.DEPLOY:
            return []
        pairs = [
            f"{name}={shlex.quote(value) if value else EMPTY_VALUE}"
            for name, value in self.overrides(outputs).items()
        ]
        return ["sam", "deploy", "--config-env", self.env.name, "--parameter-overrides", " ".join(pairs)]


def _placeholder(source: tuple[str, str]) -> str:
    return f"<{source[0]}:{source[1]}>"


def read_config_envs(samconfig: Path = SAMCONFIG) -> dict[str, ConfigEnv]:
    with samconfig.open("rb") as handle:
        config = tomllib.load(handle)
    envs = {}
    for name, section in config.items():
        if not isinstance(section, dict):
            continue
        deploy = section.get("deploy", {}).get("parameters", {})
        region = deploy.get("region") or section.get("global", {}).get("parameters", {}).get("region", "")
        raw = deploy.get("parameter_overrides", [])
        items = raw if isinstance(raw, list) else shlex.split(raw)
        overrides = dict(item.split("=", 1) for item in items)
        envs[name] = ConfigEnv(name, region, deploy.get("stack_name", ""), overrides)
    return envs


def replicates_its_buckets(env: ConfigEnv) -> bool:
    """Whether the secondary's stack replicates its own lake and DLQ store (to the primary): it
    processes (active-active) and BucketReplication is on. The primary's always does with it on."""
    return (
        env.overrides.get("ProcessingMode") == "active-active"
        and env.overrides.get("BucketReplication") == "enabled"
    )


# Parameters both config-envs must agree on (the template's default when unset): one stack cannot
# see the other's, so its Rules cannot refuse a mismatch.
SHARED_PARAMETERS: Final = {"ProcessingMode": "active-archive", "BucketReplication": "disabled"}


def mismatched_parameters(primary: ConfigEnv, secondary: ConfigEnv) -> list[str]:
    """``SHARED_PARAMETERS`` set differently in the two config-envs. An active-active primary beside
    an active-archive secondary leaves the secondary's events to no processing at all; the reverse
    processes them twice, and a secondary that replicates finds no replica buckets to write into."""
    return [
        f"{name}: {primary.name} {primary.overrides.get(name, default)}, "
        f"{secondary.name} {secondary.overrides.get(name, default)}"
        for name, default in SHARED_PARAMETERS.items()
        if primary.overrides.get(name, default) != secondary.overrides.get(name, default)
    ]


def plan(envs: Mapping[str, ConfigEnv] | None = None) -> list[Step]:
    """The ordered steps for the primary and secondary config-envs; ``DeployError`` before any step
    when they disagree on a parameter both must share."""
    envs = envs if envs is not None else read_config_envs()
    primary, secondary = envs[PRIMARY_ENV], envs[SECONDARY_ENV]
    mismatched = mismatched_parameters(primary, secondary)
    if mismatched:
        raise DeployError(
            f"set these the same in both config-envs of samconfig.toml: {'; '.join(mismatched)}"
        )
    endpoint = {"GlobalEndpointId": ENDPOINT_ID}
    key = {"ReplicaKmsKeyArn": SECONDARY_KEY}
    # Active-active: the secondary replicates into the primary's replica buckets with the primary's
    # key, which exist only once the primary's stack has run (a re-run keeps it from the start).
    primary_key = {"ReplicaKmsKeyArn": PRIMARY_REPLICA_KEY} if replicates_its_buckets(secondary) else {}
    if not primary_key:
        # sam deploy gives a parameter it is not passed its previous value: a secondary that no
        # longer replicates (switched back to active-archive, or BucketReplication disabled) would
        # keep the primary's key, and its Rules would refuse the deploy.
        key_value = secondary.overrides.get("ReplicaKmsKeyArn", "")
        secondary = replace(secondary, overrides={**secondary.overrides, "ReplicaKmsKeyArn": key_value})
    replicas = ", its lake and DLQ store replicate to the primary" if primary_key else ""
    return [
        Step("build", "sam build: functions and the arm64 layer, once for both Regions", primary, Kind.BUILD),
        Step(
            "secondary-edge",
            "edge: API, validator, ingress bus and its archive, key alias, replica buckets",
            secondary,
            Kind.DEPLOY,
            passed_if_present={**endpoint, **primary_key},
        ),
        Step(
            "primary",
            "edge, pipeline, global tables, health alarm and check, heartbeat, global endpoint"
            + (", replica buckets" if primary_key else ""),
            primary,
            Kind.DEPLOY,
            passed=key,
            passed_if_present=endpoint,
        ),
        Step(
            "endpoint",
            "wait until the endpoint's health alarm is OK (heartbeats flowing)",
            primary,
            Kind.WAIT_ENDPOINT_HEALTHY,
        ),
        Step(
            "secondary-validator",
            f"the validator publishes through the endpoint{replicas}",
            secondary,
            Kind.DEPLOY,
            passed={**endpoint, **primary_key},
        ),
        Step(
            "primary-validator",
            "the validator publishes through the endpoint",
            primary,
            Kind.DEPLOY,
            passed={**key, **endpoint},
        ),
        Step(
            "global-table-replicas",
            "wait until the global tables' replicas here are ACTIVE",
            secondary,
            Kind.WAIT_REPLICAS_ACTIVE,
        ),
    ]


def final_overrides(
    config_env: str, outputs: Outputs, envs: Mapping[str, ConfigEnv] | None = None
) -> dict[str, str]:
    """The parameters a config-env's stack has once ``run`` finished (samconfig alone for other envs)."""
    envs = envs if envs is not None else read_config_envs()
    deploys = [step for step in plan(envs) if step.kind is Kind.DEPLOY and step.env.name == config_env]
    return deploys[-1].overrides(outputs) if deploys else dict(envs[config_env].overrides)


def render_plan(steps: Sequence[Step], outputs: Outputs | None = None) -> str:
    """The plan as text: one block per step, each sam command with every parameter override.

    Without ``outputs`` the values passed between stacks show as ``<config-env:Output>``.
    """
    outputs = outputs or {}
    lines = []
    for number, step in enumerate(steps, start=1):
        lines.append(f"{number}. {step.name} ({step.env.region}): {step.summary}")
        if step.kind is Kind.DEPLOY:
            lines.append(f"   sam deploy --config-env {step.env.name} --parameter-overrides \\")
            lines += [
                f"     {name}={value or EMPTY_VALUE}" for name, value in step.overrides(outputs).items()
            ]
        elif step.kind is Kind.BUILD:
            lines.append(f"   {' '.join(step.command({}))}")
    lines += ["", "Values passed from one stack to the other (CloudFormation outputs, read between steps):"]
    for source, parameter in PASSED_VALUES.items():
        always = [step.name for step in steps if source in step.passed.values()]
        once = [step.name for step in steps if source in step.passed_if_present.values()]
        if not always and not once:
            continue
        lines.append(f"  {_placeholder(source)} -> {parameter}: {', '.join(always)}")
        if once:
            lines.append(
                f"    also {', '.join(once)} once it exists (a first deployment runs them without it)"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- running the plan
class Cloud(Protocol):
    """What ``run`` reads from AWS between steps (boto3 in production, a fake in tests)."""

    def outputs(self, env: ConfigEnv) -> dict[str, str] | None: ...
    def resource_type(self, env: ConfigEnv, logical_id: str) -> str | None: ...
    def alarm_state(self, env: ConfigEnv, alarm_name: str) -> str: ...
    def table_status(self, env: ConfigEnv, table_name: str) -> str | None: ...


class Boto3Cloud:
    """CloudFormation outputs, alarm states and table states through boto3."""

    def __init__(self) -> None:
        import boto3  # noqa: PLC0415 - only the real run needs it

        self._session = boto3.session.Session()

    def _client(self, service: str, env: ConfigEnv) -> Any:
        return self._session.client(service, region_name=env.region)  # type: ignore[call-overload]

    def outputs(self, env: ConfigEnv) -> dict[str, str] | None:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            (stack,) = self._client("cloudformation", env).describe_stacks(StackName=env.stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def resource_type(self, env: ConfigEnv, logical_id: str) -> str | None:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            detail = self._client("cloudformation", env).describe_stack_resource(
                StackName=env.stack_name, LogicalResourceId=logical_id
            )
        except ClientError:
            return None
        return str(detail["StackResourceDetail"]["ResourceType"])

    def alarm_state(self, env: ConfigEnv, alarm_name: str) -> str:
        alarms = self._client("cloudwatch", env).describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        return str(alarms[0]["StateValue"]) if alarms else "MISSING"

    def table_status(self, env: ConfigEnv, table_name: str) -> str | None:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            return str(
                self._client("dynamodb", env).describe_table(TableName=table_name)["Table"]["TableStatus"]
            )
        except ClientError:
            return None


@dataclass
class Runner:
    """Runs the plan step by step, one line per step, skipping what the journal says is done."""

    steps: list[Step]
    cloud: Cloud
    shell: Callable[[list[str]], int]
    journal: Path
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)

    def run(self, *, restart: bool = False) -> None:
        done = set() if restart else self._done()
        self._refuse_legacy_sources_table()
        for number, step in enumerate(self.steps, start=1):
            self._read_outputs()
            fingerprint = self._fingerprint(step)
            if fingerprint in done:
                self.say(f"{number}/{len(self.steps)} {step.name}: done earlier, skipped")
                continue
            started = self.clock()
            self._execute(step)
            self._record(done, fingerprint)
            self.say(f"{number}/{len(self.steps)} {step.name}: ok ({self.clock() - started:.0f} s)")

    def _execute(self, step: Step) -> None:
        if step.kind in (Kind.BUILD, Kind.DEPLOY):
            missing = [source for source in step.passed.values() if source not in self.outputs]
            if missing:
                raise DeployError(
                    f"{step.name}: no {', '.join(map(_placeholder, missing))}: run the earlier steps first"
                )
            if self.shell(step.command(self.outputs)) != 0:
                raise DeployError(
                    f"{step.name}: sam failed; fix the cause and run again (finished steps are skipped)"
                )
        elif step.kind is Kind.WAIT_ENDPOINT_HEALTHY:
            alarm = self._output(step.env, HEALTH_ALARM_OUTPUT)
            self._wait(step, lambda: self.cloud.alarm_state(step.env, alarm) == "OK", f"alarm {alarm} OK")
        elif step.kind is Kind.WAIT_REPLICAS_ACTIVE:
            # The tables the secondary's stack reads by name: the replicas the primary's stack creates.
            for output in TABLE_OUTPUTS:
                table = self.outputs.get((step.env.name, output))
                if table:
                    self._wait(step, self._table_active(step.env, table), f"{table} ACTIVE")

    def _table_active(self, env: ConfigEnv, table: str) -> Callable[[], bool]:
        return lambda: self.cloud.table_status(env, table) == "ACTIVE"

    def _wait(self, step: Step, ready: Callable[[], bool], what: str) -> None:
        deadline = self.clock() + WAIT_SECONDS
        while not ready():
            if self.clock() > deadline:
                raise DeployError(f"{step.name}: {what} not reached in {WAIT_SECONDS // 60} minutes")
            self.sleep(POLL_SECONDS)

    def _output(self, env: ConfigEnv, name: str) -> str:
        value = self.outputs.get((env.name, name))
        if not value:
            raise DeployError(f"stack {env.stack_name} ({env.region}) has no output {name}")
        return value

    def _read_outputs(self) -> None:
        self.outputs.update(read_outputs(self.steps, self.cloud))

    def _refuse_legacy_sources_table(self) -> None:
        """A stack with the per-Region sources table is deployed only once its config-env names the
        global table that replaces it (the migration's last step, after its keys were copied there):
        otherwise the deploy would retire the table and its keys with it."""
        for env in {step.env.name: step.env for step in self.steps}.values():
            if env.overrides.get(GLOBAL_SOURCES_TABLE_PARAMETER):
                continue
            if self.cloud.resource_type(env, LEGACY_SOURCES_TABLE[0]) == LEGACY_SOURCES_TABLE[1]:
                raise DeployError(
                    f"stack {env.stack_name} ({env.region}) still has the per-Region sources table: "
                    "deploying would leave its keys behind. Migrate first "
                    f"(its last step sets {GLOBAL_SOURCES_TABLE_PARAMETER} in both config-envs): "
                    "docs/runbook.md#migrating-to-the-sources-global-table"
                )

    def _fingerprint(self, step: Step) -> str:
        """A step is done when it ran with this config-env, these passed values and this template.

        Values passed only once they exist are left out: a first deployment's earlier steps ran
        without them, and re-running those steps just to add them is what the later steps do.
        """
        passed = {name: self.outputs.get(source, "") for name, source in step.passed.items()}
        material = json.dumps([step.name, step.env.overrides, passed, _template_digest()], sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def _done(self) -> set[str]:
        if not self.journal.is_file():
            return set()
        return set(json.loads(self.journal.read_text(encoding="utf-8")))

    def _record(self, done: set[str], fingerprint: str) -> None:
        done.add(fingerprint)
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.journal.write_text(json.dumps(sorted(done)), encoding="utf-8")


def read_outputs(steps: Sequence[Step], cloud: Cloud) -> dict[tuple[str, str], str]:
    """Every output of the plan's stacks that exist, keyed by (config-env, output)."""
    envs = {step.env.name: step.env for step in steps}.values()
    return {(env.name, key): value for env in envs for key, value in (cloud.outputs(env) or {}).items()}


def _template_digest() -> str:
    return hashlib.sha256((ROOT / "template.yaml").read_bytes()).hexdigest()


def _sam(argv: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "samcli", *argv[1:]], cwd=ROOT)  # noqa: S603 - our own sam


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan_command = commands.add_parser("plan", help="print every step, its sam deploy and the values passed")
    plan_command.add_argument(
        "--resolve",
        action="store_true",
        help="fill in the passed values from the deployed stacks (needs AWS)",
    )
    run = commands.add_parser("run", help="run the steps (a re-run skips finished steps)")
    run.add_argument("--restart", action="store_true", help="ignore the journal and run every step")
    args = parser.parse_args(argv)
    try:
        steps = plan()
        if args.command == "plan":
            print(render_plan(steps, read_outputs(steps, Boto3Cloud()) if args.resolve else None))
            return 0
        journal = JOURNAL_DIR / f"{steps[2].env.stack_name}.json"
        Runner(steps, Boto3Cloud(), _sam, journal).run(restart=args.restart)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
