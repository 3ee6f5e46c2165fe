"""Typed settings read from the environment, validated once, with errors that name the variable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from signal_platform.errors import ConfigurationError

_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no", ""})


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def integer(
    env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from exc
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigurationError(f"environment variable {name}={value} is outside [{minimum}, {maximum}]")
    return value


def flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"environment variable {name} must be true or false, got {raw!r}")


def groups_by_type(env: Mapping[str, str]) -> bool:
    """SIGNAL_BATCH_GROUPING (the template's SignalBatchGrouping): Request (the default) puts the
    signals of several types in one signal batch; EventType puts one event type in a batch
    (docs/adr/0010)."""
    raw = env.get("SIGNAL_BATCH_GROUPING", "").strip() or "Request"
    if raw not in ("EventType", "Request"):
        raise ConfigurationError(
            f"environment variable SIGNAL_BATCH_GROUPING must be EventType or Request, got {raw!r}"
        )
    return raw == "EventType"
