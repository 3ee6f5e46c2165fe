"""One place that builds AWS clients: lazily, once per container, per (service, region).

Clients are built on first use (not at import, which keeps cold starts lean) and reused by every
invocation. ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) is honoured so the same code
runs against moto or any local stand-in.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

_RETRIES: Any = {"max_attempts": 3, "mode": "standard"}


def _endpoint_url(service: str) -> str | None:
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


@cache
def client(service: str, region: str | None = None) -> Any:
    import boto3  # noqa: PLC0415 - deferred: boto3 costs most of a cold start and is only needed on use
    from botocore.config import Config  # noqa: PLC0415

    session: Any = boto3.session.Session()  # the service name is dynamic, so the typed overloads do not apply
    return session.client(
        service,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        endpoint_url=_endpoint_url(service),
        config=Config(retries=_RETRIES, connect_timeout=2, read_timeout=5, tcp_keepalive=True),
    )


def reset() -> None:
    """Forget every cached client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
