"""Unit tests never touch the network: any socket connect raises, and the test fails.

The connect raises ``NetworkAccessError``; since botocore wraps whatever its HTTP layer raises
(into ``HTTPClientError``, a ``BotoCoreError``) and the code under test may turn that into an
"unavailable" outcome, every attempt is also recorded and fails the test at teardown.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


class NetworkAccessError(RuntimeError):
    """A unit test tried to open a network connection."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        target = repr(args[1:] or kwargs)
        attempts.append(target)
        raise NetworkAccessError(f"unit tests must not use the network (connect to {target})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield
    if attempts:
        pytest.fail(f"the test tried to use the network: {attempts}")
