"""`make demo`: good and bad events through the real validator handler against moto.

Prints each event's verdict, then what arrived on the ingress bus, and checks the promise: exactly
the accepted events arrive, once each. Exits non-zero when that does not hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

DEMO_REGION = "us-west-2"
SIGNING_KEY = "local-demo-signing-key-not-a-secret"


def _isolate_from_real_aws() -> None:
    """The demo must never reach an account: fake credentials before boto3 is imported."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_REGION": DEMO_REGION,
            "AWS_DEFAULT_REGION": DEMO_REGION,
            "POWERTOOLS_SERVICE_NAME": "validator",
            "POWERTOOLS_METRICS_NAMESPACE": "CustomerSignalsLocal",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "1",
        }
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


@dataclass
class DemoContext:
    """The parts of a Lambda context the handler uses."""

    function_name: str = "validator"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{DEMO_REGION}:123456789012:function:validator"
    aws_request_id: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _request(body: bytes, write_key: str) -> dict[str, Any]:
    import base64  # noqa: PLC0415

    return {
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        },
        "requestContext": {
            "http": {"method": "POST", "path": "/v1/events", "sourceIp": "198.51.100.7"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /v1/events",
            "stage": "$default",
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def run(events_per_request: int, requests: int) -> int:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from localcloud.ingress import create_ingress  # noqa: PLC0415
    from localcloud.traffic import TrafficGenerator  # noqa: PLC0415
    from signal_platform import codec  # noqa: PLC0415
    from signal_platform.sources import SourceRegistry, new_write_key  # noqa: PLC0415
    from signal_platform.timeutil import utc_now  # noqa: PLC0415
    from validator import dependencies  # noqa: PLC0415
    from validator.handler import lambda_handler  # noqa: PLC0415

    with mock_aws():
        stack = create_ingress(boto3.session.Session(region_name=DEMO_REGION), SIGNING_KEY)
        os.environ.update(stack.validator_environment())
        dependencies.reset()
        write_key, source = new_write_key("web-shop", "demo storefront")
        SourceRegistry(stack.names.sources_table).register(source)
        traffic = TrafficGenerator(dependencies.schema_registry())

        accepted: list[str] = []
        print(f"{'req':>3} {'#':>3}  {'event type':<12} {'verdict':<9} reason")
        for number in range(1, requests + 1):
            batch = list(traffic.mix("web-shop", utc_now(), events_per_request, invalid_share=0.25))
            if number == requests and len(batch) > 1:  # a resend within the request: first one wins
                batch.append(type(batch[0])(dict(batch[0].event), "duplicate_event_id"))
            response = lambda_handler(
                _request(codec.dumps({"events": [t.event for t in batch]}), write_key), DemoContext()
            )
            answer = codec.loads(response["body"])
            for sent, result in zip(batch, answer["results"], strict=True):
                reason = ", ".join(f"{e['code']} at {e['path']}" for e in result.get("errors", []))
                event_type = sent.event["event_type"]
                print(f"{number:>3} {result['index']:>3}  {event_type:<12} {result['verdict']:<9} {reason}")
                if result["verdict"] == "accepted":
                    accepted.append(result["event_id"])
            print(f"    -> HTTP {response['statusCode']}  counts {answer['counts']}")

        bus_events = stack.drain_tap()
        arrived = Counter(signal["event_id"] for event in bus_events for signal in event["detail"]["signals"])
        signals = sum(arrived.values())
        print(f"\ningress bus: {len(bus_events)} signal batches (EventBridge entries), {signals} signals")
        for event in bus_events:
            detail = event["detail"]
            size = len(detail["signals"])
            signature = detail["signature"][:15]
            kind = event["detail-type"]
            print(f"  batch {detail['batch_id']}  {kind:<12} {size:>3} signals  signed {signature}...")
        duplicates = sorted(event_id for event_id, times in arrived.items() if times > 1)
        missing = sorted(set(accepted) - set(arrived))
        unexpected = sorted(set(arrived) - set(accepted))
        print(
            f"\naccepted {len(accepted)}, arrived {len(arrived)}, duplicates {len(duplicates)}, "
            f"missing {len(missing)}, unexpected {len(unexpected)}"
        )
        if duplicates or missing or unexpected:
            print("FAILED: the bus does not hold exactly the accepted events once each", file=sys.stderr)
            return 1
        print("OK: exactly the accepted events arrived on the ingress bus, once each")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-request", type=int, default=12)
    parser.add_argument("--requests", type=int, default=3)
    args = parser.parse_args(argv)
    _isolate_from_real_aws()
    return run(args.events_per_request, args.requests)


if __name__ == "__main__":
    raise SystemExit(main())
