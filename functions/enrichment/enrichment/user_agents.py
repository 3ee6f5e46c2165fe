"""User agent -> browser, OS and device, with ua-parser 1.x (the ua-parser-rs resolver) behind an LRU.

Traffic repeats a small set of user agents, so the finished device fields are cached per user-agent
string (``functools.lru_cache``: C-implemented, thread-safe, bounded). A hit costs a dict lookup and a
copy, well under a microsecond; putting ua-parser's own ``CachingResolver`` in front instead costs
about 5 µs per hit here, because every hit still rebuilds the ``Result`` and the fields. A miss runs
the Rust resolver (roughly 30-80 µs). ua-parser is imported and its matchers compiled on the first
parse, not at import: about 70 ms + 175 ms once per container, paid only by a container that parses.

Unknown parts follow ua-parser's own convention: family ``"Other"``, no version. An empty user agent
gives the all-``Other`` answer without touching the parser. Each field is clipped to the enriched
contract's bound: ua-parser copies families, brands, models and versions out of the user agent, so a
1,024-character one can give a 900-character model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

DEFAULT_CACHE_SIZE: Final = 10_000
# The envelope caps context.user_agent at 1,024 characters; the cap bounds the cache's memory too.
MAX_USER_AGENT_CHARS: Final = 1024
OTHER: Final = "Other"
# contracts/enriched_batch: device families, brand and model; versions.
MAX_NAME_CHARS: Final = 256
MAX_VERSION_CHARS: Final = 64

_UNKNOWN: Final[dict[str, str]] = {"browser_family": OTHER, "os_family": OTHER, "device_family": OTHER}

Resolver = Callable[[str], Any]


def _version(*parts: str | None) -> str | None:
    """``major.minor.patch...`` up to the first missing part, clipped; None when there is no major."""
    present: list[str] = []
    for part in parts:
        if not part:
            break
        present.append(part)
    return ".".join(present)[:MAX_VERSION_CHARS] or None


def _name(value: str | None) -> str:
    return (value or OTHER)[:MAX_NAME_CHARS]


def device_fields(result: Any) -> dict[str, str]:
    """The enriched ``device`` object from a ua-parser ``Result`` (or ``PartialResult``)."""
    fields = dict(_UNKNOWN)
    if (agent := result.user_agent) is not None:
        fields["browser_family"] = _name(agent.family)
        if version := _version(agent.major, agent.minor, agent.patch, agent.patch_minor):
            fields["browser_version"] = version
    if (os := result.os) is not None:
        fields["os_family"] = _name(os.family)
        if version := _version(os.major, os.minor, os.patch, os.patch_minor):
            fields["os_version"] = version
    if (device := result.device) is not None:
        fields["device_family"] = _name(device.family)
        if device.brand:
            fields["device_brand"] = device.brand[:MAX_NAME_CHARS]
        if device.model:
            fields["device_model"] = device.model[:MAX_NAME_CHARS]
    return fields


def default_resolver() -> Resolver:
    """ua-parser's best available resolver (ua-parser-rs when installed) over the bundled matchers."""
    import ua_parser  # noqa: PLC0415 - deferred: import + matcher compilation cost ~250 ms

    resolver = ua_parser.BestAvailableResolver(ua_parser.load_lazy_builtins())
    domains = ua_parser.Domain.ALL

    def resolve(user_agent: str) -> Any:
        return resolver(user_agent, domains)

    return resolve


class UserAgentParser:
    """``describe(user_agent)`` -> a fresh ``device`` dict; repeated strings come from the cache."""

    def __init__(
        self,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        resolver_factory: Callable[[], Resolver] = default_resolver,
    ) -> None:
        self._resolver_factory = resolver_factory
        self._resolver: Resolver | None = None
        self._cached = lru_cache(maxsize=cache_size)(self._parse)

    def describe(self, user_agent: object) -> dict[str, str]:
        if not isinstance(user_agent, str):
            return dict(_UNKNOWN)
        text = user_agent.strip()[:MAX_USER_AGENT_CHARS]
        if not text:
            return dict(_UNKNOWN)
        # A copy: callers own the dict they get, the cached one is never handed out.
        return dict(self._cached(text))

    def cache_info(self) -> Any:
        return self._cached.cache_info()

    def _parse(self, user_agent: str) -> dict[str, str]:
        if self._resolver is None:
            self._resolver = self._resolver_factory()
        return device_fields(self._resolver(user_agent))
