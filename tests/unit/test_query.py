"""`make query`'s pure parts: the Athena SQL transpiled for DuckDB and the view's semantics over a
small lake on disk (DuckDB in-process, no network)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.unit.test_s3_writer_support import signal
from tools import query

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def events_table() -> dict[str, Any]:
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    table: dict[str, Any] = json.loads(json.dumps(template["Resources"]["LakeEventsTable"]["Properties"]))
    return table["TableInput"]


def _object(lake: Path, key: str, rows: list[dict[str, Any]]) -> None:
    path = lake / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(json.dumps(row).encode() + b"\n" for row in rows)))


def _lake(tmp_path: Path, rows: list[dict[str, Any]], *, copies: int = 1) -> Path:
    """One object per row (and per copy), under the writer's key layout."""
    for copy in range(copies):
        for index, row in enumerate(rows):
            dt, hour = row["derived_at"][:10], row["derived_at"][11:13]
            folder = f"events/event_type={row['event_type']}/dt={dt}/hour={hour}"
            _object(tmp_path, f"{folder}/shardId-0-{index}-{index}-{copy:016x}.json.gz", [row])
    return tmp_path


def test_duckdb_type_maps_glue_columns() -> None:
    assert query.duckdb_type("event_id", "string") == "VARCHAR"
    assert query.duckdb_type("data", "string") == "JSON"
    assert query.duckdb_type("library", "struct<name:string,version:string>") == (
        'STRUCT("name" VARCHAR, "version" VARCHAR)'
    )
    with pytest.raises(ValueError, match="bigint"):
        query.duckdb_type("n", "bigint")


def test_transpile_turns_athena_json_functions_into_duckdb() -> None:
    sql = query.transpile("SELECT json_extract_scalar(data, '$.currency') AS c FROM events_dedup")
    assert sql == "SELECT data ->> '$.currency' AS c FROM events_dedup"


def test_view_and_queries_over_a_clean_lake_match_the_accepted_events(
    tmp_path: Path, events_table: dict[str, Any]
) -> None:
    # GIVEN a lake with one page view, one purchase and one click, each stored once
    rows = [
        signal(),
        signal("purchase", data={"order_id": "o-1", "revenue": 12.5, "currency": "EUR"}),
        signal("click", data={"element": "buy"}),
    ]
    lake = _lake(tmp_path, rows)
    # WHEN the view and the sample queries run
    results, view_ids = query.run_queries(lake, events_table, out=io.StringIO())
    run = query.QueryRun(results=results)
    query.check(run, accepted_types={row["event_id"]: row["event_type"] for row in rows}, view_ids=view_ids)
    # THEN every count matches the accounting
    assert run.problems == []
    assert results["revenue_by_currency"] == [
        {"dt": "2025-11-26", "currency": "EUR", "purchases": 1, "revenue": 12.5}
    ]


def test_view_keeps_one_row_per_event_id_when_the_table_holds_copies(
    tmp_path: Path, events_table: dict[str, Any]
) -> None:
    # GIVEN a lake in which every event is stored twice (what the view defends against)
    rows = [signal(), signal(), signal("click", data={"element": "buy"})]
    lake = _lake(tmp_path, rows, copies=2)
    # WHEN the queries run
    results, view_ids = query.run_queries(lake, events_table, out=io.StringIO())
    run = query.QueryRun(results=results)
    query.check(run, accepted_types={row["event_id"]: row["event_type"] for row in rows}, view_ids=view_ids)
    # THEN the view shows each event once, and the check reports the copies in the base table
    assert view_ids == {row["event_id"] for row in rows}
    assert results["copies_in_the_lake"] == [{"rows": 6, "distinct_events": 3}]
    assert sum(row["events"] for row in results["events_per_type"]) == 3
    assert run.problems == ["events: {'rows': 6, 'distinct_events': 3} rows/distinct events, 3 accepted"]
