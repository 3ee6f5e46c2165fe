"""Every AWS API call made through a watched client, counted by caller, service and operation.

``Services.watch`` hands each client it is told of (the cloud's own and the project code's) to
``CallMeter.watch``, which registers three botocore hooks: the call's parameters give its billed
units (PutEvents entries and 64 KB chunks, Kinesis records and bytes, DynamoDB write units, S3
object bytes), ``before-call`` starts the clock and counts the request body, ``after-call`` counts
the answer and charges it all to the function running at the time (``caller``), or to the local
cloud itself when none is (rule deliveries to Kinesis, Pipe reads, the census).

``bench.calls`` turns these counts into figures per 1,000 accepted signals.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

EVENTBRIDGE_CHUNK: Final = 64 * 1024
KINESIS_PUT_UNIT: Final = 25 * 1024
KIB: Final = 1024
LOCAL_CLOUD: Final = "localcloud"
_START: Final = "metering_started"
_UNITS: Final = "metering_units"


@dataclass
class CallStats:
    calls: int = 0
    errors: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    seconds: float = 0.0
    units: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "seconds": self.seconds,
            "units": dict(sorted(self.units.items())),
        }


CallKey = tuple[str, str, str]  # (caller, service, operation)


def entry_bytes(entry: Mapping[str, Any]) -> int:
    """EventBridge's billed size of one PutEvents entry: Detail + DetailType + Source + Resources."""
    parts = [entry.get("Detail", ""), entry.get("DetailType", ""), entry.get("Source", "")]
    parts += list(entry.get("Resources", []))
    return sum(len(str(part).encode()) for part in parts)


def attribute_bytes(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one return per DynamoDB type
    """DynamoDB's size of one attribute value (strings and binaries by length, numbers about half)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_bytes(inner)
    if kind == "L":
        return 3 + sum(attribute_bytes(element) + 1 for element in inner)
    return sum(len(str(element).encode()) for element in inner)  # SS, NS, BS


def item_bytes(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KIB))


def call_units(service: str, operation: str, params: Mapping[str, Any]) -> Counter[str]:
    """The billed units of one call, from its parameters (empty for calls billed per request only)."""
    units: Counter[str] = Counter()
    if service == "events" and operation == "PutEvents":
        sizes = [entry_bytes(entry) for entry in params.get("Entries", [])]
        units.update(entries=len(sizes), chunks=sum(math.ceil(size / EVENTBRIDGE_CHUNK) for size in sizes))
        units["entry_bytes"] = sum(sizes)
    elif service == "kinesis" and operation in ("PutRecord", "PutRecords"):
        records = params.get("Records", [params]) if operation == "PutRecords" else [params]
        sizes = [
            len(record.get("Data", b"")) + len(str(record.get("PartitionKey", ""))) for record in records
        ]
        units.update(
            records=len(sizes),
            record_bytes=sum(sizes),
            kib_rounded=sum(math.ceil(size / KIB) for size in sizes),
            put_payload_units=sum(math.ceil(size / KINESIS_PUT_UNIT) for size in sizes),
        )
    elif service == "dynamodb" and operation == "PutItem":
        units["write_units"] = write_units(item_bytes(params.get("Item", {})))
    elif service == "dynamodb" and operation in ("UpdateItem", "DeleteItem"):
        values = params.get("ExpressionAttributeValues", {})
        units["write_units"] = write_units(item_bytes(params.get("Key", {})) + item_bytes(values))
    elif service == "s3" and operation == "PutObject":
        body = params.get("Body", b"")
        units["object_bytes"] = len(body) if isinstance(body, bytes | str) else 0
    return units


def _body_bytes(body: Any) -> int:
    if isinstance(body, bytes | bytearray | str):
        return len(body)
    if isinstance(body, Mapping):  # query protocol: form fields, encoded later
        return sum(len(str(key)) + len(str(value)) + 2 for key, value in body.items())
    if hasattr(body, "seek") and hasattr(body, "tell"):  # S3 bodies: a seekable stream
        position = int(body.tell())
        size = int(body.seek(0, 2)) - position
        body.seek(position)
        return size
    return 0


def _response_bytes(http_response: Any, model: Any) -> int:
    """The answer's size; a streamed body (S3 GetObject) by its header, so the stream stays unread."""
    headers = getattr(http_response, "headers", {}) or {}
    if headers.get("content-length"):
        return int(headers["content-length"])
    if getattr(model, "has_streaming_output", False):
        return 0
    return len(getattr(http_response, "content", b"") or b"")


class CallMeter:
    """Counts of every call made through the clients it watches; ``caller`` names who is running."""

    def __init__(self, caller: Callable[[], str | None]) -> None:
        self._caller = caller
        self.stats: dict[CallKey, CallStats] = {}

    def watch(self, client: Any) -> None:
        """Register the hooks on ``client``; registering twice on one client is a no-op."""
        events = client.meta.events
        service = client.meta.service_model.service_name
        for event, handler in (
            ("provide-client-params", self._note_params),
            ("before-call", self._start),
            ("after-call", self._finish),
        ):
            events.register(event, _bound(handler, service), unique_id=f"localcloud-metering:{event}")

    def _note_params(
        self, service: str, params: Mapping[str, Any], model: Any, context: Any, **_: Any
    ) -> None:
        context[_UNITS] = call_units(service, model.name, params)

    @staticmethod
    def _start(service: str, params: Mapping[str, Any], context: Any, **_: Any) -> None:  # noqa: ARG004
        context[_START] = (time.perf_counter(), _body_bytes(params.get("body")))

    def _finish(self, service: str, http_response: Any, model: Any, context: Any, **_: Any) -> None:
        started, sent = context.get(_START, (time.perf_counter(), 0))
        key = (self._caller() or LOCAL_CLOUD, service, model.name)
        stats = self.stats.setdefault(key, CallStats())
        stats.calls += 1
        stats.seconds += time.perf_counter() - started
        stats.request_bytes += sent
        stats.response_bytes += _response_bytes(http_response, model)
        if getattr(http_response, "status_code", 200) >= 300:
            stats.errors += 1
        else:
            stats.units.update(context.get(_UNITS, {}))

    def snapshot(self) -> dict[CallKey, CallStats]:
        return copy.deepcopy(self.stats)


def _bound(handler: Callable[..., None], service: str) -> Callable[..., None]:
    def hook(**kwargs: Any) -> None:
        handler(service, **kwargs)

    return hook
