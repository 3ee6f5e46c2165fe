"""Standardisation rules, table-driven: timestamps, codes, locale, page, UTM, IP, partition key."""

from __future__ import annotations

from typing import Any

import pytest

from enrichment import standardise as std
from signal_platform.errors import MalformedSignalError

# --- timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-26T14:03:21.457Z", "2026-11-26T14:03:21.457Z"),
        ("2026-11-26T15:03:21.457+01:00", "2026-11-26T14:03:21.457Z"),
        ("2026-11-26T14:03:21Z", "2026-11-26T14:03:21.000Z"),
        ("2026-11-26T14:03:21.457891Z", "2026-11-26T14:03:21.457Z"),
        ("2026-11-26T14:03:21.4+00:00", "2026-11-26T14:03:21.400Z"),
        ("2026-11-26t14:03:21.457z", "2026-11-26T14:03:21.457Z"),
        ("  2026-11-26T14:03:21.457Z ", "2026-11-26T14:03:21.457Z"),
        ("2026-11-27T00:30:00.000+05:30", "2026-11-26T19:00:00.000Z"),
        ("2026-11-26T20:00:00.000-08:00", "2026-11-27T04:00:00.000Z"),
        ("2026-12-31T23:59:60.000Z", "2027-01-01T00:00:00.000Z"),
        ("2026-12-31T23:59:60Z", "2027-01-01T00:00:00.000Z"),
        ("2026-12-31t23:59:60.250z", "2027-01-01T00:00:00.250Z"),
    ],
    ids=[
        "canonical",
        "offset",
        "no-fraction",
        "micros",
        "one-digit",
        "lower-case",
        "padded",
        "plus-0530",
        "minus-08",
        "leap-second-canonical",
        "leap-second",
        "leap-second-lower-case",
    ],
)
def test_utc_timestamp_any_offset_gives_utc_millis(raw: str, expected: str) -> None:
    # GIVEN an RFC 3339 timestamp / WHEN standardised / THEN it is UTC with milliseconds and a Z
    assert std.utc_timestamp(raw, "occurred_at") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "yesterday",
        "2026-11-26T14:03:21",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00.000Z",
        "",
        None,
        1764165801,
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
    ],
    ids=[
        "words",
        "no-offset",
        "month-13",
        "feb-30",
        "empty",
        "none",
        "epoch-number",
        "before-year-1",
        "after-9999",
    ],
)
def test_utc_timestamp_unusable_raises_malformed_signal(raw: Any) -> None:
    # GIVEN text that is no RFC 3339 timestamp with an offset / WHEN standardised / THEN it is refused
    with pytest.raises(MalformedSignalError, match="occurred_at"):
        std.utc_timestamp(raw, "occurred_at")


# --- codes, text, identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("page_view", "page_view"), (" Page_View ", "page_view"), ("WEB-Shop\t", "web-shop")],
)
def test_code_is_trimmed_and_lower_case(raw: str, expected: str) -> None:
    assert std.code(raw, "event_type") == expected


@pytest.mark.parametrize("raw", ["", "   ", None, 5])
def test_code_missing_raises_malformed_signal(raw: Any) -> None:
    with pytest.raises(MalformedSignalError, match="source"):
        std.code(raw, "source")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" usr_ABC ", "usr_ABC"), ("", None), ("  ", None), (None, None), (42, None)],
)
def test_identifier_keeps_case_and_drops_empty(raw: Any, expected: str | None) -> None:
    assert std.identifier(raw) == expected


def test_text_is_clipped_to_the_limit() -> None:
    assert std.text("  " + "x" * 600 + "  ", 512) == "x" * 512


# --- locale --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("en-US", "en-US"),
        ("en-us", "en-US"),
        ("EN_us", "en-US"),
        (" de ", "de"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("fil-PH", "fil-PH"),
        ("english", None),
        ("en-USA", None),
        ("", None),
        (None, None),
    ],
)
def test_locale_gets_bcp47_casing_or_is_dropped(raw: Any, expected: str | None) -> None:
    assert std.locale(raw) == expected


# --- page and campaign ---------------------------------------------------------------------------

UTM_URL = (
    "https://Shop.Example.com/products/shoe?utm_source=Newsletter&utm_medium=EMail"
    "&utm_campaign=Autumn%20Sale&utm_term=trail+shoes&utm_content=hero&color=blue"
)


@pytest.mark.parametrize(
    ("url", "campaign", "expected"),
    [
        (
            UTM_URL,
            {},
            {
                "source": "newsletter",
                "medium": "email",
                "name": "Autumn Sale",
                "term": "trail shoes",
                "content": "hero",
            },
        ),
        ("https://shop.example.com/cart", {}, {}),
        ("https://shop.example.com/?color=blue", {}, {}),
        ("https://shop.example.com/?utm_source=a&utm_source=b", {}, {"source": "a"}),
        ("https://shop.example.com/?UTM_SOURCE=Google&utm_medium=", {}, {"source": "google"}),
        (
            UTM_URL,
            {"source": "Google", "name": "Spring"},
            {
                "source": "google",
                "medium": "email",
                "name": "Spring",
                "term": "trail shoes",
                "content": "hero",
            },
        ),
        (None, {"source": " CPC-Partner ", "medium": "cpc"}, {"source": "cpc-partner", "medium": "cpc"}),
        ("http://[::1/broken?utm_source=x", {}, {}),
        ("not a url?utm_source=x", {}, {"source": "x"}),
    ],
    ids=[
        "all-utm",
        "no-query",
        "no-utm",
        "first-wins",
        "name-case-empty",
        "context-wins",
        "context-only",
        "bad-ipv6-url",
        "relative",
    ],
)
def test_campaign_fields_merge_url_utm_with_context(
    url: str | None, campaign: dict[str, str], expected: dict[str, str]
) -> None:
    # GIVEN a page URL and the SDK's context.campaign / WHEN merged / THEN context wins field by field
    assert std.campaign_fields(campaign, url) == expected


