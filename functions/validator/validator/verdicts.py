"""Per-event verdicts (pure): schema, identity, size and time checks for each event of a request.

Every rejection carries its reasons (code, JSON path, message); the full schema error list is
computed only for events that fail the compiled validator's fast ``is_valid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal, NotRequired, TypedDict, cast

from signal_platform import codec
from signal_platform.network import network_address
from signal_platform.schema_registry import FieldError, SchemaRegistry, SchemaTransform, clip, json_path
from signal_platform.signal_batches import EncodedSignal
from signal_platform.timeutil import parse_validated_rfc3339
from validator.event_time import RequestClock, derived_text, microseconds
from validator.segment import MAX_USER_AGENT_CHARS, Refusal

Verdict = Literal["accepted", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int
    max_future_skew: timedelta
    max_event_age: timedelta
    # False: an accepted event's context.ip is signed and forwarded as its network only (StoreRawIp).
    store_raw_ip: bool = False


@dataclass(frozen=True, slots=True)
class RequestView:
    """What the server sees of a request: its source IP and User-Agent header. They fill an event's
    ``context.ip`` / ``context.user_agent`` when the client sent none (the client's own win)."""

    ip: str | None = None
    user_agent: str | None = None

    def fill(self, event: dict[str, Any]) -> None:
        context = event.get("context")
        if context is None:
            context = event["context"] = {}
        elif not isinstance(context, dict):
            return  # the schema refuses it
        if self.ip and "ip" not in context:
            context["ip"] = self.ip
        if self.user_agent and "user_agent" not in context:
            context["user_agent"] = self.user_agent


NO_VIEW: Final = RequestView()


def request_view(source_ip: str | None, user_agent: str | None) -> RequestView:
    """A User-Agent header over the envelope's bound is clipped, never a rejection."""
    if not source_ip and not user_agent:
        return NO_VIEW
    return RequestView(source_ip or None, user_agent[:MAX_USER_AGENT_CHARS] if user_agent else None)


class ErrorBody(TypedDict):
    code: str
    path: str
    message: str


class EventResult(TypedDict):
    """One event's verdict, already in the shape of the answer's ``results`` (a dict built once per
    event and serialised as it is: a class and its conversion cost three times as much)."""

    index: int
    event_id: str | None
    verdict: Verdict
    errors: NotRequired[list[ErrorBody]]  # a rejection's reasons, and only a rejection's


@dataclass(slots=True)
class Judgement:
    """The results in request order, and the accepted events encoded for the bus."""

    results: list[EventResult] = field(default_factory=list)
    signals: list[EncodedSignal] = field(default_factory=list)


def rejected(index: int, event_id: str | None, errors: Iterable[FieldError]) -> EventResult:
    return {
        "index": index,
        "event_id": event_id,
        "verdict": "rejected",
        "errors": [{"code": error.code, "path": error.path, "message": error.message} for error in errors],
    }


def _reject(index: int, event_id: str | None, code: str, path: str, message: str) -> EventResult:
    return rejected(index, event_id, (FieldError(code, path, message),))


def _integer_out_of_range(index: int, event_id: str, error: codec.IntegerOutOfRangeError) -> EventResult:
    """An integer the bus cannot carry: refused here, where the client learns why, rather than by
    PutEvents, which would fail its whole batch on every retry."""
    return _reject(
        index,
        event_id,
        "integer_out_of_range",
        clip(json_path(error.path)),
        f"integers must lie within {codec.BUS_INTEGERS.start}..{codec.BUS_INTEGERS.stop - 1}:"
        " send a larger number as a string",
    )


# The events of a request share their address: one cache hit, not a parse, per event.
_network_address: Final = lru_cache(maxsize=4096)(network_address)


def _truncate_ip(signal: dict[str, Any]) -> None:
    """``context.ip`` replaced by its network's first address before the batch is signed, so no store
    after the validator keeps the full address (docs/data-map.md); enrichment derives the same prefix
    from either. The context is changed in place: the event is the request's own parse, and its
    original address is read nowhere after this."""
    context = signal.get("context")
    if type(context) is dict and type(ip := context.get("ip")) is str:
        network = _network_address(ip)
        if network is None:  # the schema admits only addresses: kept out rather than raw
            del context["ip"]
        else:
            context["ip"] = network


class EventJudge:
    def __init__(self, registry: SchemaRegistry, limits: Limits) -> None:
        self._registry = registry
        self._limits = limits
        self._min_age = -limits.max_future_skew
        self._min_age_us, self._max_age_us = microseconds(self._min_age), microseconds(limits.max_event_age)
        # Compiled validators of the known (event type, version) pairs met so far: one dict lookup
        # per event instead of three registry calls.
        self._known: dict[tuple[str, str], Any] = {}

    def judge(
        self,
        events: Sequence[Any],
        *,
        source_id: str,
        received_at: datetime,
        batch_sent_at: str | None,
        view: RequestView = NO_VIEW,
    ) -> Judgement:
        """Verdicts in request order; a ``Refusal`` among ``events`` (a call the Segment mapping
        refused) is recorded as the rejection it carries.

        The loop runs the checks of an event that passes them all, inline and with the lookups
        hoisted: it is most of the validator's CPU per event. An event that fails any check goes
        to ``_judge_one``, which runs them again in order and words the rejection, so every
        rejection has one source.

        ``events`` are the request's own: an accepted event's dict is written into (``event_id``
        lower-cased, ``derived_at`` added, ``context.ip`` truncated) before it is encoded."""
        results: list[EventResult] = []
        signals: list[EncodedSignal] = []
        seen: set[str] = set()
        # The body parser has checked the batch's sent_at already: the fast parse is enough.
        batch_sent = parse_validated_rfc3339(batch_sent_at) if batch_sent_at else None
        clock = RequestClock(received_at, batch_sent, self._min_age_us, self._max_age_us)
        known, max_bytes = self._known, self._limits.max_event_bytes
        truncate = not self._limits.store_raw_ip
        fill = None if view is NO_VIEW else view.fill
        for index, event in enumerate(events):
            if type(event) is dict:
                if fill is not None:
                    fill(event)
                event_type, version = event.get("event_type"), event.get("schema_version")
                validator = (
                    known.get((event_type, version)) or self._known_validator(event_type, version)
                    if type(event_type) is str and type(version) is str
                    else None
                )
                raw_id = event.get("event_id")
                if (
                    validator is not None
                    and type(raw_id) is str
                    and validator.is_valid(event)
                    and event["source"] == source_id
                ):
                    event_id, sent_at = raw_id.lower(), event.get("sent_at")
                    event_clock = clock if sent_at is None else clock.with_sent(sent_at)
                    derived_at = None if event_clock is None else event_clock.derived_at(event["occurred_at"])
                    if derived_at is not None and event_id not in seen:
                        # Written into the event, not a copy: it is the request's own parse.
                        event["event_id"], event["derived_at"] = event_id, derived_at
                        if truncate:
                            _truncate_ip(event)
                        try:
                            body = codec.canonical_for_bus(event)
                        except codec.IntegerOutOfRangeError as exc:
                            results.append(_integer_out_of_range(index, event_id, exc))
                            continue
                        if len(body) > max_bytes:
                            # Not _judge_one: the event now holds derived_at, which its schema refuses.
                            results.append(self._too_large(index, event_id, len(body)))
                            continue
                        seen.add(event_id)
                        results.append({"index": index, "event_id": event_id, "verdict": "accepted"})
                        # tuple.__new__: the named tuple built in C, without the keyword-aware
                        # __new__ or _make's Python frame (a third of _make's cost).
                        signals.append(
                            tuple.__new__(EncodedSignal, (event_id, event_type, source_id, body, ""))
                        )
                        continue
            elif type(event) is Refusal:
                results.append(rejected(index, event.event_id, (event.error,)))
                continue
            result, signal = self._judge_one(index, event, seen, source_id, received_at, batch_sent)
            results.append(result)
            if signal is not None:
                signals.append(signal)
        return Judgement(results, signals)

    def with_schemas(self, transform: SchemaTransform, *, extra_bytes: int = 0) -> EventJudge:
        """A judge with these limits, ``extra_bytes`` more per event, that checks ``transform`` of the
        registry's schemas: the Segment routes' judge, whose events' own parts hold by construction
        (``segment.mapped_event_schema``) and carry what the mapping adds (``MAPPING_ROOM_BYTES``)."""
        limits = replace(self._limits, max_event_bytes=self._limits.max_event_bytes + extra_bytes)
        return EventJudge(self._registry.with_schemas(transform), limits)

    def _known_validator(self, event_type: str, version: str) -> Any:
        """The compiled validator of a registered type and version (kept for the next event), or None."""
        if not self._registry.has_version(event_type, version):
            return None
        validator = self._known[(event_type, version)] = self._registry.validator(event_type, version)
        return validator

    def _judge_one(
        self,
        index: int,
        event: Any,
        seen: set[str],
        source_id: str,
        received_at: datetime,
        batch_sent: datetime | None,
    ) -> tuple[EventResult, EncodedSignal | None]:
        if not isinstance(event, dict):
            return _reject(index, None, "not_an_object", "$", "an event must be a JSON object"), None
        raw_id = event.get("event_id")
        # A UUID in any letter case is one event: its lower-case form is the identity from here on
        # (results, signal, batch id, downstream deduplication). Any other string is only echoed in
        # the rejection, clipped as a reason is (the schema refuses it).
        event_id = clip(raw_id.lower()) if isinstance(raw_id, str) else None
        event_type, version = event.get("event_type"), event.get("schema_version")
        if not isinstance(event_type, str) or not self._registry.has_type(event_type):
            return _reject(
                index,
                event_id,
                "unknown_event_type",
                "$.event_type",
                clip(f"unknown event type {event_type!r}"),
            ), None
        if not isinstance(version, str) or not self._registry.has_version(event_type, version):
            return _reject(
                index,
                event_id,
                "unknown_schema_version",
                "$.schema_version",
                clip(f"{event_type} has no schema version {version!r}"),
            ), None
        if not self._registry.is_valid(event):
            return rejected(index, event_id, self._registry.errors(event)), None
        if event["source"] != source_id:
            return _reject(
                index,
                event_id,
                "source_mismatch",
                "$.source",
                f"source must be the write key's {source_id!r}",
            ), None
        valid_id = cast(str, event_id)  # the schema requires a string event_id
        return self._check_time_and_size(index, event, valid_id, seen, received_at, batch_sent)

    def _check_time_and_size(  # noqa: PLR0911 - one early return per rejection reason
        self,
        index: int,
        event: dict[str, Any],
        event_id: str,
        seen: set[str],
        received_at: datetime,
        batch_sent: datetime | None,
    ) -> tuple[EventResult, EncodedSignal | None]:
        try:
            occurred = parse_validated_rfc3339(event["occurred_at"])
        except ValueError as exc:
            return _reject(index, event_id, "invalid_timestamp", "$.occurred_at", clip(str(exc))), None
        try:
            sent = parse_validated_rfc3339(event["sent_at"]) if "sent_at" in event else batch_sent
        except ValueError as exc:
            return _reject(index, event_id, "invalid_timestamp", "$.sent_at", clip(str(exc))), None
        # The limits are checked on the event's age, a difference of two parsed times: a timedelta
        # holds any of them, where `derived_at` itself would overflow for times near year 1 or 9999.
        age = (received_at if sent is None else sent) - occurred
        if age < self._min_age:
            return _reject(
                index,
                event_id,
                "occurred_at_in_future",
                "$.occurred_at",
                f"occurred_at is more than {self._limits.max_future_skew} ahead of the server clock",
            ), None
        if age > self._limits.max_event_age:
            return _reject(
                index,
                event_id,
                "occurred_at_too_old",
                "$.occurred_at",
                f"occurred_at is more than {self._limits.max_event_age} old",
            ), None
        if event_id in seen:
            # Checked last, so only an accepted event takes its id: a broken copy before a good one
            # does not cost the good one.
            return _reject(
                index, event_id, "duplicate_event_id", "$.event_id", "event_id repeats an earlier event"
            ), None
        event["event_id"] = event_id
        event["derived_at"] = derived_text(event["occurred_at"], occurred, sent, received_at)
        if not self._limits.store_raw_ip:
            _truncate_ip(event)
        try:
            body = codec.canonical_for_bus(event)
        except codec.IntegerOutOfRangeError as exc:
            return _integer_out_of_range(index, event_id, exc), None
        if len(body) > self._limits.max_event_bytes:
            return self._too_large(index, event_id, len(body)), None
        seen.add(event_id)
        signal = EncodedSignal(event_id, event["event_type"], event["source"], body)
        return {"index": index, "event_id": event_id, "verdict": "accepted"}, signal

    def _too_large(self, index: int, event_id: str, size: int) -> EventResult:
        return _reject(
            index,
            event_id,
            "event_too_large",
            "$",
            f"the event is {size} bytes, over the {self._limits.max_event_bytes}-byte limit",
        )
