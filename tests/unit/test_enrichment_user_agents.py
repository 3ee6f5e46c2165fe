"""User agents -> device fields with ua-parser 1.x, and the cache in front of it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from enrichment.user_agents import UserAgentParser, device_fields

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
UNKNOWN = {"browser_family": "Other", "os_family": "Other", "device_family": "Other"}


class RecordingResolver:
    """Stands in for ua-parser: remembers every string it resolves and knows none of them."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.built = 0

    def factory(self) -> RecordingResolver:
        self.built += 1
        return self

    def __call__(self, user_agent: str) -> Any:
        self.seen.append(user_agent)
        return SimpleNamespace(user_agent=None, os=None, device=None)


@pytest.fixture(scope="module")
def parser() -> UserAgentParser:
    return UserAgentParser()


def device(browser: str, os: str, family: str, **optional: str) -> dict[str, str]:
    """The expected device object: the three families plus any optional fields."""
    return {"browser_family": browser, "os_family": os, "device_family": family, **optional}


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            CHROME_WINDOWS,
            device("Chrome", "Windows", "Other", browser_version="131.0.0.0", os_version="10"),
        ),
        (
            IPHONE_SAFARI,
            device(
                "Mobile Safari",
                "iOS",
                "iPhone",
                browser_version="17.4",
                os_version="17.4",
                device_brand="Apple",
                device_model="iPhone",
            ),
        ),
        (
            ANDROID_CHROME,
            device(
                "Chrome Mobile",
                "Android",
                "Samsung SM-S918B",
                browser_version="120.0.6099.144",
                os_version="14",
                device_brand="Samsung",
                device_model="SM-S918B",
            ),
        ),
        (
            MAC_SAFARI,
            device(
                "Safari",
                "Mac OS X",
                "Mac",
                browser_version="17.4",
                os_version="10.15.7",
                device_brand="Apple",
                device_model="Mac",
            ),
        ),
        ("curl/8.4.0", device("curl", "Other", "Other", browser_version="8.4.0")),
        (
            GOOGLEBOT,
            device(
                "Googlebot",
                "Other",
                "Spider",
                browser_version="2.1",
                device_brand="Spider",
                device_model="Desktop",
            ),
        ),
        ("something nobody knows/0", UNKNOWN),
        ("", UNKNOWN),
        ("   ", UNKNOWN),
        (None, UNKNOWN),
        (42, UNKNOWN),
    ],
    ids=[
        "desktop-chrome",
        "iphone-safari",
        "android",
        "mac-safari",
        "curl",
        "googlebot",
        "unknown",
        "empty",
        "blank",
        "none",
        "not-a-string",
    ],
)
def test_describe_user_agent_gives_device_fields(
    parser: UserAgentParser, user_agent: Any, expected: dict[str, str]
) -> None:
    # GIVEN a user agent / WHEN described / THEN browser, OS and device are filled, "Other" when unknown
    assert parser.describe(user_agent) == expected


def test_describe_repeated_user_agent_resolves_once() -> None:
    # GIVEN a parser over a resolver that counts its calls
    resolver = RecordingResolver()
    parser = UserAgentParser(cache_size=2, resolver_factory=resolver.factory)
    # WHEN the same strings are described many times (padding differences included)
    for _ in range(100):
        parser.describe(CHROME_WINDOWS)
        parser.describe(f"  {CHROME_WINDOWS} ")
        parser.describe(IPHONE_SAFARI)
    # THEN each distinct string is resolved once, and the resolver is built once, on first use
    assert resolver.seen == [CHROME_WINDOWS, IPHONE_SAFARI]
    assert resolver.built == 1
    assert parser.cache_info().hits == 298


def test_describe_cache_is_bounded_and_evicts_least_recent() -> None:
    # GIVEN a cache of two entries
    resolver = RecordingResolver()
    parser = UserAgentParser(cache_size=2, resolver_factory=resolver.factory)
    # WHEN three strings are described, then the first again
    for user_agent in ("a/1", "b/1", "c/1", "a/1"):
        parser.describe(user_agent)
    # THEN the first was evicted and resolved again; the cache never holds more than two
    assert resolver.seen == ["a/1", "b/1", "c/1", "a/1"]
    assert parser.cache_info().currsize == 2


def test_describe_returns_a_copy_the_caller_may_change(parser: UserAgentParser) -> None:
    # GIVEN a described user agent whose answer is changed by the caller
    first = parser.describe(CHROME_WINDOWS)
    first["browser_family"] = "changed"
    # WHEN it is described again / THEN the cached answer is intact
    assert parser.describe(CHROME_WINDOWS)["browser_family"] == "Chrome"


def test_describe_very_long_user_agent_is_clipped_before_parsing() -> None:
    # GIVEN a 5,000-character user agent
    resolver = RecordingResolver()
    parser = UserAgentParser(resolver_factory=resolver.factory)
    # WHEN described / THEN only its first 1,024 characters reach the parser (and the cache)
    parser.describe("x" * 5000)
    assert [len(ua) for ua in resolver.seen] == [1024]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("1", "2", "3", "4"), "1.2.3.4"),
        (("1", None, "3", None), "1"),
        ((None, "2", None, None), None),
        (("", "", "", ""), None),
    ],
)
def test_device_fields_version_stops_at_the_first_missing_part(
    parts: tuple[Any, ...], expected: str | None
) -> None:
    agent = SimpleNamespace(
        family="Fox", major=parts[0], minor=parts[1], patch=parts[2], patch_minor=parts[3]
    )
    fields = device_fields(SimpleNamespace(user_agent=agent, os=None, device=None))
    assert fields.get("browser_version") == expected
    assert fields["browser_family"] == "Fox"


def test_device_fields_are_clipped_to_the_contract() -> None:
    # GIVEN what ua-parser copies out of a long user agent: a 900-character model, a 300-digit version
    long_name, long_version = "Z" * 900, "9" * 300
    result = SimpleNamespace(
        user_agent=SimpleNamespace(
            family=long_name, major=long_version, minor="1", patch=None, patch_minor=None
        ),
        os=SimpleNamespace(family=long_name, major=long_version, minor=None, patch=None, patch_minor=None),
        device=SimpleNamespace(family=long_name, brand=long_name, model=long_name),
    )
    # WHEN the device fields are made / THEN each within contracts/enriched_batch's bound
    fields = device_fields(result)
    assert {name: len(value) for name, value in fields.items()} == {
        "browser_family": 256,
        "browser_version": 64,
        "os_family": 256,
        "os_version": 64,
        "device_family": 256,
        "device_brand": 256,
        "device_model": 256,
    }


def test_long_user_agent_gives_fields_within_the_contract(parser: UserAgentParser) -> None:
    # GIVEN a real-looking Android user agent with a 900-character device and a 300-digit version
    agent = (
        f"Mozilla/5.0 (Linux; Android 10; {'X' * 900} Build/QP1A) Chrome/{'9' * 60}.0 Mobile Safari/537.36"
    )
    # WHEN described / THEN ua-parser's fields, clipped
    fields = parser.describe(agent)
    assert fields["device_model"] == "X" * 256
    assert all(len(value) <= 256 for value in fields.values())
    assert all(len(fields[name]) <= 64 for name in ("browser_version", "os_version") if name in fields)
