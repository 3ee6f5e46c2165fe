"""Realistic client events of a chosen serialised size (the shape of ``tests/http_events.page_view``)."""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry, SchemaVer
from signal_platform.timeutil import format_rfc3339, utc_now

EVENT_BYTES: Final = 1000
SOURCE_ID: Final = "web-shop"
_USER_AGENT: Final = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15 "
)
_PAGE_URL: Final = "https://shop.example.com/products/trail-running-shoe-42?utm_source=newsletter"
_PAGE_TITLE: Final = "Trail Running Shoe 42 | Example Shop"
_REFERRER: Final = "https://www.example.org/search?q=trail+shoes"
PAGE_VIEW_DATA: Final[dict[str, Any]] = {
    "page_url": _PAGE_URL,
    "page_title": _PAGE_TITLE,
    "page_type": "product",
    "referrer_url": _REFERRER,
}


@dataclass(frozen=True, slots=True)
class EventKind:
    """An event type, the version to send and a valid ``data`` for it."""

    event_type: str
    version: str
    data: dict[str, Any]


PAGE_VIEW: Final = EventKind("page_view", "1-0-0", PAGE_VIEW_DATA)


def event_size(event: Any) -> int:
    return len(codec.dumps(event))


def _context(user_agent: str) -> dict[str, Any]:
    return {
        "user_id": "usr_5531908",
        "anonymous_id": "anon-7f3c2a9e-5d1b-4c8e-9a6f-2b4d8e1c3a5f",
        "session_id": "sess-20261126-4821",
        "user_agent": user_agent,
        "ip": "198.51.100.23",
        "locale": "en-US",
        "page": {
            "url": _PAGE_URL,
            "path": "/products/trail-running-shoe-42",
            "referrer": _REFERRER,
            "title": _PAGE_TITLE,
        },
        "library": {"name": "signals-js", "version": "2.4.1"},
        "campaign": {"source": "newsletter", "medium": "email", "name": "autumn_running_2026"},
    }


def _user_agent(length: int) -> str:
    """A user agent string of exactly ``length`` characters (ASCII), repeated tokens if long."""
    length = max(0, length)
    return (_USER_AGENT * (length // len(_USER_AGENT) + 1))[:length]


class EventFactory:
    """Events with reproducible unique ids, happening a few seconds before the factory was made."""

    def __init__(self, *, seed: int = 20261126, source: str = SOURCE_ID) -> None:
        self._rng = random.Random(seed)
        self._source = source
        self._occurred_at = format_rfc3339(utc_now() - timedelta(seconds=5))

    def event(self, kind: EventKind = PAGE_VIEW, *, size: int = EVENT_BYTES) -> dict[str, Any]:
        """An event of ``kind`` padded (through ``context.user_agent``) to ``size`` bytes of JSON."""
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "event_type": kind.event_type,
            "schema_version": kind.version,
            "occurred_at": self._occurred_at,
            "source": self._source,
            "data": copy.deepcopy(kind.data),
            "context": _context(""),
        }
        event["context"]["user_agent"] = _user_agent(size - event_size(event))
        return event

    def events(self, kinds: list[EventKind], count: int) -> list[dict[str, Any]]:
        """``count`` events cycling through ``kinds`` (interleaved when there are several)."""
        return [self.event(kinds[index % len(kinds)]) for index in range(count)]


def with_schema_errors(event: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A page_view with three schema errors (enum, additional property, pattern) and their count."""
    broken = copy.deepcopy(event)
    broken["data"]["page_type"] = "landing"
    broken["data"]["colour"] = "blue"
    broken["context"]["locale"] = "English (US)"
    return broken, 3


def sample_kinds(registry: SchemaRegistry, factory: EventFactory, count: int) -> list[EventKind]:
    """Up to ``count`` registered types, page_view first (whatever types the registry holds today)."""
    kinds = [PAGE_VIEW]
    for event_type in sorted(registry.event_types):
        if len(kinds) == count:
            break
        if event_type != PAGE_VIEW.event_type:
            kinds.extend(_example_kind(registry, factory, event_type))
    return kinds


def _example_kind(registry: SchemaRegistry, factory: EventFactory, event_type: str) -> list[EventKind]:
    """``event_type`` at its newest version, with its schema's first example as ``data`` if valid."""
    version = str(max(SchemaVer.parse(text) for text in registry.event_types[event_type]))
    try:
        examples = registry.data_schema(event_type, version).get("examples") or []
        kinds = [EventKind(event_type, version, examples[0])] if examples else []
        return [kind for kind in kinds if registry.is_valid(factory.event(kind))]
    except ValueError:  # a schema file being written right now: leave that type out
        return []
