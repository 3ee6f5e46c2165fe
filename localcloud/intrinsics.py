"""CloudFormation intrinsic functions and conditions, resolved against a stack being provisioned.

Supported: Ref (parameters, pseudo parameters, resources), Fn::GetAtt (list and dotted forms),
Fn::Sub (string and [string, variables] forms, ``${!Literal}``), Fn::Join, Fn::Select, Fn::Split,
Fn::If with AWS::NoValue, Fn::Equals / Not / And / Or / Condition, Fn::FindInMap, Fn::Base64,
Fn::GetAZs, Fn::ToJsonString and Fn::Length (language extensions). Fn::ImportValue and anything
else raise ``TemplateError`` naming the function: a wrong guess must fail loudly, never silently.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from localcloud.template import TemplateError

NO_VALUE: Final = object()
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS: Final = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})

# A resource's Ref value and its attributes, looked up by logical id once it is provisioned.
AttributeLookup = Callable[[str, str | None], Any]


def pseudo_parameters(region: str, account_id: str, stack_name: str) -> dict[str, str]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/localcloud",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": "",
    }


class Intrinsics:
    """Resolves values of one template; ``lookup(logical_id, attribute or None)`` gives resource values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, str],
        lookup: AttributeLookup,
    ) -> None:
        self._conditions: Mapping[str, Any] = template.get("Conditions", {})
        self._mappings: Mapping[str, Any] = template.get("Mappings", {})
        self._parameters = parameters
        self._pseudo = pseudo
        self._lookup = lookup
        self._condition_values: dict[str, bool] = {}

    # ---------------------------------------------------------------- conditions
    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_values[name] = self._truth(self._conditions[name])
        return self._condition_values[name]

    def condition_value(self, node: Any) -> bool:
        """A condition expression given inline (template ``Rules`` use them)."""
        return self._truth(node)

    def _truth(self, node: Any) -> bool:
        if isinstance(node, bool):
            return node
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return bool(_comparable(left) == _comparable(right))
            if function == "Fn::Not":
                return not self._truth(argument[0])
            if function == "Fn::And":
                return all(self._truth(item) for item in argument)
            if function == "Fn::Or":
                return any(self._truth(item) for item in argument)
        raise TemplateError(f"not a condition: {json.dumps(node)[:200]}")

    # ---------------------------------------------------------------- values
    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic replaced; AWS::NoValue entries are dropped."""
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or (key == "Condition" and _looks_like_fn(argument)):
                return self._function(key, argument)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per function
        if name == "Ref":
            return self.ref(self.resolve(argument))
        if name == "Fn::GetAtt":
            logical_id, attribute = _split_getatt(self.resolve(argument))
            return self._lookup(logical_id, attribute)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(_text(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = self.resolve(argument)
            return str(text).split(str(delimiter))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name in _CONDITION_FUNCTIONS:
            return self._truth({name: argument})
        if name == "Fn::FindInMap":
            mapping, top, second = (self.resolve(item) for item in argument[:3])
            try:
                return self._mappings[mapping][top][second]
            except KeyError as exc:
                raise TemplateError(f"Fn::FindInMap {mapping}/{top}/{second}: no such entry") from exc
        if name == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(argument)).encode()).decode()
        if name == "Fn::GetAZs":
            region = self.resolve(argument) or self._pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if name == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if name == "Fn::Length":
            return len(self.resolve(argument))
        raise TemplateError(f"{name} is not supported by the local cloud")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        return self._lookup(name, None)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {key: self.resolve(value) for key, value in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return _text(self._lookup(logical_id, attribute))
            return _text(self.ref(name))

        return _SUB_VARIABLE.sub(replace, str(text))


def _looks_like_fn(argument: Any) -> bool:
    return isinstance(argument, str)


def _split_getatt(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    return str(argument[0]), str(argument[1])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _comparable(value: Any) -> Any:
    return _text(value) if isinstance(value, bool | int | float) else value


def references(node: Any) -> Iterator[str]:
    """Logical ids (and parameter names) ``node`` refers to: Ref, GetAtt and Fn::Sub variables."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield _split_getatt(value)[0]
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                for name in _SUB_VARIABLE.findall(str(text)):
                    if not name.startswith("!") and name not in variables:
                        yield name.partition(".")[0]
                yield from references(variables)
            else:
                yield from references(value)
