"""A well-behaved API client: sends requests, reads per-event verdicts, resends what it is told to.

It follows the API's contract (docs/openapi.yaml): ``accepted`` and ``rejected`` verdicts are final
(a rejection must carry its reasons); ``retry`` verdicts, and whole-request 429 / 503 answers, are
resent after ``Retry-After`` with the same ``event_id``s, at most ``max_resends`` times. Every answer
lands in the ``Ledger`` the accounting balances against.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from localcloud.accounting import Ledger
from localcloud.http_api import HttpResponse
from localcloud.traffic import TrafficEvent
from signal_platform import codec

Api = Callable[[str, str, bytes | None, Mapping[str, str]], HttpResponse]
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
NO_CONNECTION: Final = HttpResponse(503, {"retry-after": "1"}, b"")


def nearest_first(apis: Sequence[tuple[Api, Callable[[], bool]]]) -> Api:
    """An API that fails over as multi-Region clients do: each request goes to the first Region's API
    (the nearest) and to the next when that one is unreachable (its ``down`` holds) or answers 429 /
    5xx; the answer of the last one tried otherwise (no connection at all: a 503)."""

    def request(method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> HttpResponse:
        response = NO_CONNECTION
        for api, down in apis:
            if down():
                continue
            response = api(method, path, body, headers)
            if response.status not in RETRYABLE_STATUSES:
                return response
        return response

    return request


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int
    accepted: int
    rejected: int
    retry_left: int


class ApiClient:
    def __init__(
        self,
        api: Api,
        ledger: Ledger,
        *,
        wait: Callable[[float], None],
        path: str = "/v1/events",
        max_resends: int = 5,
        basic_auth: bool = False,
    ) -> None:
        self._api = api
        self.ledger = ledger
        self._wait = wait
        self._path = path
        self._max_resends = max_resends
        self._basic_auth = basic_auth

    def _headers(self, write_key: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "localcloud-client/1.0"}
        if self._basic_auth:
            headers["authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        else:
            headers["x-api-key"] = write_key
        return headers

    def send(self, write_key: str, batch: list[TrafficEvent], *, resend: bool = False) -> SendResult:
        """Send ``batch`` (one request), then resend its ``retry`` events until settled or out of resends.

        ``resend``: the same events again (a client that lost the answer), counted as resent, not sent.
        """
        if resend:
            self.ledger.resent += len(batch)
        else:
            self.ledger.sent += len(batch)
        pending = list(batch)
        status = accepted = rejected = 0
        for attempt in range(self._max_resends + 1):
            if attempt:
                self.ledger.resent += len(pending)
            self.ledger.requests += 1
            body = codec.dumps({"events": [item.event for item in pending]})
            response = self._api("POST", self._path, body, self._headers(write_key))
            self.ledger.statuses[response.status] += 1
            status = response.status
            retry, wait = self._read(response, pending)
            accepted += len(pending) - len(retry) - self._rejected_in(response)
            rejected += self._rejected_in(response)
            pending = retry
            if not pending:
                break
            self._wait(wait)
        for item in pending:
            event_id = item.event.get("event_id")
            if isinstance(event_id, str):
                self.ledger.retry.add(event_id)
        return SendResult(status, accepted, rejected, len(pending))

    @staticmethod
    def _rejected_in(response: HttpResponse) -> int:
        try:
            counts = response.json().get("counts", {})
        except (ValueError, AttributeError):
            return 0
        return int(counts.get("rejected", 0)) if isinstance(counts, dict) else 0

    def _read(self, response: HttpResponse, sent: list[TrafficEvent]) -> tuple[list[TrafficEvent], float]:
        """The events to resend and how long to wait first; records final verdicts in the ledger."""
        wait = float(response.headers.get("retry-after", "1") or 1)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            if response.status in RETRYABLE_STATUSES:
                return sent, wait
            for index, item in enumerate(sent):  # the whole request was refused (401, 413...): final
                self.ledger.reject(self._key(item, index), [f"http_{response.status}"], item.expected)
            return [], wait
        retry: list[TrafficEvent] = []
        for result, item in zip(results, sent, strict=True):
            verdict = result.get("verdict")
            if verdict == "accepted":
                self.ledger.accept(str(result["event_id"]))
            elif verdict == "retry":
                retry.append(item)
            else:
                reasons = [str(error.get("code")) for error in result.get("errors", []) if error.get("code")]
                self.ledger.reject(self._key(item, int(result.get("index", 0))), reasons, item.expected)
        return retry, wait

    def _key(self, item: TrafficEvent, index: int) -> str:
        """A rejected event's entry: its event_id (if any) in this request at this index."""
        return f"{item.event.get('event_id')}@{self.ledger.requests}:{index}"
