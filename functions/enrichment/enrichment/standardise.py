"""Standardisation rules for one signal's fields (pure functions, no I/O).

- Timestamps: UTC, millisecond precision, ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
- Codes (event type, source, library name, UTM source and medium): trimmed and lower case, then
  clipped to the contract's length (lower case can be longer: "İ" is two characters).
  Identifiers (event_id, user/anonymous/session ids) are trimmed only: they are case-sensitive.
  Free text (URLs, titles, campaign names) is trimmed and clipped to the contract's length.
- Page host: the URL's host when it can be a DNS name (253 characters at most), else none.
- Locale: BCP 47 casing, ``en_us`` / ``en-us`` -> ``en-US``, ``zh-hant-tw`` -> ``zh-Hant-TW``;
  anything else is dropped (locale is optional).
- Campaign: UTM parameters of the page URL, with the SDK's ``context.campaign`` winning field by
  field (the SDK keeps the landing page's attribution for the whole visit; the current URL often
  has none).
- Network: the IP address truncated to its /24 (IPv4) or /48 (IPv6) network
  (``signal_platform.network``); an invalid address gives no network fields (never a quarantine).
- Partition key: see ``partition_key``.

URL and IP parsing are cached per string: the signals of one request share their page and address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from signal_platform import network as networks
from signal_platform.errors import MalformedSignalError
from signal_platform.timeutil import format_rfc3339, parse_rfc3339

MAX_URL_CHARS: Final = 2048
MAX_TITLE_CHARS: Final = 512
MAX_CAMPAIGN_CHARS: Final = 256
MAX_LIBRARY_NAME_CHARS: Final = 64
MAX_LIBRARY_VERSION_CHARS: Final = 32
MAX_HOST_CHARS: Final = 253  # the longest DNS name, and the contract's bound on page.host
_PARSE_CACHE_SIZE: Final = 4096

# utm_* query parameter -> campaign field (the names of context.campaign in the envelope).
UTM_FIELDS: Final = {
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "name",
    "utm_term": "term",
    "utm_content": "content",
}
# Campaign fields that are codes (lower-cased); the others are free text.
_CAMPAIGN_CODES: Final = frozenset({"source", "medium"})
IDENTITY_FIELDS: Final = ("user_id", "anonymous_id", "session_id")

_CANONICAL_TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_LOCALE: Final = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


def utc_timestamp(value: object, field: str) -> str:
    """An RFC 3339 timestamp with an offset, as UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    if not isinstance(value, str):
        raise MalformedSignalError(f"{field} must be an RFC 3339 timestamp string")
    try:
        if _CANONICAL_TIMESTAMP.fullmatch(value) and value[17] != "6":
            # Most are canonical already (SDKs and the validator write this form): only check the date.
            # A leap second (":60", which the validator takes at 23:59 UTC) is read as the next
            # minute's first instant, below.
            datetime.fromisoformat(value)
            return value
        moment = parse_rfc3339(value.strip().upper())  # RFC 3339 allows "t" and "z"; fromisoformat not
        return format_rfc3339(moment)
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset that moves it out of UTC's years
        raise MalformedSignalError(f"{field} is not an RFC 3339 timestamp with an offset: {exc}") from exc


def code(value: object, field: str) -> str:
    """A required code: trimmed, lower case, not empty."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedSignalError(f"{field} must be a non-empty string")
    return value.strip().lower()


def text(value: object, limit: int) -> str | None:
    """Optional free text: trimmed and clipped; None when absent, empty or not a string."""
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None


def code_text(value: object, limit: int) -> str | None:
    """An optional code: trimmed, lower case, clipped; None when absent, empty or not a string."""
    if not isinstance(value, str):
        return None
    return value.strip().lower()[:limit] or None


def identifier(value: object) -> str | None:
    """Optional identifier: trimmed, case kept; None when absent, empty or not a string."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def locale(value: object) -> str | None:
    """BCP 47 language[-Script][-REGION] with canonical casing, or None when it is not one."""
    return _locale(value) if isinstance(value, str) else None


