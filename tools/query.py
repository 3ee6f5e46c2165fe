"""`make query`: the lake's Athena SQL, run locally with DuckDB over a lake filled with demo traffic.

Starts the local cloud (as `make demo` does), sends demo traffic through the whole pipeline, copies
the lake's gzip NDJSON objects (``events/event_type=…/dt=…/hour=…/…json.gz``) to a directory, and
defines over them, in DuckDB:

- ``events``: the Glue table of template.yaml (``LakeEventsTable``: its columns, its partition keys
  read from the Hive-style paths);
- ``events_dedup``: the view, from ``athena/events_dedup.sql`` (the same text template.yaml deploys as
  the Glue view ``LakeEventsDedupView``).

Then it runs every sample query of ``athena/queries/`` (Athena's SQL, with ``?`` for the first and
last day), each transpiled by sqlglot from the Athena dialect to DuckDB's, prints the answers, and
checks them against the accounting of the run: the distinct event_ids of the view are exactly the
accepted events, the base table holds each of them once, and the per event type counts match what
the API accepted. Exits 1 on any mismatch.

    python -m tools.query [--events 2000] [--per-request 100] [--seed 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ATHENA_DIR = ROOT / "athena"
VIEW_SQL = ATHENA_DIR / "events_dedup.sql"
QUERIES_DIR = ATHENA_DIR / "queries"
# The lake's free-form payload column: JSON text in Athena, JSON in DuckDB (same functions work).
JSON_COLUMNS = frozenset({"data"})


# ---------------------------------------------------------------------------- pure parts
def duckdb_type(name: str, glue_type: str) -> str:
    """A Glue (Hive) column type as DuckDB reads it from NDJSON."""
    if name in JSON_COLUMNS:
        return "JSON"
    fields = re.fullmatch(r"struct<(.*)>", glue_type)
    if fields is None:
        if glue_type != "string":
            raise ValueError(f"no DuckDB type for Glue type {glue_type!r} of column {name}")
        return "VARCHAR"
    members = [member.split(":", 1) for member in fields.group(1).split(",")]
    return "STRUCT(" + ", ".join(f'"{field}" {duckdb_type(field, kind)}' for field, kind in members) + ")"


def transpile(athena_sql: str) -> str:
    """One Athena (Trino/Presto) statement as DuckDB SQL."""
    import sqlglot  # noqa: PLC0415 - a dev dependency, only this tool needs it

    (statement,) = sqlglot.transpile(athena_sql, read="athena", write="duckdb")
    return statement


def events_table_sql(lake_dir: Path, columns: Sequence[tuple[str, str]], partitions: Sequence[str]) -> str:
    """DuckDB's ``events``: the table's columns read from the objects, its partitions from the paths."""
    mapping = ", ".join(f"'{name}': '{duckdb_type(name, kind)}'" for name, kind in columns)
    hive = ", ".join(f"'{name}': 'VARCHAR'" for name in partitions)
    pattern = (lake_dir / "events" / "**" / "*.json.gz").as_posix()
    # Made of template.yaml's columns and this tool's own directory, never of outside input.
    return (
        "CREATE OR REPLACE VIEW events AS SELECT * FROM read_json("  # noqa: S608
        f"'{pattern}', format = 'newline_delimited', compression = 'gzip', "
        f"columns = {{{mapping}}}, hive_partitioning = true, hive_types = {{{hive}}}, "
        "hive_types_autocast = false)"
    )


@dataclass
class QueryRun:
    """What `make query` ran and found; ``problems`` is empty when the counts match the accounting."""

    accepted: int = 0
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check(run: QueryRun, *, accepted_types: Mapping[str, str], view_ids: set[str]) -> None:
    """The lake's answers against the accounting (``accepted_types``: event_id -> event type)."""
    expected = Counter(accepted_types.values())
    run.accepted = len(accepted_types)
    if view_ids != set(accepted_types):
        missing, extra = set(accepted_types) - view_ids, view_ids - set(accepted_types)
        run.problems.append(f"events_dedup: {len(missing)} accepted events missing, {len(extra)} unexpected")
    (copies,) = run.results["copies_in_the_lake"]
    if not copies["rows"] == copies["distinct_events"] == len(accepted_types):
        run.problems.append(f"events: {copies} rows/distinct events, {len(accepted_types)} accepted")
    per_type: Counter[str] = Counter()
    for row in run.results["events_per_type"]:
        per_type[row["event_type"]] += row["events"]
        if row["events"] != row["distinct_events"]:
            run.problems.append(f"events_dedup: more rows than event_ids in {row}")
    if per_type != expected:
        run.problems.append(f"events per type {dict(per_type)} != accepted {dict(expected)}")
    page_views = sum(row["page_views"] for row in run.results["daily_page_views_by_browser"])
    if page_views != expected["page_view"]:
        run.problems.append(f"page views {page_views} != accepted {expected['page_view']}")
    purchases = sum(row["purchases"] for row in run.results["revenue_by_currency"])
    if purchases != expected["purchase"]:
        run.problems.append(f"purchases {purchases} != accepted {expected['purchase']}")


