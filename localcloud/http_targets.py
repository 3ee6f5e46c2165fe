"""API destinations: an HTTP request per event, with the connection's authorization, sent locally.

Nothing leaves the machine: every destination's ``InvocationEndpoint`` is re-pointed at the local
partner stand-in (same path and query; scheme and host replaced), so a template that names a real
partner still runs here. Authorization comes from the ``AWS::Events::Connection``: API_KEY (the
header it names), BASIC; OAuth client credentials is not emulated (a clear error). Any answer other
than 2xx is a failed invocation, which the caller (a rule target or a Pipe) retries.
"""

from __future__ import annotations

import base64
import http.client
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localcloud.provision import Stack


class ApiDestinationError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ApiDestination:
    logical_id: str
    arn: str
    endpoint: str
    method: str
    headers: dict[str, str]

    @classmethod
    def of(cls, stack: Stack, arn: str) -> ApiDestination:
        destination = stack.by_arn(arn)
        if destination is None or destination.type != "AWS::Events::ApiDestination":
            raise KeyError(f"no API destination {arn} in the template")
        props = destination.properties
        connection = stack.by_arn(str(props["ConnectionArn"]))
        headers = _authorization(connection.properties if connection is not None else {})
        return cls(
            destination.logical_id, arn, str(props["InvocationEndpoint"]), str(props["HttpMethod"]), headers
        )


def _authorization(connection: dict[str, Any]) -> dict[str, str]:
    kind = connection.get("AuthorizationType")
    parameters = connection.get("AuthParameters") or {}
    headers: dict[str, str] = {}
    if kind == "API_KEY":
        api_key = parameters["ApiKeyAuthParameters"]
        headers[str(api_key["ApiKeyName"])] = str(api_key["ApiKeyValue"])
    elif kind == "BASIC":
        basic = parameters["BasicAuthParameters"]
        token = base64.b64encode(f"{basic['Username']}:{basic['Password']}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif kind is not None:
        raise ApiDestinationError(0, f"connection authorization {kind} is not emulated locally")
    for header in (parameters.get("InvocationHttpParameters") or {}).get("HeaderParameters", []):
        headers[str(header["Key"])] = str(header["Value"])
    return headers


class HttpSender:
    """Sends to API destinations through one keep-alive connection to the local stand-in."""

    def __init__(self, stack: Stack, local_base_url: str) -> None:
        self._stack = stack
        parts = urlsplit(local_base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._destinations: dict[str, ApiDestination] = {}
        self._local = threading.local()
        self.requests = 0

    def destination(self, arn: str) -> ApiDestination:
        if arn not in self._destinations:
            self._destinations[arn] = ApiDestination.of(self._stack, arn)
        return self._destinations[arn]

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
            self._local.connection = connection
        return connection

    def send(self, arn: str, body: bytes, extra_headers: dict[str, str] | None = None) -> int:
        """POST (or the destination's method) ``body``; returns the status, raises on a non-2xx answer."""
        destination = self.destination(arn)
        target = urlsplit(destination.endpoint)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        headers = {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Amazon/EventBridge/ApiDestinations",
            **destination.headers,
            **(extra_headers or {}),
        }
        self.requests += 1
        for attempt in (1, 2):  # a keep-alive connection the server closed is reopened once
            connection = self._connection()
            try:
                connection.request(destination.method, path, body=body, headers=headers)
                response = connection.getresponse()
                text = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise ApiDestinationError(0, f"{destination.logical_id}: connection failed") from None
        if not 200 <= response.status < 300:
            raise ApiDestinationError(
                response.status, f"{destination.logical_id} answered {response.status}: {text[:200]!r}"
            )
        return response.status
