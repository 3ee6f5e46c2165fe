"""`make query` end to end: demo traffic through the local cloud, then the lake's Athena SQL run with
DuckDB over its objects, checked against the accounting (a small traffic volume)."""

from __future__ import annotations

import pytest

from tools import query


def test_make_query_answers_match_the_accounting(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a lake filled with 200 demo events
    # WHEN `make query` runs its queries over it
    status = query.main(["--events", "200", "--per-request", "50"])
    printed = capsys.readouterr().out
    # THEN it exits 0: each accepted event once in the view, no copy in the table, counts per type match
    assert status == 0, printed
    assert "OK: the view holds each of the" in printed
    assert "-- athena/queries/events_per_type.sql" in printed
