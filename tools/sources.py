"""Register a sending source and print its write key, once (only its hash is stored).

    python -m tools.sources register web-shop --description "storefront" [--table signals-sources]
                                     [--origin https://shop.example.com ...]
                                     [--rate EVENTS_PER_SECOND]
    python -m tools.sources set-rate web-shop 2000   (--default: back to the stack's default rate)
    python -m tools.sources rekey web-shop   (a new key, printed once; the old one stops working)
    python -m tools.sources copy --from-table OLD --from-region us-east-1 --table GLOBAL

`copy` moves the keys of a per-Region sources table into the global table (docs/runbook.md,
"Migrating to the sources global table"): a source the target lacks is copied as is, one it has with
the same key hash is left alone, one it has with another key is reported as a conflict (exit 1).

The table defaults to $SOURCES_TABLE_NAME; the Region and credentials come from the usual AWS
environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local cloud).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from signal_platform import aws_clients
from signal_platform.errors import SignalPlatformError
from signal_platform.sources import Source, SourceRegistry, new_key, new_write_key


@dataclass(slots=True)
class CopyReport:
    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def copy_sources(source: Any, source_table: str, target: Any, target_table: str) -> CopyReport:
    """Every source of ``source_table`` into ``target_table`` without overwriting any key there."""
    report = CopyReport()
    registry = SourceRegistry(target_table, client=lambda: target)
    for page in source.get_paginator("scan").paginate(TableName=source_table, ConsistentRead=True):
        for item in page["Items"]:
            wanted = Source.from_item(item)
            try:
                registry.register(wanted)
            except ValueError:
                key = {"source_id": {"S": wanted.source_id}}
                existing = Source.from_item(target.get_item(TableName=target_table, Key=key)["Item"])
                same = existing.key_hash == wanted.key_hash
                (report.present if same else report.conflicts).append(wanted.source_id)
                continue
            report.copied.append(wanted.source_id)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sources", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="create a source and print its write key once")
    register.add_argument("source_id", help="lowercase id, e.g. web-shop (letters, digits, - and _)")
    register.add_argument("--description", default="")
    register.add_argument(
        "--origin",
        action="append",
        default=[],
        help="a web origin whose pages may send with the key, e.g. https://shop.example.com (repeatable)",
    )
    register.add_argument(
        "--rate", type=int, help="its rate limit, events a second per Region (default: the stack's)"
    )
    register.add_argument("--table", default=os.environ.get("SOURCES_TABLE_NAME", ""))
    set_rate = commands.add_parser(
        "set-rate", help="change a source's rate limit (validators apply it within a minute)"
    )
    set_rate.add_argument("source_id")
    rate = set_rate.add_mutually_exclusive_group(required=True)
    rate.add_argument("rate", nargs="?", type=int, help="events a second per Region")
    rate.add_argument(
        "--default", action="store_true", help="use the stack's DefaultSourceRateLimitPerSecond"
    )
    set_rate.add_argument("--table", default=os.environ.get("SOURCES_TABLE_NAME", ""))
    rekey = commands.add_parser(
        "rekey",
        help="give a source a new write key, print it once, and enable the source:"
        " its old key is refused within a minute",
    )
    rekey.add_argument("source_id")
    rekey.add_argument("--table", default=os.environ.get("SOURCES_TABLE_NAME", ""))
    copy = commands.add_parser("copy", help="copy another table's sources in, never overwriting a key")
    copy.add_argument("--from-table", required=True, help="the per-Region table to copy from")
    copy.add_argument("--from-region", required=True, help="its Region")
    copy.add_argument("--table", default=os.environ.get("SOURCES_TABLE_NAME", ""), help="the global table")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("no sources table: pass --table or set SOURCES_TABLE_NAME")
    # The one place a command's failure becomes its exit code: 2 when the request is refused (a
    # source id that exists, or does not), 1 when the table could not be read or written.
    try:
        return _run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SignalPlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "copy":
        return _copy(args.from_table, args.from_region, args.table)
    if args.command == "set-rate":
        return _set_rate(args.table, args.source_id, None if args.default else args.rate)
    if args.command == "rekey":
        return _rekey(args.table, args.source_id)
    return _register(args)


def _register(args: argparse.Namespace) -> int:
    write_key, source = new_write_key(args.source_id, args.description, frozenset(args.origin))
    SourceRegistry(args.table).register(dataclasses.replace(source, rate_per_second=args.rate))
    print(f"source {source.source_id!r} registered in {args.table}.")
    print("Its write key follows; it is shown this once and cannot be recovered:")
    print(write_key)
    return 0


def _set_rate(table: str, source_id: str, rate: int | None) -> int:
    SourceRegistry(table).set_rate(source_id, rate)
    print(f"source {source_id!r}: {'the default rate' if rate is None else f'{rate} events/s'} per Region")
    return 0


def _rekey(table: str, source_id: str) -> int:
    write_key, key_hash = new_key(source_id)
    SourceRegistry(table).replace_key(source_id, key_hash)
    print(f"source {source_id!r} has a new key in {table} and is enabled; validators refuse the old")
    print("key once they refresh the source (within a minute). The new key follows; it is shown this")
    print("once and cannot be recovered:")
    print(write_key)
    return 0


def _copy(from_table: str, from_region: str, table: str) -> int:
    report = copy_sources(
        aws_clients.client("dynamodb", region=from_region),
        from_table,
        aws_clients.client("dynamodb"),
        table,
    )
    print(
        f"copied {len(report.copied)}, already there {len(report.present)}, conflicts {len(report.conflicts)}"
    )
    for source_id in report.conflicts:
        print(f"CONFLICT {source_id}: registered in both tables with different keys; keep one by hand")
    return 1 if report.conflicts else 0


if __name__ == "__main__":
    raise SystemExit(main())
