"""tools.deploy: the two-Region plan (pinned) and the runner's order, value passing and resume logic,
against a fake CloudFormation/CloudWatch/DynamoDB and a fake sam (no AWS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from samcli.cli.types import CfnParameterOverridesType

from tools.deploy import (
    ConfigEnv,
    DeployError,
    Kind,
    Runner,
    Step,
    main,
    plan,
    read_config_envs,
    read_outputs,
    render_plan,
)

ENDPOINT_ID = "abcde.veo"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PRIMARY_KEY_ARN = "arn:aws:kms:us-west-2:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab"


@dataclass
class FakeCloud:
    """Stacks appear (with their outputs) when the fake sam deploys them."""

    stacks: dict[str, dict[str, str]] = field(default_factory=dict)
    legacy_table_in: set[str] = field(default_factory=set)
    alarm_states: list[str] = field(default_factory=lambda: ["OK"])
    table_states: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)  # each stack's, as deployed

    def outputs(self, env: ConfigEnv) -> dict[str, str] | None:
        return self.stacks.get(env.name)

    def resource_type(self, env: ConfigEnv, logical_id: str) -> str | None:
        return (
            "AWS::DynamoDB::Table"
            if env.name in self.legacy_table_in and logical_id == "SourcesTable"
            else None
        )

    def alarm_state(self, env: ConfigEnv, alarm_name: str) -> str:  # noqa: ARG002 - the Cloud protocol
        return self.alarm_states.pop(0) if len(self.alarm_states) > 1 else self.alarm_states[0]

    def table_status(self, env: ConfigEnv, table_name: str) -> str | None:  # noqa: ARG002 - the Cloud protocol
        return self.table_states.get(table_name, "ACTIVE")


@dataclass
class FakeSam:
    cloud: FakeCloud
    fail_on_call: int | None = None
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        if self.fail_on_call == len(self.calls):
            return 1
        if argv[1] == "deploy":
            env = argv[argv.index("--config-env") + 1]
            # sam deploy passes a parameter it is not given as UsePreviousValue on an existing stack
            pairs = argv[argv.index("--parameter-overrides") + 1] if "--parameter-overrides" in argv else ""
            passed = CfnParameterOverridesType().convert([pairs], None, None) if pairs else {}
            self.cloud.parameters[env] = {**self.cloud.parameters.get(env, {}), **passed}
            outputs = {"PersonalDataKeyArn": KEY_ARN, "SourcesTableName": "customer-signals-prod-sources"}
            if env == "primary":
                outputs |= {
                    "PersonalDataKeyArn": PRIMARY_KEY_ARN,
                    "IngressEndpointId": ENDPOINT_ID,
                    "IngressHealthAlarmName": "health",
                }
                if "ProcessingMode=active-active" in " ".join(argv):  # the primary holds replica buckets too
                    outputs["ReplicaBucketsKeyArn"] = PRIMARY_KEY_ARN
            self.cloud.stacks[env] = outputs
        return 0


def _active_active() -> dict[str, ConfigEnv]:
    """samconfig.toml's config-envs with both Regions processing."""
    return {
        name: ConfigEnv(
            env.name, env.region, env.stack_name, {**env.overrides, "ProcessingMode": "active-active"}
        )
        for name, env in read_config_envs().items()
    }


def _runner(
    tmp_path: Path, cloud: FakeCloud, sam: FakeSam, lines: list[str], steps: list[Step] | None = None
) -> Runner:
    ticks = iter(range(0, 10**6, 5))
    return Runner(
        steps if steps is not None else plan(),
        cloud,
        sam,
        tmp_path / "journal.json",
        say=lines.append,
        sleep=lambda _: None,
        clock=lambda: float(next(ticks)),
    )


def _deploys(sam: FakeSam) -> list[tuple[str, str]]:
    """(config-env, parameter overrides) of every sam deploy, in order."""
    return [(c[3], c[5]) for c in sam.calls if c[1] == "deploy"]


# -------------------- the plan


def test_plan_steps_in_the_order_two_regions_need():
    # GIVEN / WHEN the plan from samconfig.toml
    steps = plan()

    # THEN build, secondary edge, primary, endpoint gate, both validators, replicas: in that order
    assert [(s.name, s.kind, s.env.name) for s in steps] == [
        ("build", "build", "primary"),
        ("secondary-edge", "deploy", "secondary"),
        ("primary", "deploy", "primary"),
        ("endpoint", "wait-endpoint-healthy", "primary"),
        ("secondary-validator", "deploy", "secondary"),
        ("primary-validator", "deploy", "primary"),
        ("global-table-replicas", "wait-replicas-active", "secondary"),
    ]
    # AND the values passed between stacks: the secondary's key to the primary, the endpoint id to both
    passed = {s.name: (s.passed, s.passed_if_present) for s in steps}
    assert passed["primary"] == (
        {"ReplicaKmsKeyArn": ("secondary", "PersonalDataKeyArn")},
        {"GlobalEndpointId": ("primary", "IngressEndpointId")},
    )
    assert passed["secondary-validator"][0] == {"GlobalEndpointId": ("primary", "IngressEndpointId")}
    assert passed["primary-validator"][0] == {
        "ReplicaKmsKeyArn": ("secondary", "PersonalDataKeyArn"),
        "GlobalEndpointId": ("primary", "IngressEndpointId"),
    }
    # AND the active-archive secondary replicates nothing: no key of the primary's is passed to it
    assert all(
        "ReplicaKmsKeyArn" not in {**s.passed, **s.passed_if_present}
        for s in steps
        if s.env.name == "secondary"
    )


