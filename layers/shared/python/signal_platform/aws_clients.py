"""One place that builds AWS clients: lazily, once per container, per (service, region).

Clients are built on first use (not at import, which keeps cold starts lean) and reused by every
invocation. ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) is honoured so the same code
runs against moto or any local stand-in.

Threads may ask at once (the S3 writer's puts run on a pool): ``functools.cache`` does not lock, so
without ``_BUILDING`` each of them would build its own client on the first call, ~0.1 s of CPU each.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

_RETRIES: Any = {"max_attempts": 3, "mode": "standard"}
_BUILDING = threading.Lock()


def _endpoint_url(service: str) -> str | None:
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


@cache
def client(service: str, region: str | None = None) -> Any:
    with _BUILDING:
        return _built(service, region)


@cache
def _built(service: str, region: str | None) -> Any:
    import boto3  # noqa: PLC0415 - deferred: boto3 costs most of a cold start and is only needed on use
    from botocore.config import Config  # noqa: PLC0415

    session: Any = boto3.session.Session()  # the service name is dynamic, so the typed overloads do not apply
    return session.client(
        service,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        endpoint_url=_endpoint_url(service),
        config=Config(retries=_RETRIES, connect_timeout=2, read_timeout=5, tcp_keepalive=True),
    )


def error_code(exc: Exception) -> str:
    """The AWS error code of an SDK exception (``AccessDenied``, ...), else its class name: what
    the functions' errors and logs name a failed call by."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - lazy, as the clients themselves

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def reset() -> None:
    """Forget every cached client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    _built.cache_clear()
