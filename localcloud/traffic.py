"""Realistic client traffic for the demo and end-to-end tests, built from the registry's examples.

Valid events take their ``data`` from the ``examples`` of each event type's schema (taken in a
shuffled round-robin, so every type and version appears), so traffic follows the registry as it
evolves; invalid ones carry one known defect each, labelled with the rejection code the validator
must give. ``requests`` shapes traffic the way client SDKs send it: each request comes from one
source and one device (one user, one or two sessions), up to ``per_request`` events.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from signal_platform.schema_registry import SchemaRegistry
from signal_platform.timeutil import format_rfc3339

USER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
DEFECTS: Final = ("unknown_event_type", "schema_violation", "occurred_at_in_future", "source_mismatch")
USERS: Final = 500


@dataclass(frozen=True)
class TrafficEvent:
    event: dict[str, Any]
    expected: str  # "accepted" or the rejection code the validator must give


@dataclass(frozen=True)
class TrafficRequest:
    source: str
    events: list[TrafficEvent]


class TrafficGenerator:
    def __init__(self, registry: SchemaRegistry, *, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._examples = [
            (event_type, version, example)
            for event_type, versions in sorted(registry.event_types.items())
            for version in sorted(versions)
            for example in registry.data_schema(event_type, version).get("examples", [])
        ]
        if not self._examples:
            raise ValueError("the schema registry has no examples to build traffic from")
        self._order: list[int] = []

    @property
    def event_types(self) -> set[str]:
        return {event_type for event_type, _, _ in self._examples}

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _example(self) -> tuple[str, str, Any]:
        if not self._order:
            self._order = list(range(len(self._examples)))
            self._rng.shuffle(self._order)
        return self._examples[self._order.pop()]

    def valid(self, source: str, now: datetime, user: int | None = None) -> dict[str, Any]:
        event_type, version, data = self._example()
        user = self._rng.randrange(1, USERS) if user is None else user
        return {
            "event_id": self._uuid(),
            "event_type": event_type,
            "schema_version": version,
            "occurred_at": format_rfc3339(now - timedelta(seconds=self._rng.uniform(0.5, 120))),
            "source": source,
            "data": data,
            "context": {
                "anonymous_id": f"anon-{user:05d}",
                "session_id": f"sess-{user:05d}-{self._rng.randrange(1, 3)}",
                "user_agent": USER_AGENTS[user % len(USER_AGENTS)],
                "ip": f"198.51.100.{user % 254 + 1}",
                "locale": "en-US",
            },
        }

    def invalid(self, source: str, now: datetime, user: int | None = None) -> TrafficEvent:
        event = self.valid(source, now, user)
        defect = self._rng.choice(DEFECTS)
        if defect == "unknown_event_type":
            event["event_type"] = "teleport"
        elif defect == "schema_violation":
            event["data"] = {**event["data"], "unexpected_field": True}
        elif defect == "occurred_at_in_future":
            event["occurred_at"] = format_rfc3339(now + timedelta(days=2))
        else:
            event["source"] = "someone-else"
        return TrafficEvent(event, defect)

    def one(self, source: str, now: datetime, invalid_share: float, user: int | None = None) -> TrafficEvent:
        if self._rng.random() < invalid_share:
            return self.invalid(source, now, user)
        return TrafficEvent(self.valid(source, now, user), "accepted")

    def mix(
        self, source: str, now: datetime, count: int, invalid_share: float = 0.1
    ) -> Iterator[TrafficEvent]:
        for _ in range(count):
            yield self.one(source, now, invalid_share)

    def requests(
        self,
        sources: Sequence[str],
        total: int,
        now: datetime,
        *,
        per_request: int = 100,
        invalid_share: float = 0.1,
    ) -> Iterator[TrafficRequest]:
        """``total`` events in requests of at most ``per_request``, each from one source and device."""
        remaining, number = total, 0
        while remaining > 0:
            size = min(per_request, remaining)
            source = sources[number % len(sources)]
            user = self._rng.randrange(1, USERS)
            yield TrafficRequest(source, [self.one(source, now, invalid_share, user) for _ in range(size)])
            remaining -= size
            number += 1