def test_plan_active_active_secondary_gets_the_primarys_replica_key_after_the_primary_ran():
    # GIVEN both config-envs active-active with BucketReplication
    steps = plan(_active_active())

    # WHEN / THEN the same order, the primary's replica-bucket key passed to the secondary's second
    # deploy (after the primary created those buckets) and kept by a re-run of its first
    assert [s.name for s in steps] == [s.name for s in plan()]
    passed = {s.name: (s.passed, s.passed_if_present) for s in steps}
    replica_key = ("primary", "ReplicaBucketsKeyArn")
    assert passed["secondary-validator"][0]["ReplicaKmsKeyArn"] == replica_key
    assert passed["secondary-edge"][1]["ReplicaKmsKeyArn"] == replica_key
    assert [s.name for s in steps].index("primary") < [s.name for s in steps].index("secondary-validator")
    # AND the printed plan says so
    text = render_plan(steps)
    assert "ReplicaKmsKeyArn=<primary:ReplicaBucketsKeyArn>" in text
    assert "<primary:ReplicaBucketsKeyArn> -> ReplicaKmsKeyArn: secondary-validator" in text
    assert "<primary:ReplicaBucketsKeyArn>" not in render_plan(plan())


def test_run_active_active_first_deployment_secondary_replicates_from_its_second_deploy(tmp_path):
    # GIVEN no stack yet and both config-envs active-active
    cloud, lines = FakeCloud(), []
    sam = FakeSam(cloud)

    # WHEN the plan runs
    _runner(tmp_path, cloud, sam, lines, plan(_active_active())).run()

    # THEN the secondary's first deploy had no key (the primary's buckets did not exist yet), its
    # second got the primary's replica-bucket key; the primary got the secondary's key
    deploys = _deploys(sam)
    assert [env for env, _ in deploys] == ["secondary", "primary", "secondary", "primary"]
    assert 'ReplicaKmsKeyArn=""' in deploys[0][1]
    assert f"ReplicaKmsKeyArn={KEY_ARN}" in deploys[1][1]
    assert f"ReplicaKmsKeyArn={PRIMARY_KEY_ARN}" in deploys[2][1]
    # AND a restarted run keeps the secondary replicating from its first deploy on
    restarted = FakeSam(cloud)
    _runner(tmp_path, cloud, restarted, [], plan(_active_active())).run(restart=True)
    assert f"ReplicaKmsKeyArn={PRIMARY_KEY_ARN}" in _deploys(restarted)[0][1]


def test_run_switching_back_to_active_archive_leaves_the_secondary_without_the_primarys_key(tmp_path):
    # GIVEN both Regions deployed active-active, the secondary replicating with the primary's key
    cloud = FakeCloud()
    _runner(tmp_path, cloud, FakeSam(cloud), [], plan(_active_active())).run()
    assert cloud.parameters["secondary"]["ReplicaKmsKeyArn"] == PRIMARY_KEY_ARN

    # WHEN both config-envs are switched back to active-archive and make deploy runs
    _runner(tmp_path, cloud, FakeSam(cloud), [], plan()).run()

    # THEN the secondary's stack no longer holds that key (sam deploy would have kept it, and the
    # Rules refuse a key in a secondary that does not process: SecondaryReplicatesOnlyWhatItProcesses)
    assert cloud.parameters["secondary"]["ProcessingMode"] == "active-archive"
    assert cloud.parameters["secondary"]["ReplicaKmsKeyArn"] == ""


