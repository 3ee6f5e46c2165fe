"""Segment HTTP Tracking API calls mapped onto the platform's envelope (pure; docs/adr/0006).

One call (``track``, ``page``, ``screen``, ``identify``, ``group``, ``alias``) becomes one client
event of the registry, or a ``Refusal`` with the reason when Segment's own rules refuse it:

- identity: ``event_id`` is a name-based UUID (uuid5) of the source and the call's ``messageId``,
  so a resend of the same call is the same event; the ``messageId`` itself is kept in
  ``data.origin.message_id``. A call without one gets the SHA-256 of its content instead (marked
  ``message_id_derived``), so an identical resend still deduplicates;
- type: ``track`` names map to registry types through ``mappings/segment_track.json``; a name it does
  not list is the generic ``track`` type; the other calls are registry types of their own;
- ``userId``/``anonymousId`` go to ``context.user_id``/``anonymous_id``; ``context.ip`` (an IP
  address) and ``context.userAgent`` to the envelope's ``context.ip``/``user_agent`` (so the IP is
  truncated before storage), else the request's source IP and User-Agent header; the rest of
  ``context``, ``integrations`` and unknown top-level fields are kept as sent in ``data.origin``;
  ``properties`` and ``traits`` keep their structure;
- time: ``timestamp`` (absent or null: ``originalTimestamp``, else the receive time) is ``occurred_at``;
  ``sentAt`` is ``sent_at``, which drives the clock-skew correction.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from signal_platform import codec
from signal_platform.schema_registry import SCHEMA_ROOT, FieldError

CallType = Literal["track", "page", "screen", "identify", "group", "alias"]
CALL_TYPES: Final[tuple[CallType, ...]] = ("track", "page", "screen", "identify", "group", "alias")
# The registry version of each call type's own schema (track: the generic one, for unmapped names).
CALL_SCHEMA_VERSION: Final = "1-0-0"
MAPPING_PATH: Final = SCHEMA_ROOT / "mappings" / "segment_track.json"
# Segment's limit on a messageId.
MAX_MESSAGE_ID_CHARS: Final = 100
MAX_USER_AGENT_CHARS: Final = 1024  # the envelope's bound on context.user_agent
# Segment's 32 KB per call is checked on the mapped event, whose canonical bytes the judge computes
# anyway. Mapping adds at most: the envelope's identity, type, version, source and times (~250 bytes)
# and what the server fills in (a User-Agent of up to 1,024 characters, an address): the mapped
# calls' judge allows the event limit plus this, so no call within 32 KB as sent is refused for size.
MAPPING_ROOM_BYTES: Final = 2048
# Fixed forever: event_id = uuid5(MESSAGE_ID_NAMESPACE, "<source>\n<messageId>").
MESSAGE_ID_NAMESPACE: Final = uuid.UUID("6f1d3c58-2b7e-5a4f-9c61-0e8d2a7b4c19")

_PAGE_TYPES: Final = frozenset({"page", "screen"})
# Top-level fields the mapping places; any other field of a call is kept in data.origin.extra.
# writeKey is a credential: it is read for authentication and never stored.
_PLACED: Final = frozenset(
    {
        "type",
        "messageId",
        "userId",
        "anonymousId",
        "context",
        "integrations",
        "timestamp",
        "sentAt",
        "event",
        "properties",
        "traits",
        "name",
        "category",
        "groupId",
        "previousId",
        "writeKey",
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call Segment's rules refuse before it reaches the registry (the judge records it as is)."""

    event_id: str | None
    error: FieldError


@dataclass(frozen=True, slots=True)
class TrackTarget:
    """The registry type a track event name maps to, and how its properties become the type's data."""

    event_type: str
    schema_version: str
    properties: Mapping[str, str]  # property name -> data field


@dataclass(frozen=True, slots=True)
class TrackMapping:
    events: Mapping[str, TrackTarget]
    unmapped: TrackTarget

    @classmethod
    def load(cls, path: Path = MAPPING_PATH) -> TrackMapping:
        document = codec.loads(path.read_bytes())
        events = {
            name: TrackTarget(entry["event_type"], entry["schema_version"], dict(entry["properties"]))
            for name, entry in document["events"].items()
        }
        unmapped = document["unmapped"]
        return cls(events, TrackTarget(unmapped["event_type"], unmapped["schema_version"], {}))


