"""Key rotation against moto: the signing key rotates while batches are signed and verified by
containers whose key caches refresh at different moments, and no batch is rejected; the partner's
key moves into the API destination's connection without a redeploy."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import events_backends

from enrichment.dependencies import batch_verifier
from enrichment.verification import BatchVerifier
from signal_platform import signing
from signal_platform.signal_batches import unsigned_bytes
from tests.conftest import REGION
from tools import keys

SECRET = "customer-signals/test/signing-key"
STEP = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets_client() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=SECRET, SecretString=keys.new_signing_key())
        yield client


def _batch(signer: signing.SigningKeyProvider, number: int) -> dict[str, Any]:
    detail: dict[str, Any] = {"batch_id": f"batch-{number}", "signals": [{"event_id": str(number)}]}
    detail["signature"] = signing.sign(signer.key(), unsigned_bytes(detail))
    return detail


def _run_rotation(
    clock: Clock,
    rotate: Callable[[float], None],
    verifier: Callable[[], BatchVerifier],
    *,
    until: float = 1_500.0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Four validators and four enrichment containers, warmed at staggered moments, each validator
    signing a batch every STEP seconds and every enrichment container checking it; ``rotate(t)``
    acts on the secret. Returns the batches and every verdict that was not valid."""
    signers: list[signing.SigningKeyProvider] = []
    verifiers: list[BatchVerifier] = []
    batches: list[dict[str, Any]] = []
    refused: list[str] = []
    for phase in (0.0, 75.0, 150.0, 225.0):
        clock.now = phase
        signer = signing.SigningKeyProvider(secret_arn=SECRET, clock=clock)
        signer.key()
        signers.append(signer)
        verifiers.append(verifier())
        verifiers[-1].check(_batch(signer, -1))  # warms its key cache at this moment
    clock.now = 300.0
    while clock.now < until:
        rotate(clock.now)
        for signer in signers:
            batch = _batch(signer, len(batches))
            batches.append(batch)
            refused += [
                f"{batch['batch_id']}@{clock.now}:{v}" for e in verifiers if (v := e.check(batch)) != "valid"
            ]
        clock.now += STEP
    return batches, refused


def test_signing_key_rotation_staged_then_promoted_rejects_no_batch(secrets_client: Any) -> None:
    # GIVEN validators and enrichment containers on the current key
    clock = Clock()
    started = datetime.now(UTC)

    def rotate(now: float) -> None:
        if now == 400.0:  # WHEN the new key is staged...
            keys.stage_signing_key(secrets_client, SECRET)
        if now == 800.0:  # ...and promoted once every verifier can hold it (the tool checks the wait)
            later = started + timedelta(seconds=now - 400.0 + 1)
            keys.promote_signing_key(secrets_client, SECRET, now=later)

    batches, refused = _run_rotation(clock, rotate, lambda: batch_verifier(SECRET, None, clock=clock))
    # THEN no batch was rejected by any container, before, during or after the rotation
    assert refused == []
    # AND the signers moved to the new key, and a batch signed with the old one still verifies later
    versions = keys.Versions.of(secrets_client.list_secret_version_ids(SecretId=SECRET)["Versions"])
    assert set(versions.by_stage) == {keys.CURRENT, keys.PREVIOUS}
    late = batch_verifier(SECRET, None, clock=clock)
    assert late.check(batches[0]) == "valid"
    assert late.check(batches[-1]) == "valid"


def test_signing_key_replaced_in_place_rejects_batches_in_flight(secrets_client: Any) -> None:
    # GIVEN the same containers, but the key replaced directly (put-secret-value makes it current at
    # once) and verifiers that know only the current key: what the staged rotation avoids
    clock = Clock()

    def rotate(now: float) -> None:
        if now == 400.0:
            secrets_client.put_secret_value(SecretId=SECRET, SecretString=keys.new_signing_key())

    def current_only() -> BatchVerifier:
        provider = signing.SigningKeyProvider(secret_arn=SECRET, clock=clock)
        return BatchVerifier(provider.key)

    _, refused = _run_rotation(clock, rotate, current_only)
    # THEN batches signed by containers on either side of the switch are rejected
    assert refused


def test_promote_before_verifiers_can_hold_the_key_is_refused(secrets_client: Any) -> None:
    keys.stage_signing_key(secrets_client, SECRET)
    with pytest.raises(keys.RotationError, match="wait"):
        keys.promote_signing_key(secrets_client, SECRET, now=datetime.now(UTC))
    with pytest.raises(keys.RotationError, match="already pending"):
        keys.stage_signing_key(secrets_client, SECRET)


def test_partner_key_rotation_updates_the_connection_from_the_secret() -> None:
    with mock_aws():
        # GIVEN the partner connection made by the stack from the partner secret
        secrets_client = boto3.client("secretsmanager", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        secrets_client.create_secret(Name="partner-key", SecretString=json.dumps({"api_key": "old-key"}))
        events.create_connection(
            Name="partner",
            AuthorizationType="API_KEY",
            AuthParameters=keys.partner_key_parameters(json.dumps({"api_key": "old-key"})),
        )
        # WHEN the secret gets the new key and the tool runs
        secrets_client.put_secret_value(
            SecretId="partner-key", SecretString=json.dumps({"api_key": "new-key"})
        )
        keys.rotate_partner_key(secrets_client, events, connection="partner", secret="partner-key")
        # THEN the connection holds the new key for the same header (DescribeConnection hides the
        # value, as AWS does: read moto's connection itself)
        shown = events.describe_connection(Name="partner")["AuthParameters"]["ApiKeyAuthParameters"]
        assert shown == {"ApiKeyName": "x-api-key"}
        held = events_backends[DEFAULT_ACCOUNT_ID][REGION].connections["partner"].auth_parameters
        assert held["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key", "ApiKeyValue": "new-key"}


@pytest.mark.parametrize("secret_string", ["not json", "{}", '{"api_key": ""}', '{"api_key": 5}', "[]"])
def test_partner_key_parameters_malformed_secret_is_refused(secret_string: str) -> None:
    with pytest.raises(keys.RotationError):
        keys.partner_key_parameters(secret_string)


def test_keys_cli_stages_and_reports_without_printing_a_key(
    secrets_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the signing secret / WHEN a key is staged and the status is asked for, then an early promote
    assert keys.main(["signing-stage", "--secret", SECRET]) == 0
    assert keys.main(["signing-status", "--secret", SECRET]) == 0
    assert keys.main(["signing-promote", "--secret", SECRET]) == 1
    out, err = capsys.readouterr()
    # THEN the status shows the pending version as not yet safe, the promote says to wait, no key shows
    assert "AWSPENDING: " in out
    assert "not yet" in out
    assert "wait" in err
    for stage in ("AWSCURRENT", "AWSPENDING"):
        value = secrets_client.get_secret_value(SecretId=SECRET, VersionStage=stage)["SecretString"]
        assert value not in out + err
