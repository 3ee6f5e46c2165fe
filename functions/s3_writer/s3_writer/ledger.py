"""The lake ledger: which stream records are in the lake, and which invocation is writing the others.

Two kinds of item in one DynamoDB table (key ``pk``), both with a TTL (``expires_at``):

- ``record#<id>`` → ``attempt``: the record is OWNED by that attempt. ``<id>`` is the enriched batch id
  of the record (derived from its signals' ``event_id``s, so every copy of the record, a redelivery, a
  re-put by a retried enrichment, a replay, has the same id), or ``kinesis:<eventID>`` for a record
  that cannot be decoded (it is identified by its position). One write per record, ~50 signals.
- ``attempt#<id>`` → ``state`` (``pending`` | ``committed`` | ``abandoned``), ``deadline`` (epoch
  seconds after which the owning invocation can no longer be running) and ``keys`` (the objects it
  writes). Two writes per invocation (begin, then commit or abandon).

A record is in the lake exactly when its owner is ``committed``. The attempt item is the one place
where "these objects count" is decided, by a conditional update: ``commit`` (pending → committed)
and ``abandon`` (pending → abandoned) cannot both succeed, so a writer that takes over a dead
invocation's records and the dead invocation itself can never both win.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from signal_platform import aws_clients
from signal_platform.errors import LakeLedgerError

State = Literal["pending", "committed", "abandoned"]
RECORD_PREFIX: Final = "record#"
ATTEMPT_PREFIX: Final = "attempt#"
_BATCH_GET_LIMIT: Final = 100


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt_id: str
    state: State
    deadline: float
    keys: tuple[str, ...] = ()


class Ledger(Protocol):
    def owners(self, record_ids: Iterable[str]) -> dict[str, str]:
        """record id → attempt id, for the records that have an owner (strongly consistent)."""
        ...

    def attempts(self, attempt_ids: Iterable[str]) -> dict[str, Attempt]:
        """The attempts the ledger still holds (strongly consistent)."""
        ...

    def begin(self, attempt: Attempt) -> None:
        """Record a new ``pending`` attempt."""
        ...

    def claim(self, record_id: str, attempt_id: str, *, previous: str | None) -> bool:
        """Own ``record_id`` if it has no owner (``previous`` None) or still the ``previous`` one."""
        ...

    def commit(self, attempt_id: str) -> bool:
        """pending → committed; False when the attempt is no longer pending (someone abandoned it)."""
        ...

    def abandon(self, attempt_id: str, *, expired_at: float | None = None) -> bool:
        """pending → abandoned (only if its deadline is before ``expired_at``, when given); True also
        when it already was abandoned, False when it is committed or still running."""
        ...


def _conditional_failure(exc: Exception) -> bool:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - lazy import, as the client itself

    return isinstance(exc, ClientError) and (
        exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


class DynamoDbLedger:
    """The ledger on a DynamoDB table; SDK errors become ``LakeLedgerError`` (the batch is retried)."""

    def __init__(
        self,
        table: str,
        *,
        retention_seconds: int,
        clock: Callable[[], float],
        client: Callable[[], Any] = lambda: aws_clients.client("dynamodb"),
    ) -> None:
        self.table = table
        self._retention = retention_seconds
        self._clock = clock
        self._client = client

    # ------------------------------------------------------------------ reads
    def owners(self, record_ids: Iterable[str]) -> dict[str, str]:
        items = self._get([RECORD_PREFIX + record_id for record_id in record_ids], ("pk", "attempt"))
        return {item["pk"]["S"].removeprefix(RECORD_PREFIX): item["attempt"]["S"] for item in items}

    def attempts(self, attempt_ids: Iterable[str]) -> dict[str, Attempt]:
        items = self._get([ATTEMPT_PREFIX + attempt_id for attempt_id in attempt_ids], None)
        found = {}
        for item in items:
            attempt_id = item["pk"]["S"].removeprefix(ATTEMPT_PREFIX)
            found[attempt_id] = Attempt(
                attempt_id,
                item["state"]["S"],
                float(item["deadline"]["N"]),
                tuple(value["S"] for value in item.get("keys", {}).get("L", [])),
            )
        return found

    def _get(self, keys: Sequence[str], projection: tuple[str, ...] | None) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        found: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                "Keys": [{"pk": {"S": key}} for key in unique[start : start + _BATCH_GET_LIMIT]],
                "ConsistentRead": True,
            }
            if projection:
                request["ProjectionExpression"] = ", ".join(projection)
            pending: dict[str, Any] = {self.table: request}
            while pending:
                try:
                    response = self._client().batch_get_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    code = aws_clients.error_code(exc)
                    raise LakeLedgerError(f"BatchGetItem on {self.table} failed: {code}") from exc
                found.extend(response.get("Responses", {}).get(self.table, []))
                pending = response.get("UnprocessedKeys") or {}
        return found

    # ------------------------------------------------------------------ conditional writes
    def begin(self, attempt: Attempt) -> None:
        self._write(
            "put_item",
            Item={
                "pk": {"S": ATTEMPT_PREFIX + attempt.attempt_id},
                "state": {"S": attempt.state},
                "deadline": {"N": f"{attempt.deadline:.3f}"},
                "keys": {"L": [{"S": key} for key in attempt.keys]},
                "expires_at": {"N": str(self._expiry())},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def claim(self, record_id: str, attempt_id: str, *, previous: str | None) -> bool:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if previous is None
            else {
                "ConditionExpression": "attempt = :previous",
                "ExpressionAttributeValues": {":previous": {"S": previous}},
            }
        )
        return self._write(
            "put_item",
            Item={
                "pk": {"S": RECORD_PREFIX + record_id},
                "attempt": {"S": attempt_id},
                "expires_at": {"N": str(self._expiry())},
            },
            **condition,
        )

    def commit(self, attempt_id: str) -> bool:
        return self._set_state(attempt_id, "committed", expired_at=None)

    def abandon(self, attempt_id: str, *, expired_at: float | None = None) -> bool:
        if self._set_state(attempt_id, "abandoned", expired_at=expired_at):
            return True
        current = self.attempts([attempt_id]).get(attempt_id)
        return current is None or current.state == "abandoned"

    def _set_state(self, attempt_id: str, state: State, *, expired_at: float | None) -> bool:
        condition = "#state = :pending"
        values: dict[str, Any] = {":pending": {"S": "pending"}, ":state": {"S": state}}
        if expired_at is not None:
            condition += " AND deadline < :now"
            values[":now"] = {"N": f"{expired_at:.3f}"}
        return self._write(
            "update_item",
            Key={"pk": {"S": ATTEMPT_PREFIX + attempt_id}},
            UpdateExpression="SET #state = :state",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
        )

    def _write(self, operation: str, **request: Any) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            getattr(self._client(), operation)(TableName=self.table, **request)
        except (ClientError, BotoCoreError) as exc:
            if _conditional_failure(exc):
                return False
            code = aws_clients.error_code(exc)
            raise LakeLedgerError(f"{operation} on {self.table} failed: {code}") from exc
        return True

    def _expiry(self) -> int:
        return int(self._clock()) + self._retention