def mapped_event_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, the registry's schema of a whole event (``SchemaRegistry.event_schema``), less
    what holds by construction for every event this mapping builds, whatever the call: the judge's
    fast check of mapped events. Left out: the checks of ``event_id`` (a UUID the mapping formats),
    ``event_type`` and ``schema_version`` (the judge picks the validator by them), ``source`` (the
    authenticated source's id) and ``data.origin`` (an object of the fields the mapping places, each
    of its type), but for the two parts of origin kept as the call sent them: ``event`` (the track
    name) and ``integrations``. tests/unit/test_validator_segment.py checks that it judges every
    mapped call as the full schema does."""
    properties = dict(schema["properties"])
    for name in ("event_id", "event_type", "schema_version", "source"):
        properties[name] = {}
    data = properties["data"]
    origin = data.get("properties", {}).get("origin")
    if origin is not None:
        kept = {name: origin["properties"][name] for name in ("event", "integrations")}
        origin = {"type": "object", "properties": kept}
        properties["data"] = {**data, "properties": {**data["properties"], "origin": origin}}
    return {**schema, "properties": properties}


def _refuse(event_id: str | None, code: str, path: str, message: str) -> Refusal:
    return Refusal(event_id, FieldError(code, path, message))


def _identifier(value: Any) -> str | None:
    """Segment ids are strings; numbers are taken as their text (as Segment's libraries do)."""
    if type(value) is str:  # the common case first
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@lru_cache(maxsize=256)
def _source_sha1(source_id: str) -> Any:
    """SHA-1 state that has hashed the namespace and ``"<source>\n"``, the start of every id of the
    source's calls (uuid5 is SHA-1 over namespace then name): each id copies it and hashes only the
    ``messageId``. A copy is cheaper than a new hash object, which OpenSSL 3 makes costly."""
    prefix = MESSAGE_ID_NAMESPACE.bytes + f"{source_id}\n".encode()
    return hashlib.sha1(prefix, usedforsecurity=False)


def _event_id(source_sha1: Any, message_id: str) -> str:
    sha1 = source_sha1.copy()
    sha1.update(message_id.encode())
    hexed = sha1.hexdigest()
    # Version nibble 5; variant bits 10 in the top of the 17th nibble.
    return f"{hexed[:8]}-{hexed[8:12]}-5{hexed[13:16]}-{_VARIANT[hexed[16]]}{hexed[17:20]}-{hexed[20:32]}"


def event_id_of(source_id: str, message_id: str) -> str:
    """``str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{source_id}\\n{message_id}"))``, written out on the
    hex digest: the uuid module's objects cost several times more, and this runs once per call."""
    return _event_id(_source_sha1(source_id), message_id)


_VARIANT: Final = {digit: format(0x8 | (int(digit, 16) & 0x3), "x") for digit in "0123456789abcdef"}


@dataclass(frozen=True, slots=True)
class _Target:
    """A ``TrackTarget`` with its renames precomputed once: when every property of a call is one the
    target names (the common case), the data is a copy of the properties with the renamed few moved,
    rather than a dict built name by name."""

    event_type: str
    schema_version: str
    fields: Mapping[str, str]  # property name -> data field
    names: frozenset[str]
    moved: tuple[tuple[str, str], ...]  # (property name, data field) where the two differ
    by_copy: bool  # no moved-to field is also a property name, and no two names share a field

    @classmethod
    def of(cls, target: TrackTarget) -> _Target:
        fields = target.properties
        moved = tuple((name, field) for name, field in fields.items() if name != field)
        by_copy = len(set(fields.values())) == len(fields) and not any(field in fields for _, field in moved)
        return cls(target.event_type, target.schema_version, fields, frozenset(fields), moved, by_copy)

    def data(self, properties: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
        """The type's data fields; properties the target does not name go to ``origin.properties``."""
        if self.by_copy and self.names.issuperset(properties):
            data = properties.copy()
            for name, field in self.moved:
                if name in data:
                    data[field] = data.pop(name)
            return data
        fields = self.fields
        data = {field: properties[name] for name, field in fields.items() if name in properties}
        if len(data) < len(properties):  # properties the mapping does not name, kept as sent
            origin["properties"] = {name: value for name, value in properties.items() if name not in fields}
        return data


class SegmentMapper:
    def __init__(self, mapping: TrackMapping) -> None:
        self._targets = {name: _Target.of(target) for name, target in mapping.events.items()}
        self._unmapped = mapping.unmapped

    def map_calls(
        self,
        calls: list[Any],
        *,
        call_type: CallType | None,
        source_id: str,
        received_at: str,
        shared_context: Mapping[str, Any] | None = None,
        request_ip: str | None = None,
        request_user_agent: str | None = None,
    ) -> list[dict[str, Any] | Refusal]:
        """``map_call`` for each call of one request, the per-source work done once."""
        source_sha1 = _source_sha1(source_id)
        view = (request_ip, request_user_agent)
        return [
            self._map(call, call_type, source_sha1, source_id, received_at, shared_context, view)
            for call in calls
        ]

    def map_call(
        self,
        call: Any,
        *,
        call_type: CallType | None,
        source_id: str,
        received_at: str,
        shared_context: Mapping[str, Any] | None = None,
        request_ip: str | None = None,
        request_user_agent: str | None = None,
    ) -> dict[str, Any] | Refusal:
        """The client event for one call, or why it is refused. ``call_type`` is the route's type
        (``None`` on ``/v1/batch``, where each call names its own); ``shared_context`` is a batch's
        top-level ``context``, under each call's own. ``request_ip`` and ``request_user_agent`` are
        what the server saw of the request (``verdicts.RequestView``, applied here rather than by the
        judge): they fill ``context.ip``/``user_agent`` when the call sent none."""
        return self._map(
            call,
            call_type,
            _source_sha1(source_id),
            source_id,
            received_at,
            shared_context,
            (request_ip, request_user_agent),
        )

    def _map(  # noqa: PLR0911, PLR0912, PLR0915 - one early return per refusal reason, in Segment order
        self,
        call: Any,
        call_type: CallType | None,
        source_sha1: Any,
        source_id: str,
        received_at: str,
        shared_context: Mapping[str, Any] | None,
        view: tuple[str | None, str | None],
    ) -> dict[str, Any] | Refusal:
        # Runs once per call: the common path is written out, without a function call per step.
        if not isinstance(call, dict):
            return _refuse(None, "not_an_object", "$", "a call must be a JSON object")
        message_id = call.get("messageId")
        derived = message_id is None
        if derived:
            message_id = hashlib.sha256(_content(call)).hexdigest()
        elif not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS:
            return _refuse(
                None,
                "invalid_message_id",
                "$.messageId",
                f"messageId must be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters",
            )
        event_id = _event_id(source_sha1, message_id)
        kind = call_type or call.get("type")
        if kind not in CALL_TYPES:
            return _refuse(
                event_id, "unknown_call_type", "$.type", f"type must be one of {', '.join(CALL_TYPES)}"
            )
        # Ids are strings but for the odd number (_identifier): the common case without a call.
        user_id, anonymous_id = call.get("userId"), call.get("anonymousId")
        if type(user_id) is not str or not user_id:
            user_id = _identifier(user_id)
        if type(anonymous_id) is not str or not anonymous_id:
            anonymous_id = _identifier(anonymous_id)
        if user_id is None:
            if anonymous_id is None:
                return _refuse(
                    event_id, "missing_identity", "$", "every call needs a userId or an anonymousId"
                )
            envelope_context: dict[str, Any] = {"anonymous_id": anonymous_id}
        elif anonymous_id is None:
            envelope_context = {"user_id": user_id}
        else:
            envelope_context = {"user_id": user_id, "anonymous_id": anonymous_id}
        context = call.get("context")
        if context is not None and not isinstance(context, dict):
            return _refuse(event_id, "invalid_context", "$.context", "context must be an object")
        origin: dict[str, Any] = {"protocol": "segment", "message_id": message_id, "type": kind}
        if derived:
            origin["message_id_derived"] = True
        if kind == "track":
            name = call.get("event")
            if not isinstance(name, str) or not name:
                return _refuse(event_id, "missing_event", "$.event", "a track call needs an event name")
            properties = _object(call.get("properties"))
            target = self._targets.get(name)
            if target is None:
                event_type, version = self._unmapped.event_type, self._unmapped.schema_version
                data = {"event": name, "properties": properties}
            elif not isinstance(properties, dict):
                return _refuse(event_id, "invalid_properties", "$.properties", "properties must be an object")
            else:
                origin["event"] = name
                event_type, version = target.event_type, target.schema_version
                data = target.data(properties, origin)
        elif kind in _PAGE_TYPES:
            properties, name, category = call.get("properties"), call.get("name"), call.get("category")
            event_type, version = kind, CALL_SCHEMA_VERSION
            data = {"properties": _object(properties)}
            if name is not None:
                data["name"] = name
            if category is not None:
                data["category"] = category
        else:
            typed = _typed_data(kind, call, user_id)
            if isinstance(typed, FieldError):
                return Refusal(event_id, typed)
            event_type, version, data = typed

        if shared_context:
            context = {**shared_context, **(context or {})}
        if context:
            # An IP address and a user agent string move to the envelope's context (where the judge
            # truncates the IP before storage); anything else, as sent, stays in origin.context
            # (Segment accepts any value there, so the platform does not refuse the call for it).
            ip = context.get("ip")
            movable_ip = isinstance(ip, str) and _is_ip_address(ip)
            movable_agent = isinstance(context.get("userAgent"), str)
            if movable_ip or movable_agent:
                context = context.copy()
                if movable_ip:
                    envelope_context["ip"] = context.pop("ip")
                if movable_agent:
                    envelope_context["user_agent"] = context.pop("userAgent")[:MAX_USER_AGENT_CHARS]
            if context:
                origin["context"] = context
        request_ip, request_user_agent = view
        if request_ip and "ip" not in envelope_context:
            envelope_context["ip"] = request_ip
        if request_user_agent and "user_agent" not in envelope_context:
            envelope_context["user_agent"] = request_user_agent
        if "integrations" in call:
            origin["integrations"] = call["integrations"]
        if not _PLACED.issuperset(call):  # originalTimestamp, channel, version, ... kept as sent
            origin["extra"] = {key: value for key, value in call.items() if key not in _PLACED}
        data["origin"] = origin
        # Absent (or null) is the next choice; any other value is the call's time, judged as sent.
        occurred_at = call.get("timestamp")
        if occurred_at is None:
            occurred_at = call.get("originalTimestamp")
            if occurred_at is None:
                occurred_at = received_at

        event: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": version,
            "occurred_at": occurred_at,
            "source": source_id,
            "context": envelope_context,
            "data": data,
        }
        if (sent_at := call.get("sentAt")) is not None:
            event["sent_at"] = sent_at
        return event


def _typed_data(
    kind: CallType, call: dict[str, Any], user_id: str | None
) -> tuple[str, str, dict[str, Any]] | FieldError:
    """(event type, version, data) of an identify, group or alias call, or the Segment rule it breaks."""
    data: dict[str, Any]
    match kind:
        case "identify":
            data = {"traits": _object(call.get("traits"))}
        case "group":
            group_id = _identifier(call.get("groupId"))
            if group_id is None:
                return FieldError("missing_group_id", "$.groupId", "a group call needs a groupId")
            data = {"group_id": group_id, "traits": _object(call.get("traits"))}
        case _:  # alias
            previous_id = _identifier(call.get("previousId"))
            if previous_id is None:
                return FieldError("missing_previous_id", "$.previousId", "an alias call needs a previousId")
            if user_id is None:
                return FieldError("missing_user_id", "$.userId", "an alias call needs a userId")
            data = {"previous_id": previous_id}
    return kind, CALL_SCHEMA_VERSION, data


# The longest text of an address: an IPv4-mapped IPv6 one written out, ffff:...:255.255.255.255.
MAX_ADDRESS_CHARS: Final = 45


def _is_ip_address(text: str) -> bool:
    """Whether ``text`` is an IP address without a zone index; longer text is not one, and is not
    parsed or kept in the cache (a call may send 32 KB there)."""
    return len(text) <= MAX_ADDRESS_CHARS and _parses_as_ip_address(text)


@lru_cache(maxsize=1024)
def _parses_as_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text  # a zone index is not an address the envelope (or a lake reader) takes


def _content(call: dict[str, Any]) -> bytes:
    """The bytes a call without a ``messageId`` is known by: its canonical JSON, or the standard
    library's sorted JSON when it holds an integer past 64 bits (which orjson does not write)."""
    try:
        return codec.canonical(call)
    except codec.JSONEncodeError:
        return json.dumps(call, sort_keys=True, separators=(",", ":")).encode()


def _object(value: Any) -> Any:
    """``properties``/``traits`` as sent; absent is empty (anything else the schema refuses)."""
    return {} if value is None else value
