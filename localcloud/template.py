"""template.yaml as plain CloudFormation: decoded by cfn-lint, translated by the SAM translator.

Why translate instead of reading the SAM resources directly: the translator is what ``sam deploy``
runs, so Globals, ``Events`` (EventBridge rules with RetryPolicy and DeadLetterConfig, SQS and
Kinesis event source mappings, HTTP API routes), ``EventInvokeConfig`` and ``DeadLetterQueue`` come
out exactly as CloudFormation would receive them; the local cloud only has to understand plain
CloudFormation. Code locations survive the translation as ``s3://localcloud-code/<CodeUri>``, from
which each function's folder (its /var/task) and each layer's folder (/opt) are recovered.

Parameter values: the template's defaults, overridden by ``parameter_overrides`` of a samconfig.toml
config-env (``default`` unless chosen), overridden by explicit values (tests, CLI).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

CODE_BUCKET: Final = "localcloud-code"
DEFAULT_CONFIG_ENV: Final = "default"
ACCOUNT_ID: Final = "123456789012"
_FUNCTION_IN_INTEGRATION: Final = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")


class TemplateError(Exception):
    """The template (or samconfig) cannot be loaded or resolved; the message says where."""


DEFAULT_REGION: Final = "us-east-1"  # a config-env without a region, as the SAM CLI's default


@dataclass(frozen=True, slots=True)
class ConfigEnv:
    """One samconfig.toml config-env: what `sam deploy --config-env <name>` would use."""

    name: str
    region: str | None = None
    stack_name: str | None = None
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """An HTTP API route and the function behind it (payload format 2.0 or 1.0)."""

    method: str
    path: str
    function: str
    payload_format: str


@dataclass(frozen=True, slots=True)
class HttpCors:
    """An HTTP API's CorsConfiguration, as API Gateway applies it (preflight answers, CORS headers)."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins


@dataclass(frozen=True, slots=True)
class LoadedTemplate:
    path: Path
    sam: dict[str, Any]
    cfn: dict[str, Any]
    parameters: dict[str, Any]
    code_dirs: dict[str, Path]
    http_routes: tuple[HttpRoute, ...]
    http_cors: HttpCors | None = None

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.cfn.get("Resources", {})
        return resources


def parse_overrides(value: str | list[str] | None) -> dict[str, str]:
    """``parameter_overrides`` as samconfig writes it: a list of ``K=V`` or one shell-quoted string."""
    if not value:
        return {}
    items = value if isinstance(value, list) else shlex.split(value)
    overrides: dict[str, str] = {}
    for item in items:
        name, equals, setting = item.partition("=")
        if not equals or not name:
            raise TemplateError(f"parameter override {item!r} is not Name=Value")
        overrides[name] = setting
    return overrides


def read_config_env(samconfig: Path, env: str = DEFAULT_CONFIG_ENV) -> ConfigEnv:
    if not samconfig.is_file():
        return ConfigEnv(env)
    with samconfig.open("rb") as handle:
        config = tomllib.load(handle)
    if env not in config:
        raise TemplateError(f"{samconfig} has no config-env {env!r} (has: {', '.join(sorted(config))})")
    section = config[env]
    deploy = section.get("deploy", {}).get("parameters", {})
    region = deploy.get("region") or section.get("global", {}).get("parameters", {}).get("region")
    return ConfigEnv(
        name=env,
        region=region,
        stack_name=deploy.get("stack_name"),
        parameter_overrides=parse_overrides(deploy.get("parameter_overrides")),
    )


