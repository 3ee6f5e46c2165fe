"""The project's error hierarchy.

Each error knows whether retrying can help; the HTTP status each maps to lives in one place, the
validator's ``api`` module, never in the code that raises.
"""

from __future__ import annotations


class SignalPlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    code = "internal_error"
    retryable = False


class ConfigurationError(SignalPlatformError):
    """A required setting is missing or malformed: a deployment fault, not the caller's."""

    code = "configuration_error"


# --- request-level problems: the caller's input; never forwarded, never a 5xx -------------------


class RequestError(SignalPlatformError):
    """The whole request is refused before any event is looked at."""


class MalformedRequestError(RequestError):
    code = "malformed_request"


class UnsupportedMediaTypeError(RequestError):
    code = "unsupported_media_type"


class PayloadTooLargeError(RequestError):
    code = "payload_too_large"


class AuthenticationError(RequestError):
    """No write key, a malformed one, an unknown source or a wrong key."""

    code = "unauthenticated"


class ForbiddenSourceError(RequestError):
    """The key is right but the source may not send (disabled)."""

    code = "forbidden"


class FrontDoorClosedError(ForbiddenSourceError):
    """The request came in through a front door the stack keeps closed (FrontDoor Alb: the HTTP API)."""

    code = "front_door_closed"


class RouteNotFoundError(RequestError):
    """The request names a path the API does not serve."""

    code = "not_found"


class MethodNotAllowedError(RequestError):
    """The path exists, but not with this method."""

    code = "method_not_allowed"


class RateLimitedError(RequestError):
    """The source sent more than its rate (or the API met too many unknown write keys): nothing of
    the request was accepted; a resend after ``retry_after_seconds`` with the same event_ids is safe."""

    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# --- downstream problems: retryable by the caller with the same event_ids -----------------------


class DependencyError(SignalPlatformError):
    """An AWS dependency failed; a resend with the same event_ids is safe."""

    code = "dependency_unavailable"
    retryable = True


class BusThrottledError(DependencyError):
    code = "throttled"


class BusUnavailableError(DependencyError):
    code = "bus_unavailable"


class SourceRegistryUnavailableError(DependencyError):
    code = "source_registry_unavailable"


class SigningKeyUnavailableError(DependencyError):
    code = "signing_key_unavailable"


class LakeWriteError(DependencyError):
    """An S3 PutObject or DeleteObject on the data lake failed; the records are retried."""

    code = "lake_write_failed"


class LakeLedgerError(DependencyError):
    """The lake ledger (DynamoDB) could not be read or written; the records are retried."""

    code = "lake_ledger_unavailable"


# --- contract problems on the way through the pipeline ------------------------------------------


class SignatureError(SignalPlatformError):
    """A signal batch whose signature is missing or does not match its content."""

    code = "bad_signature"


class MalformedBatchError(SignalPlatformError):
    """A correctly signed batch that breaks its contract (no batch id, no signals, no ingest metadata)."""

    code = "malformed_batch"


class MalformedSignalError(SignalPlatformError):
    """One signal of a verified batch cannot be standardised; it is quarantined, its batch goes on."""

    code = "malformed_signal"


class QuarantineUnavailableError(DependencyError):
    """The quarantine bucket cannot be written; the invocation is retried so nothing is dropped."""

    code = "quarantine_unavailable"


class BatchInProgressError(DependencyError):
    """Another invocation is enriching the same batch right now; a later retry finds it done."""

    code = "batch_in_progress"


class IdempotencyStoreUnavailableError(DependencyError):
    """The idempotency table cannot be read or written; the batch is retried, never enriched unguarded."""

    code = "idempotency_store_unavailable"


# --- dead letters: hydrating DLQ messages into the DLQ store and replaying them -----------------


class StreamReadError(DependencyError):
    """Kinesis GetShardIterator / GetRecords failed (throttled, unavailable, denied): retry the message."""

    code = "stream_read_failed"


class RecordsUnreadableError(SignalPlatformError):
    """The stream or shard is gone, or the start sequence number is refused: the records cannot come back."""

    code = "records_unreadable"


class DlqStoreError(DependencyError):
    """An S3 call on the DLQ store failed; the DLQ message (or the replay of an object) is retried."""

    code = "dlq_store_unavailable"


class DeadLetterSendError(DependencyError):
    """SQS SendMessage to a dead-letter queue failed; what was to be set aside is held and retried."""

    code = "dead_letter_unavailable"


class SegmentCutsError(DependencyError):
    """The batcher's table of segment cuts could not be read or written (a read failure fails the
    invocation: its batch is retried, never cut another way)."""

    code = "segment_cuts_unavailable"


class ReplayTargetError(DependencyError):
    """The consumer a stored record is replayed to refused it or could not be reached."""

    code = "replay_target_failed"
