"""Hypothesis strategies for content that is legal but odd: what a schema allows, at its edges.

Odd text (astral-plane and combining characters, U+2028/2029, NUL and other control characters,
bidi marks, noncharacters, text that looks like an escape), numbers at the edges of what the judge
accepts (int64 bounds, -0.0, the largest and smallest doubles, floats with many digits) and just
past them (integers outside int64, which must be refused, never read as a rounded double), odd keys
(empty, long, dotted, ``$``, quotes, envelope field names, equal but for their case), empty and
deep-but-allowed values, user agents ua-parser recognises with odd text where it captures, odd URIs
(IDN, long hosts, ports, percent-encoding), and ``from_schema``: any value of a registry schema,
each keyword's bound reached now and then. Lone surrogates are left out: no UTF-8 body can carry
one (the edge fuzz tests send them and expect a refusal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hypothesis import strategies as st

from signal_platform import codec
from tests.fuzz.strategies import URLS

ODD_CHARACTERS: Final = [
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\x85",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\u3000",
    "\u200b",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\U0001f600",
    "\U0001f44d\U0001f3fd",
    "\U00020000",
    "\U0010ffff",
    "e\u0301",
    "\u0301",
    "\u0130",
    "\u00df",
    "\ufb01",
    '"',
    "\\",
    "/",
    "\\ud800",
    "\\u0000",
    "%00",
    "%zz",
    "</script>",
    "${x}",
    " ",
]
# Any character a UTF-8 body carries (surrogates are not characters), and the odd pieces often.
_PIECES = st.characters(codec="utf-8") | st.sampled_from(ODD_CHARACTERS)


def _sized(pieces: list[str], min_size: int, max_size: int, repeat: bool) -> str:
    """The pieces joined (repeated up to ``max_size`` when ``repeat``), within the bounds in
    characters (code points, as JSON Schema counts them)."""
    text = "".join(pieces)
    if repeat and text:
        text *= max_size // len(text) + 1
    text = text[:max_size]
    return text + "x" * (min_size - len(text))


def odd_text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text of ``min_size`` to ``max_size`` characters, odd ones among them; now and then exactly
    ``max_size`` long (a 2,048-character field of astral characters is 8 KB of UTF-8)."""
    pieces = st.lists(_PIECES, max_size=12)
    short = pieces.map(lambda drawn: _sized(drawn, min_size, max_size, repeat=False))
    if max_size <= 24:
        return short
    at_bound = pieces.map(lambda drawn: _sized(drawn, min_size, max_size, repeat=True))
    return st.one_of(short, short, short, at_bound)


def _long_text(size: int) -> st.SearchStrategy[str]:
    return odd_text(size, size)


INT64_MAX: Final = codec.BUS_INTEGERS.stop - 1
INT64_MIN: Final = codec.BUS_INTEGERS.start
ODD_NUMBERS: Final = [
    0,
    -0.0,
    0.0,
    1,
    -1,
    2**31,
    2**53,
    2**53 + 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX - 1,
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    0.1,
    0.30000000000000004,
    1 / 3,
    123456789.12345679,
    1e-7,
    1e16,
    1e21,
    9007199254740993.0,
]
# Integers no int64 holds, which the judge refuses (integer_out_of_range): written as integers, the
# ones past 64 bits as well, which a 64-bit JSON parser reads as the nearest double.
PAST_INT64: Final = [INT64_MIN - 1, INT64_MAX + 1, 2**64 - 1, 2**64, 10**20, -(10**30)]
ODD_SCALARS: Final = st.one_of(
    st.sampled_from(ODD_NUMBERS + PAST_INT64),
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text(),
    st.booleans(),
    st.none(),
)
ODD_KEYS: Final = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            ".",
            "a.b",
            "a..b",
            "$",
            "$ref",
            "$set",
            '"',
            "'",
            "\\",
            "\x00",
            "\u2028",
            "\U0001f600",
            "A",
            "a",
            "Price",
            "price",
            "event_id",
            "EVENT_ID",
            "event_type",
            "data",
            "source",
            "signals",
            "origin",
            "properties",
            "context",
            "derived_at",
            "partition_key",
            "ip",
            "userAgent",
            "page",
            "locale",
            "__proto__",
            "k" * 512,
            "\u00e9",
            "e\u0301",
        ]
    ),
    odd_text(max_size=12),
)
ODD_JSON: Final = st.recursive(
    ODD_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(ODD_KEYS, children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def deep_values(draw: st.DrawFn, levels: int) -> Any:
    """A scalar under exactly ``levels`` arrays and objects, in a drawn order."""
    value = draw(ODD_SCALARS)
    pattern = draw(st.integers(min_value=0, max_value=2**16))
    for level in range(levels):
        value = {draw(ODD_KEYS): value} if pattern >> (level % 16) & 1 else [value]
    return value


@st.composite
def odd_objects(draw: st.DrawFn, room: int) -> dict[str, Any]:
    """A free-form object (properties, traits, context, ...) that nests at most ``room`` levels, itself
    included: empty, odd members, a very long text member, or a member nested as deep as ``room``
    allows."""
    how = draw(st.sampled_from(["members", "members", "members", "empty", "deep", "long"]))
    if how == "empty" or room < 1:
        return {}
    members: dict[str, Any] = draw(st.dictionaries(ODD_KEYS, ODD_JSON, max_size=6))
    if how == "long":  # 2,000 to 8,000 characters: up to 48 KB once escaped, past the event limit
        members[draw(ODD_KEYS)] = draw(st.integers(min_value=2_000, max_value=8_000).flatmap(_long_text))
    if how == "deep" and room > 1:
        levels = draw(st.sampled_from([room - 1, room - 2]) | st.integers(min_value=1, max_value=room - 1))
        members[draw(ODD_KEYS)] = draw(deep_values(max(0, levels)))
    return members


# --- any value of a registry schema ----------------------------------------------------------------

# The keywords the registry's schemas use; from_schema refuses a schema with any other, so that a new
# keyword gets a strategy rather than values that ignore it.
_KEYWORDS: Final = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
        "maxProperties",
        "propertyNames",
        "description",
        "examples",
        "title",
        "$schema",
        "$id",
    }
)
# URIs the `uri` format takes, at their odd edges.
ODD_URIS: Final = [
    "https://xn--r8jz45g.jp/",
    "http://[::1]:80/",
    "http://[::ffff:192.0.2.1]:8080/a?b#c",
    "http://user:p%40ss@shop.example.com:65535/%F0%9F%98%80?utm_source=%20News%20Letter&utm_medium=EMAIL",
    "https://shop.example.com/?utm_source=a&utm_source=b&utm_campaign=%E2%80%A8",
    "HTTPS://SHOP.EXAMPLE.COM./A/../B/./C",
    "https://" + "a" * 300 + ".example/",
    "http://" + ".".join(["h" * 63] * 4) + "/",
    "https://EXAMPLE.com:99999/",
    "urn:isbn:0451450523",
    "mailto:a@example.com",
    "data:,hello",
    "x:",
]


