"""HMAC signatures and the signing-key provider (Secrets Manager or SSM, TTL cache, stale grace)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from signal_platform import aws_clients, signing
from signal_platform.errors import ConfigurationError, SigningKeyUnavailableError

KEY = b"k" * 32
PAYLOAD = b'{"batch_id":"0123","signals":[]}'
SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-key-AbCdEf"
PARAMETER = "/signals/signing-key"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeKeyStore:
    """Both the secretsmanager and the ssm client: serves ``value`` or raises ``error``."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.error: Exception | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, operation: str, request: dict[str, Any]) -> None:
        self.requests.append((operation, request))
        if self.error is not None:
            raise self.error

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        self._answer("get_secret_value", request)
        return {"ARN": SECRET_ARN} if self.value is None else {"ARN": SECRET_ARN, "SecretString": self.value}

    def get_parameter(self, **request: Any) -> dict[str, Any]:
        self._answer("get_parameter", request)
        return {"Parameter": {"Name": PARAMETER, "Type": "SecureString", "Value": self.value or ""}}


class FakeClients:
    """Stands in for ``aws_clients.client``: one fake per service name, and a log of services asked."""

    def __init__(self, **by_service: Any) -> None:
        self.by_service = by_service
        self.services: list[str] = []

    def __call__(self, service: str, _region: str | None = None) -> Any:
        self.services.append(service)
        return self.by_service[service]

    def cache_clear(self) -> None:
        """``aws_clients.reset`` calls this."""


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, operation)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeKeyStore:
    fake = FakeKeyStore("key-one")
    monkeypatch.setattr(aws_clients, "client", FakeClients(secretsmanager=fake, ssm=fake))
    return fake


# --- sign / verify ---------------------------------------------------------------------------------


def test_sign_payload_returns_prefixed_hmac_sha256_hex() -> None:
    # GIVEN a key and a payload
    # WHEN the payload is signed
    signature = signing.sign(KEY, PAYLOAD)
    # THEN the signature is "v1=" + HMAC-SHA256 in lowercase hex, of the advertised length
    assert signature == "v1=" + hmac.new(KEY, PAYLOAD, hashlib.sha256).hexdigest()
    assert len(signature) == signing.SIGNATURE_LENGTH == 67
    assert signing.sign(KEY, PAYLOAD) == signature


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("payload", [b"", PAYLOAD, bytes(range(256)) * 300])
def test_sign_any_key_length_equals_the_standard_library_hmac(key_length: int, payload: bytes) -> None:
    # GIVEN a key shorter than, as long as or longer than SHA-256's block, in every byte value
    key = bytes((index * 37 + 11) % 256 for index in range(key_length))
    # WHEN a payload is signed, twice (the key's states are reused)
    signatures = {signing.sign(key, payload) for _ in range(2)}
    # THEN the signature is the standard library's HMAC-SHA256, every time
    assert signatures == {"v1=" + hmac.new(key, payload, hashlib.sha256).hexdigest()}


def test_verify_untouched_payload_returns_true() -> None:
    # GIVEN a payload and its signature
    signature = signing.sign(KEY, PAYLOAD)
    # WHEN it is verified with the same key
    # THEN it verifies
    assert signing.verify(KEY, PAYLOAD, signature) is True