@lru_cache(maxsize=256)
def _locale(value: str) -> str | None:
    match = _LOCALE.fullmatch(value.strip())
    if match is None:
        return None
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _url_parts(url: str) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
    """(host, path, campaign fields from utm_* parameters) of a URL; all empty when it does not parse."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None, None, ()
    utm: dict[str, str] = {}
    if "utm_" in parts.query:
        for name, raw in parse_qsl(parts.query):
            field = UTM_FIELDS.get(name.lower())
            value = _campaign_value(field, raw) if field else None
            if field and value and field not in utm:  # the first occurrence wins
                utm[field] = value
    path = parts.path or ("/" if host else None)
    return host, path, tuple(utm.items())


def _campaign_value(field: str | None, raw: object) -> str | None:
    if field in _CAMPAIGN_CODES:
        return code_text(raw, MAX_CAMPAIGN_CHARS)
    return text(raw, MAX_CAMPAIGN_CHARS)


def page_fields(page: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, str]:
    """The enriched ``page``: ``context.page`` first, the event data's page fields as fallback."""
    fields: dict[str, str] = {}
    url = text(page.get("url"), MAX_URL_CHARS) or text(data.get("page_url"), MAX_URL_CHARS)
    host = path = None
    if url:
        fields["url"] = url
        host, path, _ = _url_parts(url)
    if path := text(page.get("path"), MAX_URL_CHARS) or path:
        fields["path"] = path
    if referrer := text(page.get("referrer"), MAX_URL_CHARS) or text(data.get("referrer_url"), MAX_URL_CHARS):
        fields["referrer"] = referrer
    if title := text(page.get("title"), MAX_TITLE_CHARS) or text(data.get("page_title"), MAX_TITLE_CHARS):
        fields["title"] = title
    if host and len(host) <= MAX_HOST_CHARS:
        fields["host"] = host
    return fields


def campaign_fields(campaign: Mapping[str, Any], url: str | None) -> dict[str, str]:
    """UTM parameters of ``url`` merged with ``context.campaign``, which wins field by field."""
    fields: dict[str, str] = dict(_url_parts(url)[2]) if url else {}
    if campaign:
        for field in UTM_FIELDS.values():
            if value := _campaign_value(field, campaign.get(field)):
                fields[field] = value
    return fields


def network_fields(ip: object, *, store_raw_ip: bool) -> dict[str, str]:
    """``{"ip_prefix": <network>}`` (plus ``ip`` when raw addresses may be stored), or ``{}``."""
    if not isinstance(ip, str):
        return {}
    parsed = networks.network(ip.strip())
    if parsed is None:
        return {}
    address, network = parsed
    return {"ip_prefix": network, "ip": address} if store_raw_ip else {"ip_prefix": network}


def library_fields(library: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    if name := code_text(library.get("name"), MAX_LIBRARY_NAME_CHARS):
        fields["name"] = name
    if version := text(library.get("version"), MAX_LIBRARY_VERSION_CHARS):
        fields["version"] = version
    return fields


def user_fields(context: Mapping[str, Any]) -> dict[str, str]:
    return {name: value for name in IDENTITY_FIELDS if (value := identifier(context.get(name)))}


def partition_key(user: Mapping[str, str], *, source: str, event_id: str) -> str:
    """The key the data-platform stream partitions on: a stable key per person, else per event.

    ``user_id``, else ``anonymous_id``, else ``session_id`` (the most stable identity the signal
    has), so one person's signals stay in order on one shard. A signal with none of them has no
    order to keep: ``<source>:<event_id>`` spreads such signals evenly and still gives every copy
    of the same signal (redelivery, replay) the same shard.
    """
    for name in IDENTITY_FIELDS:
        if value := user.get(name):
            return value
    return f"{source}:{event_id}"


def mapping(value: object, field: str) -> Mapping[str, Any]:
    """An optional JSON object field: ``{}`` when absent, an error when it is something else."""
    if value is None:
        return {}
    if not isinstance(value, dict):  # JSON objects arrive as dicts; an ABC check would cost more
        raise MalformedSignalError(f"{field} must be an object")
    return value