@pytest.mark.parametrize("switched", ["primary", "secondary"])
def test_plan_refuses_a_processing_mode_set_in_one_config_env_only(switched):
    # GIVEN one config-env switched to active-active, the other not (an active-active primary would
    # leave the secondary's events to no processing; an active-active secondary would have them
    # processed twice and replicate into replica buckets the primary never creates)
    envs = read_config_envs()
    envs[switched] = _active_active()[switched]

    # WHEN / THEN the plan refuses before any step, naming the parameter and both values
    modes = {"primary": "active-archive", "secondary": "active-archive", switched: "active-active"}
    with pytest.raises(
        DeployError, match=f"ProcessingMode: primary {modes['primary']}, secondary {modes['secondary']}"
    ):
        plan(envs)
    # AND BucketReplication set in one config-env only is refused the same way
    envs = read_config_envs()
    envs["primary"] = ConfigEnv(
        "primary",
        envs["primary"].region,
        envs["primary"].stack_name,
        {**envs["primary"].overrides, "BucketReplication": "disabled"},
    )
    with pytest.raises(DeployError, match="BucketReplication: primary disabled, secondary enabled"):
        plan(envs)


def test_plan_printed_without_aws_every_override_and_every_passed_value(capsys):
    # GIVEN the config-envs, WHEN the plan is printed
    envs = read_config_envs()
    assert main(["plan"]) == 0
    text = capsys.readouterr().out

    # THEN every sam deploy shows every override of its config-env, and the passed values by name
    assert text == render_plan(plan()) + "\n"
    for env in ("primary", "secondary"):
        assert f"sam deploy --config-env {env} --parameter-overrides" in text
        for name, value in envs[env].overrides.items():
            assert f"     {name}={value}" in text
    assert "GlobalEndpointId=<primary:IngressEndpointId>" in text
    assert "ReplicaKmsKeyArn=<secondary:PersonalDataKeyArn>" in text
    assert "<primary:IngressEndpointId> -> GlobalEndpointId: secondary-validator, primary-validator" in text


def test_plan_empty_values_quoted_so_sam_sees_an_empty_parameter():
    # GIVEN the first deploy of the secondary, before the endpoint exists
    step = plan()[1]

    # WHEN its command is built without outputs
    command = step.command({})

    # THEN the endpoint id is passed explicitly empty
    assert command[:5] == ["sam", "deploy", "--config-env", "secondary", "--parameter-overrides"]
    assert command[5].endswith('GlobalEndpointId=""')


# -------------------- running it


def test_run_first_deployment_passes_outputs_between_stacks(tmp_path):
    # GIVEN no stack yet
    cloud, lines = FakeCloud(), []
    sam = FakeSam(cloud)

    # WHEN the plan runs
    _runner(tmp_path, cloud, sam, lines).run()

    # THEN one line per step, and the validators got the endpoint id the primary's stack reported
    assert [line.split(":")[0] for line in lines] == [f"{n}/7 {s.name}" for n, s in enumerate(plan(), 1)]
    deploys = _deploys(sam)
    assert [env for env, _ in deploys] == ["secondary", "primary", "secondary", "primary"]
    assert 'GlobalEndpointId=""' in deploys[0][1]
    assert f"ReplicaKmsKeyArn={KEY_ARN}" in deploys[1][1]
    assert f"GlobalEndpointId={ENDPOINT_ID}" in deploys[2][1]
    assert (
        f"GlobalEndpointId={ENDPOINT_ID}" in deploys[3][1] and f"ReplicaKmsKeyArn={KEY_ARN}" in deploys[3][1]
    )


def test_run_resumes_after_a_failed_step_and_skips_finished_ones(tmp_path):
    # GIVEN a run whose sam fails at the secondary validator (the 4th sam call)
    cloud = FakeCloud()
    first = FakeSam(cloud, fail_on_call=4)
    with pytest.raises(DeployError, match="secondary-validator"):
        _runner(tmp_path, cloud, first, []).run()

    # WHEN it runs again
    lines: list[str] = []
    second = FakeSam(cloud)
    _runner(tmp_path, cloud, second, lines).run()

    # THEN the finished steps are skipped and the rest runs, the failed step first
    assert [line.endswith("skipped") for line in lines] == [True, True, True, True, False, False, False]
    assert [env for env, _ in _deploys(second)] == ["secondary", "primary"]


def test_run_again_after_success_changes_nothing_unless_restarted(tmp_path):
    # GIVEN a finished deployment
    cloud = FakeCloud()
    _runner(tmp_path, cloud, FakeSam(cloud), []).run()

    # WHEN it runs again, and once more with --restart
    again, restarted = FakeSam(cloud), FakeSam(cloud)
    _runner(tmp_path, cloud, again, []).run()
    _runner(tmp_path, cloud, restarted, []).run(restart=True)

    # THEN the second run calls nothing; a restart redeploys with the same, converged parameters
    assert again.calls == []
    deploys = _deploys(restarted)
    assert all(f"GlobalEndpointId={ENDPOINT_ID}" in overrides for _, overrides in deploys)


def test_run_waits_for_the_health_alarm_before_switching_validators(tmp_path):
    # GIVEN a health alarm that needs three polls to become OK (heartbeats start flowing)
    cloud = FakeCloud(alarm_states=["INSUFFICIENT_DATA", "ALARM", "OK"])
    sam = FakeSam(cloud)

    # WHEN the plan runs
    _runner(tmp_path, cloud, sam, []).run()

    # THEN the validators were switched only after the alarm was OK (all states consumed first)
    assert cloud.alarm_states == ["OK"]
    assert len(_deploys(sam)) == 4