# User agents that ua-parser recognises, with odd text where it captures a device, a version or a
# family: whatever a client writes there comes back in the enriched device fields.
USER_AGENTS: Final = st.builds(
    "{}{}{}".format,
    st.sampled_from(
        [
            "Mozilla/5.0 (Linux; Android 10; ",
            "Dalvik/2.1.0 (Linux; U; Android 9; ",
            "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/",
            "Mozilla/5.0 (iPhone; CPU iPhone OS ",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 ",
        ]
    ),
    st.text(st.sampled_from("0123456789._AZaz -"), max_size=16) | odd_text(0, 900),
    st.sampled_from(
        [
            " Build/QP1A) AppleWebKit/537.36 Chrome/90.0 Mobile Safari/537.36",
            ".0 Safari/537.36",
            "_4 like Mac OS X)",
            "/1.0",
        ]
    ),
).map(lambda agent: agent[:1024])


def _uris(max_length: int) -> st.SearchStrategy[str]:
    long_uri = "https://shop.example.com/" + "a" * (max_length - len("https://shop.example.com/"))
    return st.one_of(URLS, st.sampled_from([*ODD_URIS, long_uri])).filter(lambda uri: len(uri) <= max_length)


def _numbers(schema: Mapping[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum", INT64_MIN), schema.get("maximum", INT64_MAX)
    edges = [number for number in ODD_NUMBERS if low <= number <= high and (not integer or number % 1 == 0)]
    edges += [low, high]
    if integer:
        return st.integers(min_value=low, max_value=high) | st.sampled_from(edges)
    return st.one_of(
        st.floats(min_value=low, max_value=high, allow_nan=False),
        st.integers(min_value=int(low), max_value=int(high)),
        st.sampled_from(edges),
    )


def from_schema(schema: Mapping[str, Any], room: int) -> st.SearchStrategy[Any]:  # noqa: PLR0911
    """Any value ``schema`` (one of the registry's) accepts, nested at most ``room`` levels; free-form
    objects get ``odd_objects``."""
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"from_schema has no strategy for {sorted(unknown)}")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 512)
        if schema.get("format") == "uri":
            return _uris(high)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda text: low <= len(text) <= high
            )
        return odd_text(low, high)
    if kind in ("integer", "number"):
        return _numbers(schema, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = from_schema(schema["items"], room - 1)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, min(schema.get("maxItems", 4), 4)))
    if kind == "object":
        return _objects(schema, room)
    raise ValueError(f"from_schema has no strategy for type {kind!r}")


def _objects(schema: Mapping[str, Any], room: int) -> st.SearchStrategy[Any]:
    properties = schema.get("properties")
    if properties is None:
        values = schema.get("additionalProperties")
        if not isinstance(values, Mapping):
            return odd_objects(room)
        names = schema.get("propertyNames", {})
        keys = odd_text(names.get("minLength", 0), names.get("maxLength", 64))
        return st.dictionaries(
            keys, from_schema(values, room - 1), max_size=min(schema.get("maxProperties", 6), 6)
        )
    required = set(schema.get("required", ()))
    members = {name: from_schema(member, room - 1) for name, member in properties.items()}
    return st.fixed_dictionaries(
        {name: members[name] for name in properties if name in required},
        optional={name: members[name] for name in properties if name not in required},
    )