def decode(path: Path) -> dict[str, Any]:
    """The template as plain dicts and lists; cfn-lint's decoder understands the short-form tags."""
    from cfnlint.decode import decode as cfn_decode  # type: ignore[import-untyped]  # noqa: PLC0415

    template, problems = cfn_decode(str(path))
    if problems or template is None:
        details = "; ".join(str(problem) for problem in problems or [])
        raise TemplateError(f"cannot decode {path}: {details or 'empty template'}")
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Every parameter's value: override, else default; list types split on commas like CloudFormation."""
    declared: dict[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"overrides for parameters the template does not declare: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            values[name] = raw if isinstance(raw, list) else [part.strip() for part in str(raw).split(",")]
        else:
            values[name] = str(raw).lower() if isinstance(raw, bool) else str(raw)
        allowed = spec.get("AllowedValues")
        if allowed is not None and values[name] not in [str(item) for item in allowed]:
            raise TemplateError(f"parameter {name}={values[name]!r} is not one of {allowed}")
    return values


def translate(sam: dict[str, Any], parameters: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Plain CloudFormation from the SAM template, as `sam deploy` would submit it."""
    if "AWS::Serverless-2016-10-31" not in _transforms(sam):
        return copy.deepcopy(sam)
    import boto3  # noqa: PLC0415
    from samtranslator.metrics.metrics import Metrics  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]  # noqa: PLC0415

    prepared = copy.deepcopy(sam)
    for resource in prepared.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{CODE_BUCKET}/{properties[key]}"
    # The translator records its own usage metrics; publishing them (to its offline no-op publisher)
    # after each translation keeps it from warning about "unpublished metrics" when it is collected.
    metrics = Metrics()
    translator = Translator(
        None, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics
    )
    values = {**parameters, "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}
    try:
        translated: dict[str, Any] = translator.translate(
            prepared, parameter_values=values, get_managed_policy_map=dict
        )
    except Exception as exc:  # the translator raises its own hierarchy; keep its message
        raise TemplateError(f"the SAM translator refused the template: {exc}") from exc
    finally:
        metrics.publish()
    return translated


def _transforms(template: Mapping[str, Any]) -> list[str]:
    transform = template.get("Transform", [])
    return [transform] if isinstance(transform, str) else list(transform)


def _code_dirs(cfn: Mapping[str, Any], base: Path) -> dict[str, Path]:
    """Each function's and layer's folder, from the S3 location the translation left in place."""
    folders: dict[str, Path] = {}
    for logical_id, resource in cfn.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        location = properties.get("Code") or properties.get("Content")
        if isinstance(location, dict) and location.get("S3Bucket") == CODE_BUCKET:
            folders[logical_id] = (base / str(location["S3Key"])).resolve()
    return folders


def _http_routes(cfn: Mapping[str, Any]) -> tuple[HttpRoute, ...]:
    """Routes of every HTTP API the translation produced, from its OpenAPI body."""
    routes: list[HttpRoute] = []
    for resource in cfn.get("Resources", {}).values():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        paths = (resource.get("Properties", {}).get("Body") or {}).get("paths", {})
        for path, operations in paths.items():
            for method, operation in operations.items():
                integration = operation.get("x-amazon-apigateway-integration", {})
                uri = integration.get("uri", {})
                text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
                match = _FUNCTION_IN_INTEGRATION.search(text if isinstance(text, str) else text[0])
                if match:
                    routes.append(
                        HttpRoute(
                            method=method.upper(),
                            path=path,
                            function=match.group(1),
                            payload_format=str(integration.get("payloadFormatVersion", "2.0")),
                        )
                    )
    return tuple(routes)


def _http_cors(cfn: Mapping[str, Any]) -> HttpCors | None:
    """The CorsConfiguration of the (one) HTTP API, from the translation's ``x-amazon-apigateway-cors``."""
    for resource in cfn.get("Resources", {}).values():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        cors = (resource.get("Properties", {}).get("Body") or {}).get("x-amazon-apigateway-cors")
        if cors:
            return HttpCors(
                allow_origins=tuple(cors.get("allowOrigins", ())),
                allow_methods=tuple(method.upper() for method in cors.get("allowMethods", ())),
                allow_headers=tuple(header.lower() for header in cors.get("allowHeaders", ())),
                expose_headers=tuple(header.lower() for header in cors.get("exposeHeaders", ())),
                max_age=cors.get("maxAge"),
            )
    return None


def load(
    path: Path,
    *,
    config_env: str = DEFAULT_CONFIG_ENV,
    samconfig: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    region: str | None = None,
    sam: dict[str, Any] | None = None,
) -> tuple[LoadedTemplate, ConfigEnv]:
    """Decode (unless ``sam`` is the decoded template), resolve parameters and translate ``path``;
    samconfig.toml next to the template by default."""
    path = path.resolve()
    env = read_config_env(samconfig or path.parent / "samconfig.toml", config_env)
    sam = sam if sam is not None else decode(path)
    parameters = parameter_values(sam, {**env.parameter_overrides, **(overrides or {})})
    chosen_region = region or env.region or DEFAULT_REGION
    cfn = translate(sam, parameters, chosen_region)
    loaded = LoadedTemplate(
        path=path,
        sam=sam,
        cfn=cfn,
        parameters=parameters,
        code_dirs=_code_dirs(cfn, path.parent),
        http_routes=_http_routes(cfn),
        http_cors=_http_cors(cfn),
    )
    return loaded, ConfigEnv(env.name, chosen_region, env.stack_name, env.parameter_overrides)
