"""The versioned event schema registry.

Layout (draft-07 JSON Schema files, shipped inside this package and linked at the repo's top level):

- ``schemas/contracts/<name>/<MODEL-REVISION-ADDITION>.json``: platform contracts (the client
  envelope, the signal batch on the buses);
- ``schemas/events/<event_type>/<MODEL-REVISION-ADDITION>.json``: the ``data`` of each event type.

Validators are compiled lazily, once per container, per (event type, version): the envelope with
that type's ``data`` schema inlined, so the common path is one ``is_valid`` call per event.
The full error list is produced only for events that fail it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path
from typing import Any, Final

import jsonschema_rs

from signal_platform import codec

SCHEMA_ROOT: Final = Path(__file__).parent / "schemas"
ENVELOPE_VERSION: Final = "1-0-0"
# What a registry's validators check of an event type: its event schema, changed (``with_schemas``).
SchemaTransform = Callable[[dict[str, Any]], dict[str, Any]]
# Schema errors listed per event, and the characters of each message (they quote the failing value).
MAX_LISTED_ERRORS: Final = 20
MAX_MESSAGE_CHARS: Final = 300
_SCHEMAVER = re.compile(r"^([1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)\Z")  # ASCII, no trailing "\n"


@total_ordering
@dataclass(frozen=True, slots=True)
class SchemaVer:
    """``MODEL-REVISION-ADDITION``: MODEL breaks all history, REVISION some, ADDITION none."""

    model: int
    revision: int
    addition: int

    @classmethod
    def parse(cls, text: str) -> SchemaVer:
        match = _SCHEMAVER.match(text)
        if match is None:
            raise ValueError(f"not a SchemaVer MODEL-REVISION-ADDITION: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.model}-{self.revision}-{self.addition}"

    def __lt__(self, other: SchemaVer) -> bool:
        return (self.model, self.revision, self.addition) < (other.model, other.revision, other.addition)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an event was refused: where (a JSON path) and why."""

    code: str
    path: str
    message: str


def json_path(parts: list[str | int]) -> str:
    """``$.data.items[0]``: where a value is, from the keys and indexes that lead to it."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def load_schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = codec.loads(path.read_bytes())
    return schema


class SchemaRegistry:
    """Event types and versions found under ``root``, with validators compiled on first use."""

    def __init__(self, root: Path = SCHEMA_ROOT) -> None:
        self._root = root
        self._envelope = load_schema(root / "contracts" / "envelope" / f"{ENVELOPE_VERSION}.json")
        self._versions: dict[str, frozenset[str]] = {
            type_dir.name: frozenset(p.stem for p in type_dir.glob("*.json"))
            for type_dir in sorted((root / "events").iterdir())
            if type_dir.is_dir()
        }
        self._validators: dict[tuple[str, str], Any] = {}
        self._transform: SchemaTransform | None = None

    @property
    def event_types(self) -> dict[str, frozenset[str]]:
        return dict(self._versions)

    def has_type(self, event_type: str) -> bool:
        return event_type in self._versions

    def has_version(self, event_type: str, version: str) -> bool:
        return version in self._versions.get(event_type, ())

    def data_schema(self, event_type: str, version: str) -> dict[str, Any]:
        return load_schema(self._root / "events" / event_type / f"{version}.json")

    def contract(self, name: str, version: str) -> dict[str, Any]:
        return load_schema(self._root / "contracts" / name / f"{version}.json")

    def validator(self, event_type: str, version: str) -> Any:
        """The compiled validator of a whole client event of this type and version."""
        key = (event_type, version)
        compiled = self._validators.get(key)
        if compiled is None:
            compiled = self._compile(event_type, version)
            self._validators[key] = compiled
        return compiled

    def event_schema(self, event_type: str, version: str) -> dict[str, Any]:
        """The whole client event of this type and version: the envelope with ``event_type`` and
        ``schema_version`` fixed and the type's ``data`` schema inlined (what the validator checks,
        and what docs/openapi.yaml publishes)."""
        data_schema = {
            key: value
            for key, value in self.data_schema(event_type, version).items()
            if key not in ("$schema", "$id", "examples")
        }
        schema = {key: value for key, value in self._envelope.items() if key not in ("$id", "examples")}
        schema["properties"] = {
            **self._envelope["properties"],
            "event_type": {**self._envelope["properties"]["event_type"], "const": event_type},
            "schema_version": {**self._envelope["properties"]["schema_version"], "const": version},
            "data": data_schema,
        }
        return schema

    def with_schemas(self, transform: SchemaTransform) -> SchemaRegistry:
        """The same types and versions, whose validators check ``transform`` of each event schema
        (e.g. less what the producer of the events guarantees by construction); ``event_schema``
        stays the published one."""
        changed = copy.copy(self)
        changed._validators, changed._transform = {}, transform
        return changed

    def _compile(self, event_type: str, version: str) -> Any:
        schema = self.event_schema(event_type, version)
        if self._transform is not None:
            schema = self._transform(schema)
        return _compiled(schema)

    def is_valid(self, event: dict[str, Any]) -> bool:
        """Fast path: only for events whose type and version are known (see ``has_version``)."""
        return bool(self.validator(event["event_type"], event["schema_version"]).is_valid(event))

    def errors(self, event: dict[str, Any]) -> list[FieldError]:
        """The schema errors of a known-type event, as JSON path + message: every one, unless the
        event fails more than ``MAX_LISTED_ERRORS`` checks; then the first, and how many there are.

        ``iter_errors`` builds all its errors up front, at ~15 µs each with messages quoting the
        failing value: a 2 KB gzip body of one array of 500,000 wrong items cost 10 s and a 50 MB
        answer. ``evaluate`` counts them at about a tenth of that, and ``validate`` stops at the first."""
        validator = self.validator(event["event_type"], event["schema_version"])
        failed = len(validator.evaluate(event).errors())
        if failed <= MAX_LISTED_ERRORS:
            return [_field_error(error) for error in validator.iter_errors(event)]
        more = FieldError(
            "too_many_errors", "$", f"the event fails {failed} schema checks: only the first is listed"
        )
        try:
            validator.validate(event)
        except jsonschema_rs.ValidationError as first:
            return [_field_error(first), more]
        return [more]  # not reached: evaluate found failures, so validate raises


def _compiled(schema: dict[str, Any]) -> Any:
    """A validator that checks formats, as every schema of the registry is checked."""
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True, offline=True)


_DATE_TIME: Final = _compiled({"type": "string", "format": "date-time"})


def is_date_time(value: Any) -> bool:
    """Whether ``value`` is a ``date-time`` as the registry's schemas check an event's times (RFC
    3339; a leap second only as 23:59:60 UTC): the rule for a time outside an event, such as a
    batch's ``sent_at``."""
    return bool(_DATE_TIME.is_valid(value))


def clip(text: str) -> str:
    """``text`` cut to ``MAX_MESSAGE_CHARS``: a reason quotes what was sent, which may be huge."""
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _field_error(error: Any) -> FieldError:
    # The path too: it holds the keys a client chose where a schema maps names to values.
    path = clip(json_path(list(error.instance_path)))
    return FieldError("schema_violation", path, clip(error.message))
