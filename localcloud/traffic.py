"""Realistic client traffic for the demo and end-to-end tests, built from the registry's examples.

Valid events take their ``data`` from the ``examples`` of each event type's schema, so traffic
follows the registry as it evolves; invalid ones carry one known defect each, labelled with the
rejection code the validator must give.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from signal_platform.schema_registry import SchemaRegistry
from signal_platform.timeutil import format_rfc3339

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


@dataclass(frozen=True)
class TrafficEvent:
    event: dict[str, Any]
    expected: str  # "accepted" or the rejection code the validator must give


class TrafficGenerator:
    def __init__(self, registry: SchemaRegistry, *, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._examples = [
            (event_type, version, example)
            for event_type, versions in sorted(registry.event_types.items())
            for version in sorted(versions)
            for example in registry.data_schema(event_type, version).get("examples", [])
        ]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def valid(self, source: str, now: datetime) -> dict[str, Any]:
        event_type, version, data = self._rng.choice(self._examples)
        user = self._rng.randrange(1, 500)
        return {
            "event_id": self._uuid(),
            "event_type": event_type,
            "schema_version": version,
            "occurred_at": format_rfc3339(now - timedelta(seconds=self._rng.uniform(0.5, 120))),
            "source": source,
            "data": data,
            "context": {
                "anonymous_id": f"anon-{user:05d}",
                "session_id": f"sess-{user:05d}-{self._rng.randrange(1, 4)}",
                "user_agent": self._rng.choice(USER_AGENTS),
                "ip": f"198.51.100.{self._rng.randrange(1, 255)}",
                "locale": "en-US",
            },
        }

    def invalid(self, source: str, now: datetime) -> TrafficEvent:
        event = self.valid(source, now)
        defect = self._rng.choice(
            ("unknown_event_type", "schema_violation", "occurred_at_in_future", "source_mismatch")
        )
        if defect == "unknown_event_type":
            event["event_type"] = "teleport"
        elif defect == "schema_violation":
            event["data"] = {**event["data"], "unexpected_field": True}
        elif defect == "occurred_at_in_future":
            event["occurred_at"] = format_rfc3339(now + timedelta(days=2))
        else:
            event["source"] = "someone-else"
        return TrafficEvent(event, defect)

    def mix(
        self, source: str, now: datetime, count: int, invalid_share: float = 0.1
    ) -> Iterator[TrafficEvent]:
        for _ in range(count):
            if self._rng.random() < invalid_share:
                yield self.invalid(source, now)
            else:
                yield TrafficEvent(self.valid(source, now), "accepted")