def test_run_gives_up_when_a_replica_never_becomes_active(tmp_path):
    # GIVEN a replica stuck in CREATING
    cloud = FakeCloud(table_states={"customer-signals-prod-sources": "CREATING"})

    # WHEN / THEN the last step fails with the table named, after the validators are done
    with pytest.raises(DeployError, match="customer-signals-prod-sources ACTIVE"):
        _runner(tmp_path, cloud, FakeSam(cloud), []).run()


def test_run_refuses_a_stack_with_the_per_region_sources_table(tmp_path):
    # GIVEN a primary stack that still holds the old AWS::DynamoDB::Table sources table
    cloud = FakeCloud(legacy_table_in={"primary"})
    sam = FakeSam(cloud)

    # WHEN / THEN nothing is deployed: the keys would be left behind; the runbook's migration first
    with pytest.raises(DeployError, match="migrating-to-the-sources-global-table"):
        _runner(tmp_path, cloud, sam, []).run()
    assert sam.calls == []


def test_run_deploys_a_secondary_with_the_per_region_table_once_both_name_the_global_table(tmp_path):
    # GIVEN the migration's last step: the secondary still holds its old table, and both
    # config-envs name the global table its keys were copied into
    cloud = FakeCloud(legacy_table_in={"secondary"})
    sam = FakeSam(cloud)
    envs = {
        name: ConfigEnv(
            env.name, env.region, env.stack_name, {**env.overrides, "SourcesGlobalTableName": "sources-t"}
        )
        for name, env in read_config_envs().items()
    }

    # WHEN the deployment runs
    _runner(tmp_path, cloud, sam, [], plan(envs)).run()

    # THEN every stack is deployed (the old table leaves the secondary's stack, retained)
    assert len(_deploys(sam)) == 4


def test_run_refuses_the_secondary_with_the_per_region_table_while_its_env_names_none(tmp_path):
    # GIVEN only the primary's config-env names the global table
    cloud = FakeCloud(legacy_table_in={"secondary"})
    sam = FakeSam(cloud)
    envs = read_config_envs()
    primary = envs["primary"]
    envs["primary"] = ConfigEnv(
        primary.name,
        primary.region,
        primary.stack_name,
        {**primary.overrides, "SourcesGlobalTableName": "sources-t"},
    )

    # WHEN / THEN nothing is deployed, and the refusal says what the last step sets
    with pytest.raises(DeployError, match=r"customer-signals-prod .*SourcesGlobalTableName in both"):
        _runner(tmp_path, cloud, sam, [], plan(envs)).run()
    assert sam.calls == []


def test_run_step_needing_a_value_no_stack_has_fails_clearly(tmp_path):
    # GIVEN only the primary step (its secondary key comes from a stack that does not exist)
    cloud = FakeCloud()
    primary_step: Step = plan()[2]
    runner = Runner([primary_step], cloud, FakeSam(cloud), tmp_path / "j.json", say=lambda _: None)

    # WHEN / THEN it names the missing output
    with pytest.raises(DeployError, match="<secondary:PersonalDataKeyArn>"):
        runner.run()


def test_plan_overrides_read_back_by_sam_clis_own_parser_exactly():
    # GIVEN every deploy step with its passed values known
    outputs = {("primary", "IngressEndpointId"): ENDPOINT_ID, ("secondary", "PersonalDataKeyArn"): KEY_ARN}
    for step in plan():
        if step.kind is not Kind.DEPLOY:
            continue
        # WHEN SAM CLI parses the --parameter-overrides value the runner passes
        parsed = CfnParameterOverridesType().convert([step.command(outputs)[5]], None, None)

        # THEN it gets exactly the step's parameters, empty ones included
        assert parsed == step.overrides(outputs), step.name


def test_plan_resolved_shows_the_deployed_stacks_values_for_single_stack_commands():
    # GIVEN both stacks deployed (their outputs)
    cloud = FakeCloud()
    FakeSam(cloud)(["sam", "deploy", "--config-env", "secondary"])
    FakeSam(cloud)(["sam", "deploy", "--config-env", "primary"])

    # WHEN the plan is rendered with the outputs read from them
    text = render_plan(plan(), read_outputs(plan(), cloud))

    # THEN every deploy carries the real values, no placeholder is left
    assert "<primary:" not in text.split("Values passed")[0]
    assert "<secondary:" not in text.split("Values passed")[0]
    assert text.count(f"GlobalEndpointId={ENDPOINT_ID}") == 4
    assert text.count(f"ReplicaKmsKeyArn={KEY_ARN}") == 2