@pytest.mark.parametrize(
    ("key", "payload", "signature"),
    [
        (b"another-key", PAYLOAD, signing.sign(KEY, PAYLOAD)),
        (KEY, PAYLOAD + b" ", signing.sign(KEY, PAYLOAD)),
        (KEY, PAYLOAD.replace(b"0123", b"0124"), signing.sign(KEY, PAYLOAD)),
        (KEY, PAYLOAD, signing.sign(KEY, PAYLOAD)[3:]),  # no prefix
        (KEY, PAYLOAD, "v2=" + signing.sign(KEY, PAYLOAD)[3:]),
        (KEY, PAYLOAD, signing.sign(KEY, PAYLOAD)[:-1]),
        (KEY, PAYLOAD, signing.sign(KEY, PAYLOAD).upper()),
        (KEY, PAYLOAD, ""),
        (KEY, PAYLOAD, None),
        (KEY, PAYLOAD, signing.sign(KEY, PAYLOAD).encode()),
        (KEY, PAYLOAD, 12345),
    ],
    ids=[
        "wrong-key",
        "extra-byte",
        "changed-byte",
        "no-prefix",
        "other-version",
        "truncated",
        "upper-case",
        "empty",
        "none",
        "bytes",
        "int",
    ],
)
def test_verify_tampered_or_malformed_returns_false(key: bytes, payload: bytes, signature: object) -> None:
    # GIVEN a signature that does not belong to (key, payload), or is not a signature string at all
    # WHEN it is verified
    # THEN verification fails without raising
    assert signing.verify(key, payload, signature) is False


# --- SigningKeyProvider configuration --------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret_arn", "parameter_name"),
    [(None, None), ("", ""), ("", None), (SECRET_ARN, PARAMETER)],
    ids=["neither", "both-empty", "empty-and-none", "both"],
)
def test_key_provider_both_or_neither_source_raises_configuration_error(
    secret_arn: str | None, parameter_name: str | None
) -> None:
    # GIVEN both or neither of the secret and the parameter
    # WHEN a provider is built
    # THEN it refuses, naming both settings
    with pytest.raises(ConfigurationError, match="SIGNING_KEY_SECRET_ARN or SIGNING_KEY_PARAMETER_NAME"):
        signing.SigningKeyProvider(secret_arn=secret_arn, parameter_name=parameter_name)


# --- fetching --------------------------------------------------------------------------------------


def test_key_provider_secret_arn_reads_secrets_manager(store: FakeKeyStore) -> None:
    # GIVEN a provider configured with a secret ARN
    clients = aws_clients.client
    provider = signing.SigningKeyProvider(secret_arn=SECRET_ARN, clock=FakeClock())
    # WHEN the key is read
    key = provider.key()
    # THEN it is the SecretString, read from Secrets Manager by that ARN
    assert key == b"key-one"
    assert clients.services == ["secretsmanager"]
    assert store.requests == [("get_secret_value", {"SecretId": SECRET_ARN})]


def test_key_provider_parameter_name_reads_ssm_with_decryption(store: FakeKeyStore) -> None:
    # GIVEN a provider configured with an SSM parameter name
    clients = aws_clients.client
    provider = signing.SigningKeyProvider(parameter_name=PARAMETER, clock=FakeClock())
    # WHEN the key is read
    key = provider.key()
    # THEN it is the decrypted parameter value
    assert key == b"key-one"
    assert clients.services == ["ssm"]
    assert store.requests == [("get_parameter", {"Name": PARAMETER, "WithDecryption": True})]


@pytest.mark.parametrize("config", [{"secret_arn": SECRET_ARN}, {"parameter_name": PARAMETER}])
@pytest.mark.parametrize("value", [None, ""])
def test_key_provider_empty_key_raises_signing_key_unavailable(
    store: FakeKeyStore, config: dict[str, str], value: str | None
) -> None:
    # GIVEN a key store whose value is missing or empty
    store.value = value
    provider = signing.SigningKeyProvider(**config, clock=FakeClock())
    # WHEN the key is read
    # THEN an empty key is never used to sign
    with pytest.raises(SigningKeyUnavailableError, match="empty"):
        provider.key()


