"""The partial batch response rules shared by the SQS mappings and the Pipes.

Lambda (SQS, Kinesis and DynamoDB event sources): "Lambda treats a batch as a complete success if
your function returns ... an empty batchItemFailures list, a null batchItemFailures list, an empty
EventResponse, a null EventResponse", and "as a complete failure if your function returns ... an
invalid JSON response, an empty string itemIdentifier, a null itemIdentifier, an itemIdentifier
with a bad key name, an itemIdentifier value with a message ID that doesn't exist". The Pipes
documentation says the same of a Lambda target: an empty, null or unknown ``itemIdentifier`` fails
the whole batch.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def failed_items(answer: Any, identifiers: Collection[str]) -> set[str]:
    """The identifiers the answer names as failed; all of them when the answer is invalid."""
    if answer is None or answer == "":
        return set()
    if not isinstance(answer, dict):
        return set(identifiers)
    failures = answer.get("batchItemFailures")
    if failures is None or failures == []:
        return set()
    if not isinstance(failures, list):
        return set(identifiers)
    named = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in identifiers:
            return set(identifiers)
        named.add(identifier)
    return named
