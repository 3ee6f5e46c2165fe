"""Where a request's write key is found: the conventions Segment, RudderStack and others use."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from signal_platform.errors import AuthenticationError

_CACHE_SIZE: Final = 1024
# Longer Authorization values are decoded each time, not kept: the cache holds what clients resend,
# and a client may send values of up to the front door's header limit (10-16 KB).
MAX_CACHED_AUTHORIZATION_CHARS: Final = 512


def has_write_key_header(headers: Mapping[str, str]) -> bool:
    """Whether the request names its write key in a header (else, on the Segment routes, the body may)."""
    return bool(headers.get("x-api-key", "").strip() or headers.get("authorization", "").strip())


def write_key_from_headers(headers: Mapping[str, str]) -> str:
    """The write key from ``x-api-key``, or the user name of HTTP Basic auth (password ignored).

    API Gateway HTTP APIs (payload v2) deliver header names in lower case. Write keys are ASCII, so
    anything else in either header is refused as a wrong key (401) before it is hashed or decoded.
    """
    api_key = headers.get("x-api-key", "").strip()
    if api_key:
        if not api_key.isascii():
            raise AuthenticationError("the write key is malformed: it must be ASCII")
        return api_key
    authorization = headers.get("authorization", "").strip()
    if not authorization:
        raise AuthenticationError("missing write key: send it as the HTTP Basic user name or in x-api-key")
    if len(authorization) > MAX_CACHED_AUTHORIZATION_CHARS:
        return _basic_user(authorization)
    return _cached_basic_user(authorization)


def _basic_user(authorization: str) -> str:
    """The user name of an HTTP Basic ``Authorization`` value."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationError("unsupported authorization scheme: use HTTP Basic or x-api-key")
    try:
        # Non-ASCII text makes b64decode raise a bare ValueError; non-ASCII bytes fail the decode.
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("ascii")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        raise AuthenticationError("the Basic credentials are not base64 of an ASCII user:password") from exc
    user, _, _password = decoded.partition(":")
    if not user:
        raise AuthenticationError("missing write key: the Basic user name is empty")
    return user


# Kept for the values a container sees again (a client sends the same one with every request); a
# refusal is raised, never kept.
_cached_basic_user: Final = lru_cache(maxsize=_CACHE_SIZE)(_basic_user)
