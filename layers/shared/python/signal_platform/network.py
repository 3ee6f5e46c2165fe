"""Client IP addresses kept small: an address truncated to its /24 (IPv4) or /48 (IPv6) network.

The validator replaces ``context.ip`` by its network's first address before it signs a batch (unless
raw addresses may be stored), so no store after it keeps the full address (docs/data-map.md);
enrichment turns either form into the same ``network.ip_prefix``. An IPv4-mapped IPv6 address counts
as IPv4; a zone index (``%eth0``) is dropped. Parsed once per distinct string: the signals of one
request share their address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Final

IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48
_PARSE_CACHE_SIZE: Final = 4096


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def network(raw: str) -> tuple[str, str] | None:
    """(normalised address, truncated network in CIDR form) of an IP address text, or None."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(address), str(ipaddress.ip_network((address, prefix), strict=False))


def network_address(raw: str) -> str | None:
    """The first address of ``raw``'s truncated network (``203.0.113.42`` -> ``203.0.113.0``): still
    an IP address, for fields whose contract says so; None when ``raw`` is not an address."""
    parsed = network(raw.strip())
    return None if parsed is None else parsed[1].partition("/")[0]
