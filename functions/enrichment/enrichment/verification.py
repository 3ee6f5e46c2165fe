"""Is a batch really the validator's? The HMAC signature over its canonical bytes decides.

The keys are cached for minutes (``SigningKeyProvider``). During a rotation a batch may be signed
with the key being rotated in (staged AWSPENDING before signers use it) or out (AWSPREVIOUS: from
a validator not yet on the new key, an EventBridge retry or a redrive), so the verifier holds those
keys too, read in one snapshot with the current one. A remaining mismatch is checked once
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
    """``keys``: the cached keys to accept (a bare ``bytes`` callable is one key); ``fresh_key``: the
    current key read again at most a minute ago, tried last."""

    def __init__(
        self,
        keys: Callable[[], bytes | tuple[bytes, ...]],
        fresh_key: Callable[[], bytes] | None = None,
    ) -> None:
        self._keys = keys
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
        keys = self._keys()
        if any(
            signing.verify(key, payload, signature) for key in ((keys,) if isinstance(keys, bytes) else keys)
        ):
            return "valid"
        if self._fresh_key is not None and signing.verify(self._fresh_key(), payload, signature):
            return "valid"
        return "bad_signature"
