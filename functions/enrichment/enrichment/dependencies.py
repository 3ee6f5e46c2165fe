"""The enrichment's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache, partial
from typing import Any, Final

from enrichment.quarantine import Quarantine
from enrichment.service import EnrichmentService, EnrichOnce
from enrichment.settings import ENTRY_SOURCE, EnrichmentSettings
from enrichment.signals import SignalEnricher
from enrichment.user_agents import UserAgentParser
from enrichment.verification import BatchVerifier
from signal_platform import idempotency, signing
from signal_platform.bus_publisher import BusPublisher
from signal_platform.errors import BatchInProgressError, IdempotencyStoreUnavailableError
from signal_platform.signal_batches import SignalBatcher, by_partition_key

ENRICHED_SCHEMA_VERSION: Final = "1-0-0"
# A stable prefix instead of Powertools' default "<Lambda function name>.<module.function>": the key
# survives a renamed or replaced function, and is the same in both Regions of a global table.
IDEMPOTENCY_KEY_PREFIX: Final = "enrichment.signal_batch"
# How long a signing key (each stage) is cached, and how old the key behind a signature mismatch may
# be before it is read again (see verification). tools.keys waits KEY_TTL_SECONDS before promoting.
KEY_TTL_SECONDS: Final = 300.0
FRESH_KEY_TTL_SECONDS: Final = 60.0


def mark_duplicate(response: Any, record: Any) -> Any:
    """Powertools calls this when it answers from the store: the batch was enriched before."""
    del record
    return {**response, "status": "duplicate"} if isinstance(response, dict) else response


def batch_verifier(
    secret_arn: str | None, parameter_name: str | None, *, clock: Callable[[], float] = time.monotonic
) -> BatchVerifier:
    """Accepts the current key and, during a rotation, the pending or the previous one."""

    def key_provider(ttl_seconds: float, extra_stages: tuple[str, ...] = ()) -> signing.SigningKeyProvider:
        return signing.SigningKeyProvider(
            secret_arn=secret_arn,
            parameter_name=parameter_name,
            ttl_seconds=ttl_seconds,
            extra_stages=extra_stages,
            clock=clock,
        )

    return BatchVerifier(
        key_provider(KEY_TTL_SECONDS, signing.VERIFY_STAGES).keys,
        key_provider(FRESH_KEY_TTL_SECONDS).key,
    )


def build_service(settings: EnrichmentSettings, config: Any) -> EnrichmentService:
    return EnrichmentService(
        verifier=batch_verifier(settings.signing_key_secret_arn, settings.signing_key_parameter_name),
        enricher=SignalEnricher(UserAgentParser(), store_raw_ip=settings.store_raw_ip),
        batcher=SignalBatcher(
            bus_name=settings.data_platform_bus_name,
            entry_source=ENTRY_SOURCE,
            max_signals=settings.max_signals_per_entry,
            signer=None,
            group_key=by_partition_key,
            group_field="partition_key",
            schema_version=ENRICHED_SCHEMA_VERSION,
            by_type=settings.group_by_type,
        ),
        publisher=BusPublisher(),
        quarantine=Quarantine(settings.quarantine_bucket_name),
        guard=partial(
            idempotency_guard,
            persistence_store=idempotency.persistence_layer(settings.idempotency_table_name),
            config=config,
        ),
    )


def idempotency_guard(function: EnrichOnce, *, persistence_store: Any, config: Any) -> EnrichOnce:
    """``function`` once per ``idempotency_key`` (Powertools), its failures in the project's terms.

    Powertools saves an in-progress record first, the result when ``function`` returns, and deletes
    the record when it raises (so a retry runs again). A concurrent copy of the same batch meets the
    in-progress record, and an unreachable table fails the call: both become retryable errors.
    """
    from aws_lambda_powertools.utilities.idempotency import idempotent_function  # noqa: PLC0415
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    once = idempotent_function(
        function,
        data_keyword_argument="idempotency_key",
        persistence_store=persistence_store,
        config=config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )

    def guarded(**kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = once(**kwargs)
        except IdempotencyAlreadyInProgressError as exc:
            raise BatchInProgressError(str(exc)) from exc
        except IdempotencyPersistenceLayerError as exc:
            raise IdempotencyStoreUnavailableError(str(exc)) from exc
        return result

    return guarded


@cache
def settings() -> EnrichmentSettings:
    return EnrichmentSettings.from_env()


@cache
def idempotency_config() -> Any:
    config = idempotency.config(settings().idempotency_expiry_seconds)
    config.response_hook = mark_duplicate
    return config


@cache
def service() -> EnrichmentService:
    return build_service(settings(), idempotency_config())


def prepare(context: Any) -> EnrichmentService:
    """The service for this invocation; the context lets an in-progress record expire with the invocation."""
    idempotency_config().register_lambda_context(context)
    return service()


def reset() -> None:
    """Forget the cached collaborators (tests change the environment between cases)."""
    service.cache_clear()
    idempotency_config.cache_clear()
    settings.cache_clear()
