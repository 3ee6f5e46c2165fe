"""Is a batch really the validator's? The HMAC signature over its canonical bytes decides.

The key is cached for minutes (``SigningKeyProvider``). Right after a rotation the validator may
sign with the new key while this container still holds the old one; so a mismatch is checked once
more against a key read at most ``fresh_key`` TTL ago (one Secrets Manager read per minute at most,
however many forged batches arrive) before the batch is called forged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from signal_platform import signing
from signal_platform.signal_batches import unsigned_bytes

SignatureVerdict = Literal["valid", "missing_signature", "bad_signature", "unverifiable"]


class BatchVerifier:
    def __init__(self, key: Callable[[], bytes], fresh_key: Callable[[], bytes] | None = None) -> None:
        self._key = key
        self._fresh_key = fresh_key

    def check(self, detail: Mapping[str, Any] | None) -> SignatureVerdict:
        if detail is None:
            return "missing_signature"
        signature = detail.get("signature")
        if not isinstance(signature, str) or not signature:
            return "missing_signature"
        try:
            payload = unsigned_bytes(dict(detail))
        except TypeError:  # orjson.JSONEncodeError: content no signer could have produced
            return "unverifiable"
        if signing.verify(self._key(), payload, signature):
            return "valid"
        if self._fresh_key is not None and signing.verify(self._fresh_key(), payload, signature):
            return "valid"
        return "bad_signature"
