"""HMAC-SHA256 signatures on signal batches, with the key kept in Secrets Manager or SSM.

The signature covers the canonical bytes (``codec.canonical``) of the batch without its
``signature`` field, so any hop that parses the batch can re-derive the bytes and verify them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.errors import ConfigurationError, SigningKeyUnavailableError

CURRENT_STAGE: Final = "AWSCURRENT"
# A rotation (docs/runbook.md#rotating-keys): the new key is staged as AWSPENDING, which
# verifiers accept, before it becomes AWSCURRENT, which signers use; the old key stays AWSPREVIOUS.
VERIFY_STAGES: Final = ("AWSPENDING", "AWSPREVIOUS")
SIGNATURE_PREFIX: Final = "v1="
SIGNATURE_LENGTH: Final = len(SIGNATURE_PREFIX) + 64
STALE_RETRY_SECONDS: Final = 30.0
_BLOCK: Final = hashlib.sha256().block_size
_INNER_PAD: Final = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD: Final = bytes(byte ^ 0x5C for byte in range(256))


@lru_cache(maxsize=4)  # the current key, and the previous one for a while after a rotation
def _keyed(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 (RFC 2104) as two SHA-256 states that have absorbed the padded key, inner and
    outer. With OpenSSL 3, keying an HMAC, and even copying a keyed one, costs more than hashing a
    small batch; copying a plain SHA-256 state is cheap, so each signature copies these."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_INNER_PAD)), hashlib.sha256(key.translate(_OUTER_PAD))


def sign(key: bytes, payload: bytes) -> str:
    inner_state, outer_state = _keyed(key)
    inner = inner_state.copy()
    inner.update(payload)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return SIGNATURE_PREFIX + outer.hexdigest()


def verify(key: bytes, payload: bytes, signature: object) -> bool:
    if not isinstance(signature, str) or not signature.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(key, payload), signature)


class SigningKeyProvider:
    """Reads the signing key once and caches it for ``ttl_seconds`` (so a rotation is picked up).

    When a refresh fails, the cached key keeps serving for up to ``stale_grace_seconds``: a brief
    Secrets Manager hiccup must not stop ingestion. ``extra_stages`` (a verifier's
    ``VERIFY_STAGES``) are read with the current key in the same refresh, so the keys a container
    holds are always one snapshot of the secret: before a promotion {current, pending}, after it
    {current, previous}, either way both keys of the rotation. A stage no version carries is
    skipped. The SSM parameter has no stages: only its current value exists.
    """

    def __init__(
        self,
        *,
        secret_arn: str | None = None,
        parameter_name: str | None = None,
        ttl_seconds: float = 300.0,
        stale_grace_seconds: float = 3600.0,
        extra_stages: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bool(secret_arn) == bool(parameter_name):
            raise ConfigurationError(
                "set exactly one of SIGNING_KEY_SECRET_ARN or SIGNING_KEY_PARAMETER_NAME"
            )
        self._secret_arn = secret_arn
        self._parameter_name = parameter_name
        self._ttl = ttl_seconds
        self._grace = stale_grace_seconds
        self._extra_stages = extra_stages
        self._clock = clock
        self._keys: tuple[bytes, ...] = ()
        self._fetched_at = 0.0
        self._refresh_at = 0.0

    def key(self) -> bytes:
        """The current key (what signers use)."""
        return self.keys()[0]

    def keys(self) -> tuple[bytes, ...]:
        """The current key first, then the extra stages' keys that exist."""
        now = self._clock()
        if self._keys and now < self._refresh_at:
            return self._keys
        try:
            fresh = self._fetch()
        except SigningKeyUnavailableError:
            if self._keys and now - self._fetched_at < self._ttl + self._grace:
                # Serve the cached keys and wait before asking again, so an outage of the key store
                # does not add its timeouts to every request.
                self._refresh_at = now + min(self._ttl, STALE_RETRY_SECONDS)
                return self._keys
            raise
        self._keys, self._fetched_at, self._refresh_at = fresh, now, now + self._ttl
        return fresh

    def _fetch(self) -> tuple[bytes, ...]:
        if not self._secret_arn:
            return (self._read(self._parameter_name or "", None) or b"",)
        current = self._read(self._secret_arn, None)
        others = (self._read(self._secret_arn, stage) for stage in self._extra_stages)
        return (current or b"", *(key for key in others if key is not None))

    def _read(self, name: str, stage: str | None) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, see aws_clients

        try:
            if self._secret_arn:
                request = {"SecretId": name} | ({"VersionStage": stage} if stage else {})
                response: dict[str, Any] = aws_clients.client("secretsmanager").get_secret_value(**request)
                value = response.get("SecretString")
            else:
                response = aws_clients.client("ssm").get_parameter(Name=name, WithDecryption=True)
                value = response["Parameter"]["Value"]
        except ClientError as exc:
            if stage and exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # no version carries this stage (no rotation under way, or none yet)
            raise SigningKeyUnavailableError(f"cannot read the signing key: {exc}") from exc
        except BotoCoreError as exc:
            raise SigningKeyUnavailableError(f"cannot read the signing key: {exc}") from exc
        if not value:
            if stage:
                return None
            raise SigningKeyUnavailableError("the signing key is empty")
        return str(value).encode()
