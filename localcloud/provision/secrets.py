"""Secrets Manager secrets, KMS keys and aliases, SSM parameters."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def secret(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or f"{logical_id}-{p.names.suffix(logical_id)}"
    generate = props.get("GenerateSecretString")
    if "SecretString" in props:
        value = str(props["SecretString"])
    elif generate is not None:
        value = random_string(p.rng, generate)
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = value
            value = json.dumps(document)
    else:
        value = random_string(p.rng, {})
    request: dict[str, Any] = {"Name": name, "SecretString": value}
    if "Description" in props:
        request["Description"] = props["Description"]
    arn = p.client("secretsmanager").create_secret(**request)["ARN"]
    return Resource(logical_id, "AWS::SecretsManager::Secret", props, arn, {"Id": arn, "Arn": arn})


def random_string(rng: random.Random, spec: Mapping[str, Any]) -> str:
    """A GenerateSecretString value: seeded, so a local run is reproducible."""
    alphabet = ""
    if not spec.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not spec.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not spec.get("ExcludeNumbers"):
        alphabet += string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if spec.get("IncludeSpace"):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(char for char in alphabet if char not in excluded)
    length = int(spec.get("PasswordLength", 32))
    return "".join(rng.choice(alphabet) for _ in range(length))


def kms_key(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    request: dict[str, Any] = {}
    for key in ("Description", "KeyUsage", "KeySpec"):
        if key in props:
            request[key] = props[key]
    metadata = p.client("kms").create_key(**request)["KeyMetadata"]
    return Resource(
        logical_id,
        "AWS::KMS::Key",
        props,
        metadata["KeyId"],
        {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]},
    )


def kms_alias(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    p.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Resource(logical_id, "AWS::KMS::Alias", props, props["AliasName"])


def ssm_parameter(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or f"/{p.names.name(logical_id)}"
    p.client("ssm").put_parameter(Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"))
    return Resource(
        logical_id,
        "AWS::SSM::Parameter",
        props,
        name,
        {"Type": props.get("Type", "String"), "Value": props["Value"]},
    )
