"""docs/openapi.yaml for tests: the document, its references inlined, and the response contract.

``response_problems`` is what a contract fuzzer checks on each answer: the status is documented
for the operation, the body conforms to that status's schema, and every header sent is documented.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
import yaml

PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]
SPEC_PATH: Final = PROJECT_ROOT / "docs" / "openapi.yaml"
OPERATION: Final = ("paths", "/v1/events", "post")
# Headers any answer carries (HTTP framing), which the document does not list per status.
_FRAMING_HEADERS: Final = frozenset({"content-type", "content-length", "date", "connection", "server"})


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def operation() -> dict[str, Any]:
    node: dict[str, Any] = spec()
    for key in OPERATION:
        node = node[key]
    return node


def responses() -> dict[int, dict[str, Any]]:
    return {int(status): response for status, response in operation()["responses"].items()}


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = spec()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(node["$ref"])
    return node


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.1 schema as plain JSON Schema: references inlined, OpenAPI's annotations dropped."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(resolve(node["$ref"]))
    return {
        key: json_schema(value)
        for key, value in node.items()
        if key != "example" and not key.startswith("x-")
    }


@cache
def _response_validator(status: int) -> Any:
    media = deref(responses()[status])["content"]["application/json"]
    return jsonschema_rs.Draft202012Validator(json_schema(media["schema"]), validate_formats=True)


def response_problems(status: int, headers: dict[str, str], body: Any) -> list[str]:
    """What in an answer the document does not describe (empty: it conforms)."""
    documented = responses()
    if status not in documented:
        return [f"status {status} is not documented"]
    problems = [f"body: {error.message}" for error in _response_validator(status).iter_errors(body)]
    allowed = {name.lower() for name in deref(documented[status]).get("headers", {})} | _FRAMING_HEADERS
    problems += [
        f"header {name!r} is not documented for {status}" for name in headers if name.lower() not in allowed
    ]
    return problems
