"""``aws_clients``: one client per (service, Region), even when threads ask for it at once; the
error code a failed call is named by."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from signal_platform import aws_clients


def test_threads_asking_at_once_share_one_client() -> None:
    threads = 8
    start = threading.Barrier(threads)

    def first_use(_: int) -> Any:
        start.wait()
        return aws_clients.client("s3", "us-west-2")

    with ThreadPoolExecutor(threads) as pool:
        clients = list(pool.map(first_use, range(threads)))

    assert len({id(client) for client in clients}) == 1
    assert aws_clients.client("s3", "us-west-2") is clients[0]


def test_reset_builds_a_new_client() -> None:
    before = aws_clients.client("dynamodb", "us-west-2")
    aws_clients.reset()
    assert aws_clients.client("dynamodb", "us-west-2") is not before


def test_error_code_names_a_service_error_by_its_code_and_anything_else_by_its_class() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    no_code = ClientError({}, "PutObject")
    unreachable = EndpointConnectionError(endpoint_url="https://s3.example")

    assert aws_clients.error_code(denied) == "AccessDenied"
    assert aws_clients.error_code(no_code) == "ClientError"
    assert aws_clients.error_code(unreachable) == "EndpointConnectionError"
