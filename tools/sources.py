"""Register a sending source and print its write key, once (only its hash is stored).

    python -m tools.sources register web-shop --description "storefront" [--table signals-sources]

The table defaults to $SOURCES_TABLE_NAME; the Region and credentials come from the usual AWS
environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local cloud).
"""

from __future__ import annotations

import argparse
import os
import sys

from signal_platform.errors import SignalPlatformError
from signal_platform.sources import SourceRegistry, new_write_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sources", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="create a source and print its write key once")
    register.add_argument("source_id", help="lowercase id, e.g. web-shop (letters, digits, - and _)")
    register.add_argument("--description", default="")
    register.add_argument("--table", default=os.environ.get("SOURCES_TABLE_NAME", ""))
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("no sources table: pass --table or set SOURCES_TABLE_NAME")
    try:
        write_key, source = new_write_key(args.source_id, args.description)
        SourceRegistry(args.table).register(source)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SignalPlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"source {source.source_id!r} registered in {args.table}.")
    print("Its write key follows; it is shown this once and cannot be recovered:")
    print(write_key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
