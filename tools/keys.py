"""Rotate the batch-signing key without rejecting a batch in flight, and the partner's API key
without a redeploy (docs/runbook.md#rotating-keys).

    python -m tools.keys signing-status  --secret customer-signals/prod/signing-key
    python -m tools.keys signing-stage   --secret customer-signals/prod/signing-key
    python -m tools.keys signing-promote --secret customer-signals/prod/signing-key
    python -m tools.keys partner-key     --connection CONNECTION_NAME --secret PARTNER_SECRET_NAME

Signing key, in the primary Region (the secondary's replica follows): ``signing-stage`` adds a new
random key as AWSPENDING, which every verifier (enrichment) accepts once its key cache refreshes
while every signer (validator) still signs with AWSCURRENT; ``signing-promote``, run at least
``VERIFIER_REFRESH_SECONDS`` later, makes it AWSCURRENT (the old key becomes AWSPREVIOUS, which
verifiers keep accepting for batches signed before, retried or redriven). At no moment does a
signer use a key that a verifier does not hold. No key is ever printed.

Partner key: put the new key into the partner secret (``{"api_key": ...}``), then ``partner-key``
writes it into the API destination's connection (``events:UpdateConnection``); the next calls to
the partner carry it. The stack's next deploy reads the same secret, so nothing drifts.
"""

from __future__ import annotations

import argparse
import json
import secrets
import string
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from signal_platform import aws_clients

CURRENT: Final = "AWSCURRENT"
PENDING: Final = "AWSPENDING"
PREVIOUS: Final = "AWSPREVIOUS"
# Enrichment re-reads each stage at least this often (its SigningKeyProvider TTL), plus a margin.
VERIFIER_REFRESH_SECONDS: Final = 300 + 60
KEY_LENGTH: Final = 64  # as the template's GenerateSecretString
PARTNER_KEY_HEADER: Final = "x-api-key"  # the template's PartnerConnection ApiKeyName


class RotationError(Exception):
    """The secret is not in a state where the asked step is safe."""


@dataclass(frozen=True, slots=True)
class Versions:
    """Version id per staging label (only the labels rotation uses) and when each was created."""

    by_stage: dict[str, str]
    created: dict[str, datetime]

    @classmethod
    def of(cls, listing: list[dict[str, Any]]) -> Versions:
        by_stage: dict[str, str] = {}
        created: dict[str, datetime] = {}
        for version in listing:
            for stage in version.get("VersionStages", []):
                if stage in (CURRENT, PENDING, PREVIOUS):
                    by_stage[stage] = version["VersionId"]
            created[version["VersionId"]] = version["CreatedDate"]
        return cls(by_stage, created)

    def pending_age(self, now: datetime) -> float | None:
        pending = self.by_stage.get(PENDING)
        return None if pending is None else (now - self.created[pending]).total_seconds()


def new_signing_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(KEY_LENGTH))


def _versions(client: Any, secret: str) -> Versions:
    listing = client.list_secret_version_ids(SecretId=secret, IncludeDeprecated=False)["Versions"]
    return Versions.of(listing)


def stage_signing_key(client: Any, secret: str) -> str:
    """A new key as AWSPENDING; returns its version id. Refused while another one is pending."""
    if PENDING in _versions(client, secret).by_stage:
        raise RotationError("a key is already pending: promote it (signing-promote) first")
    response = client.put_secret_value(
        SecretId=secret, SecretString=new_signing_key(), VersionStages=[PENDING]
    )
    return str(response["VersionId"])


def promote_signing_key(
    client: Any, secret: str, *, now: datetime, wait_seconds: float = VERIFIER_REFRESH_SECONDS
) -> str:
    """The pending key becomes AWSCURRENT (the old one AWSPREVIOUS), once verifiers hold it."""
    versions = _versions(client, secret)
    age = versions.pending_age(now)
    if age is None:
        raise RotationError("no key is pending: stage one first (signing-stage)")
    if age < wait_seconds:
        raise RotationError(
            f"the pending key was staged {age:.0f} s ago: wait {wait_seconds - age:.0f} s more, "
            "until every verifier has read it"
        )
    pending = versions.by_stage[PENDING]
    client.update_secret_version_stage(
        SecretId=secret,
        VersionStage=CURRENT,
        MoveToVersionId=pending,
        RemoveFromVersionId=versions.by_stage[CURRENT],
    )
    client.update_secret_version_stage(SecretId=secret, VersionStage=PENDING, RemoveFromVersionId=pending)
    return pending


def partner_key_parameters(secret_string: str) -> dict[str, Any]:
    """The connection's AuthParameters for the key in the partner secret's JSON (``api_key``)."""
    try:
        api_key = json.loads(secret_string)["api_key"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RotationError('the partner secret must be JSON with a non-empty "api_key"') from exc
    if not isinstance(api_key, str) or not api_key:
        raise RotationError('the partner secret must be JSON with a non-empty "api_key"')
    return {"ApiKeyAuthParameters": {"ApiKeyName": PARTNER_KEY_HEADER, "ApiKeyValue": api_key}}


def rotate_partner_key(secrets_client: Any, events_client: Any, *, connection: str, secret: str) -> str:
    """Writes the partner secret's current key into the connection; returns the connection's state."""
    value = secrets_client.get_secret_value(SecretId=secret)["SecretString"]
    response = events_client.update_connection(
        Name=connection, AuthorizationType="API_KEY", AuthParameters=partner_key_parameters(value)
    )
    return str(response.get("ConnectionState", ""))


def _status(client: Any, secret: str) -> str:
    versions = _versions(client, secret)
    age = versions.pending_age(datetime.now(UTC))
    lines = [f"{stage}: {versions.by_stage.get(stage, '-')}" for stage in (CURRENT, PENDING, PREVIOUS)]
    if age is not None:
        ready = "ready to promote" if age >= VERIFIER_REFRESH_SECONDS else "not yet: verifiers may lack it"
        lines.append(f"pending for {age:.0f} s: {ready}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.keys", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("signing-status", "the signing key's versions per stage"),
        ("signing-stage", "add a new signing key as AWSPENDING (verifiers accept it, signers do not use it)"),
        ("signing-promote", "make the pending key AWSCURRENT (the old one stays valid as AWSPREVIOUS)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--secret", required=True, help="the SigningKeySecretName output")
    partner = commands.add_parser(
        "partner-key", help="write the partner secret's api_key into the connection"
    )
    partner.add_argument("--connection", required=True, help="the PartnerConnectionName output")
    partner.add_argument("--secret", required=True, help="the PartnerApiKeySecretName parameter")
    args = parser.parse_args(argv)
    client = aws_clients.client("secretsmanager")
    try:
        if args.command == "signing-status":
            print(_status(client, args.secret))
        elif args.command == "signing-stage":
            version = stage_signing_key(client, args.secret)
            print(f"staged version {version} as {PENDING}; promote in {VERIFIER_REFRESH_SECONDS} s or later")
        elif args.command == "signing-promote":
            version = promote_signing_key(client, args.secret, now=datetime.now(UTC))
            print(f"version {version} is {CURRENT}; the previous key stays valid as {PREVIOUS}")
        else:
            events = aws_clients.client("events")
            state = rotate_partner_key(client, events, connection=args.connection, secret=args.secret)
            print(f"connection {args.connection} updated ({state})")
    except RotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
