"""PutEvents with retries of only the failed entries, bounded by a deadline.

Whole-call errors and per-entry errors are retried with exponential backoff and full jitter until
the deadline (the caller's remaining Lambda time less a margin); whatever is still not delivered
is returned, so the caller can answer ``retry`` for exactly those signals.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from signal_platform import aws_clients
from signal_platform.backoff import full_jitter_delay
from signal_platform.signal_batches import BusEntry, calls

FailureKind = Literal["throttled", "unavailable"]

_THROTTLING: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
# Entry errors that no retry can fix; they still end as `retry` verdicts (nothing is dropped) and
# are logged loudly by the caller, because they mean a deployment or code fault.
PERMANENT_ENTRY_ERRORS: Final = frozenset(
    {"MalformedDetail", "InvalidArgument", "AccessDeniedException", "NotAuthorizedForSourceException"}
)


@dataclass(slots=True)
class PublishOutcome:
    delivered: list[BusEntry] = field(default_factory=list)
    undelivered: list[BusEntry] = field(default_factory=list)
    failure: FailureKind | None = None
    calls: int = 0
    attempts: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)


class Publisher(Protocol):
    """Where the validator sends its signal batches: the ingress bus, or the front-door buffer."""

    def publish(self, entries: Sequence[BusEntry], *, deadline: float) -> PublishOutcome: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 0.05
    max_delay: float = 2.0
    max_attempts: int = 8


class RetryingPublisher:
    """The retry loop of every sink: only what failed is sent again, with backoff and full jitter,
    until the deadline or ``max_attempts``. A sink says how entries go into calls (``_calls``), makes
    one call (``_put``) and names its error codes."""

    throttling_codes: frozenset[str] = _THROTTLING
    permanent_codes: frozenset[str] = PERMANENT_ENTRY_ERRORS

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        client: Callable[[], Any],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._policy = policy
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    def publish(self, entries: Sequence[BusEntry], *, deadline: float) -> PublishOutcome:
        """Deliver ``entries``; ``deadline`` is a ``clock()`` value after which no retry starts."""
        outcome = PublishOutcome()
        given_up: list[tuple[BusEntry, str]] = []
        failed: list[tuple[BusEntry, str]] = []
        pending = entries
        while pending:
            outcome.attempts += 1
            failed = []
            for call in self._calls(pending):
                for entry, code in self._put(call, outcome):
                    (given_up if code in self.permanent_codes else failed).append((entry, code))
            if not failed:
                break
            delay = full_jitter_delay(
                outcome.attempts, base=self._policy.base_delay, cap=self._policy.max_delay, rand=self._rand
            )
            if outcome.attempts >= self._policy.max_attempts or self._clock() + delay >= deadline:
                break
            self._sleep(delay)
            pending = [entry for entry, _ in failed]
        undelivered = given_up + failed
        outcome.undelivered = [entry for entry, _ in undelivered]
        if undelivered:
            # Throttling asks the client to slow down (429); anything else is an outage (503).
            throttled = all(code in self.throttling_codes for _, code in undelivered)
            outcome.failure = "throttled" if throttled else "unavailable"
        return outcome

    def _calls(self, entries: Sequence[BusEntry]) -> Iterable[list[BusEntry]]:
        raise NotImplementedError

    def _put(self, call: list[BusEntry], outcome: PublishOutcome) -> list[tuple[BusEntry, str]]:
        raise NotImplementedError

    @staticmethod
    def _failed(outcome: PublishOutcome, entries: list[BusEntry], code: str) -> list[tuple[BusEntry, str]]:
        outcome.error_codes[code] = outcome.error_codes.get(code, 0) + len(entries)
        return [(entry, code) for entry in entries]

    def _send(
        self, call: list[BusEntry], outcome: PublishOutcome, put: Callable[[], Any], results: str
    ) -> list[tuple[BusEntry, str]]:
        """One batch call (``put``) whose answer lists one result per entry under ``results``, each
        failed one with an ``ErrorCode``; returns the entries that failed, each with its code."""
        outcome.calls += 1
        try:
            response = put()
        except Exception as exc:
            # botocore's errors, imported lazily and only when something was raised (not per call).
            from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

            if isinstance(exc, ClientError):
                code = exc.response.get("Error", {}).get("Code", "ClientError")
                return self._failed(outcome, call, str(code))
            if isinstance(exc, BotoCoreError):
                return self._failed(outcome, call, type(exc).__name__)
            raise
        failures: list[tuple[BusEntry, str]] = []
        for entry, result in zip(call, response.get(results, []), strict=True):
            code = result.get("ErrorCode")
            if code is None:
                outcome.delivered.append(entry)
            else:
                failures.extend(self._failed(outcome, [entry], str(code)))
        return failures


class BusPublisher(RetryingPublisher):
    def __init__(
        self,
        *,
        endpoint_id: str | None = None,
        policy: RetryPolicy = RetryPolicy(),
        client: Callable[[], Any] = lambda: aws_clients.client("events"),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(policy=policy, client=client, sleep=sleep, clock=clock, rand=rand)
        self._endpoint_id = endpoint_id or None

    def _calls(self, entries: Sequence[BusEntry]) -> Iterable[list[BusEntry]]:
        return calls(entries)

    def _put(self, call: list[BusEntry], outcome: PublishOutcome) -> list[tuple[BusEntry, str]]:
        """One PutEvents call; returns the entries that failed, each with its error code."""
        request: dict[str, Any] = {"Entries": [entry.entry for entry in call]}
        if self._endpoint_id:
            request["EndpointId"] = self._endpoint_id
        return self._send(call, outcome, lambda: self._client().put_events(**request), "Entries")
