"""What provisioning produces: each resource with its resolved properties, Ref value and attributes
(``Resource``), and the ``Stack`` of them that the emulators, the runtime and the accounting read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localcloud.template import TemplateError


@dataclass(slots=True)
class Resource:
    """One provisioned resource: resolved properties, its Ref value and its GetAtt attributes."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return str(self.attributes.get("Arn", self.ref))


@dataclass(slots=True)
class Stack:
    region: str
    account_id: str
    stack_name: str
    resources: dict[str, Resource] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    no_local_effect: list[str] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)

    def of_type(self, resource_type: str) -> list[Resource]:
        return [resource for resource in self.resources.values() if resource.type == resource_type]

    def by_arn(self, arn: str) -> Resource | None:
        for resource in self.resources.values():
            if arn in (resource.attributes.get("Arn"), resource.ref):
                return resource
        return None

    def get(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError as exc:
            reason = self.skipped.get(logical_id, "not in the template")
            raise TemplateError(f"resource {logical_id} is not provisioned ({reason})") from exc

    def value(self, logical_id: str, attribute: str | None) -> Any:
        resource = self.get(logical_id)
        if attribute is None:
            return resource.ref
        if attribute not in resource.attributes:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: {resource.type} offers "
                f"{', '.join(sorted(resource.attributes)) or 'no attributes'} locally"
            )
        return resource.attributes[attribute]
