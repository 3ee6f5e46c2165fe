"""`make local`: the local cloud kept running, for curl, the AWS CLI and boto3, until Ctrl-C.

moto runs as a server on 127.0.0.1 (ThreadedMotoServer), provisioned from template.yaml; the
emulators run in a background thread on the wall clock; the HTTP API is served on 127.0.0.1 (POST
/v1/events goes to the validator as an API Gateway HTTP API event). Prints the endpoints, the
environment to export, and a write key of a freshly registered source.

    python -m tools.local [--port 4566] [--api-port 8080] [--source local-dev]
                          [--fault target:S3WriterFunction,window=0-30] [--function-logs]
                          [--two-regions]

``--two-regions``: the primary and secondary config-envs joined by the global endpoint, each with
its HTTP API: the primary's on ``--api-port``, the secondary's on the next port (docs/local-cloud.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--port", type=int, default=4566, help="moto server port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--api-port", type=int, default=8080, help="HTTP API port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--source", default="local-dev", help="source id to register (its write key is printed)"
    )
    parser.add_argument(
        "--config-env", default="default", help="samconfig.toml config-env (default: default)"
    )
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument(
        "--two-regions",
        action="store_true",
        help="the primary and secondary config-envs, joined by the global endpoint (two API ports)",
    )
    parser.add_argument(
        "--fault", action="append", default=[], help="a fault, e.g. target:EnrichmentFunction,times=3"
    )
    parser.add_argument("--log-level", default="WARNING", help="Powertools log level of the functions")
    parser.add_argument(
        "--function-logs", action="store_true", help="print what functions write (EMF metrics too)"
    )
    parser.add_argument(
        "--report-every", type=float, default=0.0, help="print the census every N seconds (0: off)"
    )
    return parser.parse_args(argv)


def _banner(cloud: LocalCloud, api_urls: dict[str, str], write_key: str, source: str) -> str:
    stack = cloud.stack
    api_url = api_urls[cloud.primary.name]
    lines = ["local cloud running (Ctrl-C stops it)", *(f"  {line}" for line in cloud.summary()), ""]
    lines.append(f"AWS endpoint (moto server): {cloud.endpoint_url}")
    routes = ", ".join(f"{route.method} {route.path}" for route in cloud.api.routes)
    for region, url in api_urls.items():
        lines.append(f"HTTP API ({region}):{' ' * max(1, 16 - len(region))}{url}  ({routes})")
    if cloud.partner is not None:
        lines.append(f"partner stand-in:           {cloud.partner.url}")
    lines.append("")
    lines.append("export these to use it with the AWS CLI or boto3:")
    lines.extend(f"  export {name}={value}" for name, value in cloud.exports().items())
    lines.append("")
    lines.append(f"write key of source {source!r} (shown once):")
    lines.append(f"  {write_key}")
    lines.append("")
    lines.append("try (a valid event from the schema registry's examples; resending it is safe):")
    lines.append(f"  curl -s -X POST {api_url}/v1/events -H 'content-type: application/json' \\")
    lines.append(f"    -H 'x-api-key: {write_key}' -d '{_example(source)}'")
    buckets = ", ".join(str(resource.ref) for resource in stack.of_type("AWS::S3::Bucket"))
    lines.append(f"  aws s3 ls --recursive s3://<bucket>   (buckets: {buckets})")
    return "\n".join(lines)


def _example(source: str) -> str:
    from datetime import UTC, datetime  # noqa: PLC0415

    from localcloud.traffic import TrafficGenerator  # noqa: PLC0415
    from signal_platform import codec  # noqa: PLC0415
    from signal_platform.schema_registry import SchemaRegistry  # noqa: PLC0415

    event = TrafficGenerator(SchemaRegistry(), seed=int(time.time())).valid(source, datetime.now(UTC))
    return codec.dumps(event).decode().replace("'", "'\\''")


def run(args: argparse.Namespace) -> int:
    from localcloud import faults  # noqa: PLC0415
    from localcloud.cloud import CloudOptions, LocalCloud  # noqa: PLC0415
    from localcloud.http_api import ApiServer  # noqa: PLC0415

    options = CloudOptions(
        template=args.template,
        config_env=args.config_env,
        server_port=args.port,
        wall_clock=True,
        log_level=args.log_level,
        function_output=sys.stdout if args.function_logs else None,
        faults=[faults.parse(spec) for spec in args.fault],
        regions=("primary", "secondary") if args.two_regions else (),
    )
    stop = threading.Event()

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    with LocalCloud(options) as cloud:
        write_key = cloud.register_source(args.source, "make local")
        servers = {
            name: ApiServer(region.api, port=args.api_port + index if args.api_port else 0).start()
            for index, (name, region) in enumerate(cloud.regions.items())
        }
        loop = threading.Thread(target=cloud.serve_forever, args=(stop,), name="emulators", daemon=True)
        loop.start()
        api_urls = {name: server.url for name, server in servers.items()}
        print(_banner(cloud, api_urls, write_key, args.source), flush=True)
        next_report = time.monotonic() + args.report_every
        try:
            while not stop.wait(0.5):
                if args.report_every and time.monotonic() >= next_report:
                    next_report = time.monotonic() + args.report_every
                    census = cloud.census()
                    print(
                        f"[census] lake {len(census.lake):,} signals in {census.lake_objects:,} objects, "
                        f"DLQ messages {dict(census.dlq_messages)}, "
                        f"partner {census.partner_requests:,} requests",
                        flush=True,
                    )
        finally:
            stop.set()
            loop.join(timeout=10)
            for server in servers.values():
                server.stop()
            census = cloud.census()
            print(
                f"\nstopped. lake: {len(census.lake):,} signals in {census.lake_objects:,} objects; "
                f"DLQ messages: {sum(census.dlq_messages.values())}; dropped: {len(census.dropped)}",
                flush=True,
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