@pytest.mark.parametrize(
    ("page", "data", "expected"),
    [
        (
            {
                "url": UTM_URL,
                "path": "/products/shoe",
                "referrer": "https://www.google.com/",
                "title": " Shoe ",
            },
            {},
            {
                "url": UTM_URL,
                "path": "/products/shoe",
                "referrer": "https://www.google.com/",
                "title": "Shoe",
                "host": "shop.example.com",
            },
        ),
        (
            {},
            {
                "page_url": "https://shop.example.com/cart",
                "referrer_url": "https://shop.example.com/",
                "page_title": "Cart",
            },
            {
                "url": "https://shop.example.com/cart",
                "path": "/cart",
                "referrer": "https://shop.example.com/",
                "title": "Cart",
                "host": "shop.example.com",
            },
        ),
        (
            {"url": "https://shop.example.com"},
            {},
            {"url": "https://shop.example.com", "path": "/", "host": "shop.example.com"},
        ),
        ({}, {}, {}),
        ({"url": "http://[::1/broken"}, {}, {"url": "http://[::1/broken"}),
    ],
    ids=["context", "data-fallback", "root", "nothing", "unparsable"],
)
def test_page_fields_from_context_else_data(
    page: dict[str, Any], data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert std.page_fields(page, data) == expected


# --- network -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "prefix", "normalised"),
    [
        ("203.0.113.42", "203.0.113.0/24", "203.0.113.42"),
        (" 10.1.2.3 ", "10.1.2.0/24", "10.1.2.3"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::/48", "2001:db8:85a3::8a2e:370:7334"),
        ("2001:0DB8:85A3:0000:0000:8A2E:0370:7334", "2001:db8:85a3::/48", "2001:db8:85a3::8a2e:370:7334"),
        ("::ffff:198.51.100.7", "198.51.100.0/24", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/48", "fe80::1"),
    ],
    ids=["ipv4", "ipv4-padded", "ipv6", "ipv6-long-upper", "ipv4-mapped", "ipv6-zone"],
)
def test_network_fields_truncate_ip(ip: str, prefix: str, normalised: str) -> None:
    # GIVEN a client address / WHEN standardised / THEN only its /24 or /48 travels, unless raw is allowed
    assert std.network_fields(ip, store_raw_ip=False) == {"ip_prefix": prefix}
    assert std.network_fields(ip, store_raw_ip=True) == {"ip_prefix": prefix, "ip": normalised}


@pytest.mark.parametrize("ip", ["300.1.2.3", "2001:db8::g", "localhost", "", None, 3232235777])
def test_network_fields_invalid_ip_gives_nothing(ip: Any) -> None:
    assert std.network_fields(ip, store_raw_ip=True) == {}


# --- identity and partition key ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"user_id": "u1", "anonymous_id": "a1", "session_id": "s1"}, "u1"),
        ({"anonymous_id": "a1", "session_id": "s1"}, "a1"),
        ({"session_id": " s1 "}, "s1"),
        ({"user_id": "  ", "anonymous_id": "a1"}, "a1"),
        ({}, "web-shop:3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c"),
    ],
    ids=["user", "anonymous", "session", "blank-user", "none"],
)
def test_partition_key_prefers_the_most_stable_identity(context: dict[str, str], expected: str) -> None:
    user = std.user_fields(context)
    key = std.partition_key(user, source="web-shop", event_id="3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c")
    assert key == expected


def test_library_name_is_a_code_and_version_text() -> None:
    assert std.library_fields({"name": " Signals-JS ", "version": " 2.4.1 "}) == {
        "name": "signals-js",
        "version": "2.4.1",
    }
    assert std.library_fields({}) == {}


def test_codes_are_clipped_after_lower_case_which_can_lengthen_them() -> None:
    # GIVEN codes at their contract's bound of characters whose lower case is two ("İ" -> "i̇")
    dotted = "\u0130"
    # WHEN standardised / THEN lower case, within the bound (256 for UTM codes, 64 for a library)
    campaign = std.campaign_fields({"source": dotted * 256, "medium": " CPC "}, None)
    assert campaign == {"source": (dotted.lower() * 256)[:256], "medium": "cpc"}
    from_url = std.campaign_fields({}, f"https://shop.example.com/?utm_source={'%C4%B0' * 256}")
    assert from_url == {"source": (dotted.lower() * 256)[:256]}
    assert std.library_fields({"name": dotted * 64}) == {"name": (dotted.lower() * 64)[:64]}


@pytest.mark.parametrize(("labels", "kept"), [(["a" * 63] * 4, False), (["a" * 63] * 3 + ["a" * 61], True)])
def test_page_host_only_when_it_can_be_a_dns_name(labels: list[str], kept: bool) -> None:
    # GIVEN a URL whose host is 255 or 253 characters long (the uri format takes either)
    url = f"https://{'.'.join(labels)}/shoes"
    # WHEN the page fields are made / THEN the host is kept only within a DNS name's 253
    fields = std.page_fields({"url": url}, {})
    assert fields.get("host") == (".".join(labels) if kept else None)
    assert fields["url"] == url
    assert fields["path"] == "/shoes"


@pytest.mark.parametrize(
    ("value", "ok"), [(None, True), ({}, True), ({"a": 1}, True), ([], False), ("x", False)]
)
def test_mapping_accepts_objects_and_absence_only(value: Any, ok: bool) -> None:
    if ok:
        assert dict(std.mapping(value, "context")) == (value or {})
    else:
        with pytest.raises(MalformedSignalError, match="context must be an object"):
            std.mapping(value, "context")