@pytest.mark.parametrize("config", [{"secret_arn": SECRET_ARN}, {"parameter_name": PARAMETER}])
@pytest.mark.parametrize(
    "error",
    [
        _client_error("ResourceNotFoundException", "GetSecretValue"),
        _client_error("AccessDeniedException", "GetParameter"),
        _client_error("ThrottlingException", "GetSecretValue"),
        EndpointConnectionError(endpoint_url="https://secretsmanager.us-west-2.amazonaws.com"),
    ],
    ids=["not-found", "access-denied", "throttled", "no-connection"],
)
def test_key_provider_no_key_and_fetch_fails_raises_signing_key_unavailable(
    store: FakeKeyStore, config: dict[str, str], error: Exception
) -> None:
    # GIVEN no cached key and a key store that fails
    store.error = error
    provider = signing.SigningKeyProvider(**config, clock=FakeClock())
    # WHEN the key is read
    with pytest.raises(SigningKeyUnavailableError) as caught:
        provider.key()
    # THEN the dependency error is retryable and chains the SDK error
    assert caught.value.retryable is True
    assert caught.value.__cause__ is error


# --- TTL cache and stale grace ---------------------------------------------------------------------


def test_key_provider_within_ttl_fetches_once(store: FakeKeyStore) -> None:
    # GIVEN a provider with a 300 s TTL
    clock = FakeClock(1000.0)
    provider = signing.SigningKeyProvider(secret_arn=SECRET_ARN, ttl_seconds=300, clock=clock)
    # WHEN the key is read many times within the TTL, even after a rotation
    keys = [provider.key()]
    store.value = "key-two"
    for now in (1000.0, 1001.0, 1150.0, 1299.999):
        clock.now = now
        keys.extend(provider.key() for _ in range(10))
    # THEN the store is read once and the cached key serves every call
    assert len(store.requests) == 1
    assert set(keys) == {b"key-one"}


@pytest.mark.parametrize("elapsed", [300.0, 301.0, 10_000.0])
def test_key_provider_after_ttl_refetches_and_picks_up_rotation(store: FakeKeyStore, elapsed: float) -> None:
    # GIVEN a key cached at t=1000 with a 300 s TTL, then rotated in the store
    clock = FakeClock(1000.0)
    provider = signing.SigningKeyProvider(secret_arn=SECRET_ARN, ttl_seconds=300, clock=clock)
    assert provider.key() == b"key-one"
    store.value = "key-two"
    # WHEN the key is read once the TTL has elapsed
    clock.now = 1000.0 + elapsed
    key = provider.key()
    # THEN the store is read again and the new key is served (and cached from then on)
    assert key == b"key-two"
    assert len(store.requests) == 2
    assert provider.key() == b"key-two"
    assert len(store.requests) == 2


@pytest.mark.parametrize("elapsed", [300.0, 1000.0, 3899.999])
def test_key_provider_fetch_fails_within_grace_serves_stale_key(store: FakeKeyStore, elapsed: float) -> None:
    # GIVEN a key cached at t=1000 (TTL 300 s, grace 3600 s) and then a failing store
    clock = FakeClock(1000.0)
    provider = signing.SigningKeyProvider(
        secret_arn=SECRET_ARN, ttl_seconds=300, stale_grace_seconds=3600, clock=clock
    )
    assert provider.key() == b"key-one"
    store.error = _client_error("InternalServiceError", "GetSecretValue")
    # WHEN the key is read after the TTL but within TTL + grace
    clock.now = 1000.0 + elapsed
    key = provider.key()
    # THEN the refresh was attempted and the stale key keeps ingestion going
    assert key == b"key-one"
    assert len(store.requests) == 2


@pytest.mark.parametrize("elapsed", [3900.0, 3901.0, 100_000.0])
def test_key_provider_fetch_fails_beyond_grace_raises_signing_key_unavailable(
    store: FakeKeyStore, elapsed: float
) -> None:
    # GIVEN a key cached at t=1000 (TTL 300 s, grace 3600 s) and then a failing store
    clock = FakeClock(1000.0)
    provider = signing.SigningKeyProvider(
        secret_arn=SECRET_ARN, ttl_seconds=300, stale_grace_seconds=3600, clock=clock
    )
    assert provider.key() == b"key-one"
    store.error = EndpointConnectionError(endpoint_url="https://secretsmanager.us-west-2.amazonaws.com")
    # WHEN the key is read at or after TTL + grace
    clock.now = 1000.0 + elapsed
    # THEN the stale key is no longer trusted
    with pytest.raises(SigningKeyUnavailableError):
        provider.key()