# ---------------------------------------------------------------------------- I/O
def export_lake(s3: Any, bucket: str, target: Path) -> int:
    """Copy every ``events/`` object of the lake bucket under ``target`` (same keys); the count."""
    copied = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            path = target / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            copied += 1
    return copied


def run_queries(
    lake_dir: Path, table: Mapping[str, Any], *, out: Any = sys.stdout
) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """Define ``events`` and ``events_dedup`` over ``lake_dir``, run every sample query; the answers
    by query name, and the distinct event_ids of the view."""
    import duckdb  # noqa: PLC0415 - a dev dependency, only this tool needs it

    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    partitions = [c["Name"] for c in table["PartitionKeys"]]
    connection = duckdb.connect()
    connection.execute(events_table_sql(lake_dir, columns, partitions))
    connection.execute(f"CREATE OR REPLACE VIEW events_dedup AS {transpile(VIEW_SQL.read_text())}")
    first, last = connection.execute("SELECT min(dt), max(dt) FROM events").fetchone() or (None, None)
    results: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        sql = transpile(path.read_text())
        cursor = connection.execute(sql, [first, last])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        results[path.stem] = rows
        print(f"\n-- {path.relative_to(ROOT)} ({first} .. {last}), as DuckDB runs it:\n{sql}", file=out)
        for row in rows[:20]:
            print("   ", row, file=out)
        if len(rows) > 20:
            print(f"    … {len(rows) - 20} more rows", file=out)
    view_ids = {row[0] for row in connection.execute("SELECT DISTINCT event_id FROM events_dedup").fetchall()}
    connection.close()
    return results, view_ids


def run(args: argparse.Namespace, *, out: Any = sys.stdout) -> QueryRun:
    from localcloud import scenario  # noqa: PLC0415 - after the AWS isolation
    from localcloud.cloud import CloudOptions, LocalCloud  # noqa: PLC0415

    plan = scenario.Scenario(events=args.events, per_request=args.per_request, seed=args.seed)
    requests = scenario.plan_traffic(plan)
    types = {item.event["event_id"]: item.event["event_type"] for r in requests for item in r.events}
    print(f"filling a local lake with {plan.events:,} demo events ...", file=out, flush=True)
    with LocalCloud(CloudOptions(template=args.template, seed=args.seed)) as cloud:
        outcome = scenario.run(cloud, plan, requests=requests)
        if not outcome.settled or not outcome.report.ok:
            failed = QueryRun(problems=["the demo traffic did not settle with every event accounted for"])
            print(outcome.report.render(), file=out)
            return failed
        accepted = {event_id: types[event_id] for event_id in outcome.report.ledger.accepted}
        bucket = cloud.function_with_env("LAKE_BUCKET_NAME").environment["LAKE_BUCKET_NAME"]
        table = cloud.loaded.resources["LakeEventsTable"]["Properties"]["TableInput"]
        with tempfile.TemporaryDirectory(prefix="lake-") as scratch:
            lake_dir = Path(args.keep) if args.keep else Path(scratch)
            objects = export_lake(cloud.services.client("s3"), bucket, lake_dir)
            print(f"{objects} lake objects, {len(accepted):,} accepted events", file=out)
            results, view_ids = run_queries(lake_dir, table, out=out)
    query_run = QueryRun(results=results)
    check(query_run, accepted_types=accepted, view_ids=view_ids)
    return query_run


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.query", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=2_000, help="demo events to send (default 2,000)")
    parser.add_argument("--per-request", type=int, default=100, help="events per HTTP request (default 100)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the traffic (default 7)")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--keep", help="copy the lake objects to this directory and keep them")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from tools.demo import _isolate_from_real_aws  # noqa: PLC0415 - the demo's own guard

    args = _arguments(argv)
    _isolate_from_real_aws()
    query_run = run(args)
    if query_run.problems:
        print("FAILED: " + "; ".join(query_run.problems), file=sys.stderr)
        return 1
    print(
        f"\nOK: the view holds each of the {query_run.accepted:,} accepted events once, the table holds no "
        "copy, and the counts per event type match the accounting"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