def test_key_provider_store_recovers_after_stale_period_serves_fresh_key_with_new_ttl(
    store: FakeKeyStore,
) -> None:
    # GIVEN a stale key being served during an outage
    clock = FakeClock(0.0)
    provider = signing.SigningKeyProvider(
        secret_arn=SECRET_ARN, ttl_seconds=300, stale_grace_seconds=3600, clock=clock
    )
    provider.key()
    store.error = _client_error("ThrottlingException", "GetSecretValue")
    clock.now = 2000.0
    assert provider.key() == b"key-one"
    # WHEN the store recovers with a rotated key, and the stale-retry pause has passed
    store.error, store.value = None, "key-two"
    clock.now = 2000.0 + signing.STALE_RETRY_SECONDS
    fresh = provider.key()
    # THEN the fresh key is served and cached for a full TTL from the recovery
    assert fresh == b"key-two"
    fetches = len(store.requests)
    clock.now = 2000.0 + signing.STALE_RETRY_SECONDS + 299.0
    assert provider.key() == b"key-two"
    assert len(store.requests) == fetches


def test_key_provider_outage_serves_stale_key_without_asking_on_every_call(store: FakeKeyStore) -> None:
    # GIVEN a cached key past its TTL and a key store that is down
    clock = FakeClock(0.0)
    provider = signing.SigningKeyProvider(secret_arn=SECRET_ARN, ttl_seconds=300, clock=clock)
    provider.key()
    store.error = _client_error("ThrottlingException", "GetSecretValue")
    clock.now = 400.0
    # WHEN the key is asked for many times within the stale-retry pause
    keys = {provider.key() for _ in range(50)}
    asked = len(store.requests)
    clock.now = 400.0 + signing.STALE_RETRY_SECONDS - 1
    provider.key()
    # THEN the stale key serves every call, and the store was asked once after the TTL, not 51 times
    assert keys == {b"key-one"}
    assert asked == 2
    assert len(store.requests) == 2


# --- rotation stages ---------------------------------------------------------------------------------


class StagedKeyStore(FakeKeyStore):
    """A secret with a key per staging label; a label no version carries is ResourceNotFound."""

    def __init__(self, by_stage: dict[str, str]) -> None:
        super().__init__(by_stage["AWSCURRENT"])
        self.by_stage = by_stage

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        self._answer("get_secret_value", request)
        stage = request.get("VersionStage", "AWSCURRENT")
        if stage not in self.by_stage:
            raise _client_error("ResourceNotFoundException", "GetSecretValue")
        return {"ARN": SECRET_ARN, "SecretString": self.by_stage[stage]}


def test_key_provider_extra_stages_reads_them_with_the_current_key_skipping_absent_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a secret in rotation: a current and a pending key, no previous one
    store = StagedKeyStore({"AWSCURRENT": "key-one", "AWSPENDING": "key-two"})
    monkeypatch.setattr(aws_clients, "client", FakeClients(secretsmanager=store))
    provider = signing.SigningKeyProvider(
        secret_arn=SECRET_ARN, extra_stages=signing.VERIFY_STAGES, clock=FakeClock()
    )
    # WHEN its keys are asked for twice within the TTL
    first, second = provider.keys(), provider.keys()
    # THEN the current key comes first, the pending one next, the absent previous is skipped, all
    # read in one refresh
    assert first == second == (b"key-one", b"key-two")
    assert provider.key() == b"key-one"
    assert len(store.requests) == 3


def test_key_provider_extra_stages_on_ssm_are_only_the_current_key(store: FakeKeyStore) -> None:
    provider = signing.SigningKeyProvider(
        parameter_name=PARAMETER, extra_stages=signing.VERIFY_STAGES, clock=FakeClock()
    )
    assert provider.keys() == (b"key-one",)
