"""docs/availability.md: every figure is recomputed from the page's own SLA table, so the page and its
arithmetic cannot drift apart (series product, two Regions in parallel, the failover penalty)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "availability.md"
MINUTES_PER_YEAR = 365 * 24 * 60
# AWS: global endpoint RTO 360 s, at most 420 s.
FAILOVER_MINUTES = 7
# The services the validator path calls for every request (a new one on the path belongs here AND
# in the page's table).
INGEST_PATH = {
    "Amazon Route 53",
    "Amazon API Gateway",
    "AWS Lambda",
    "Amazon DynamoDB",
    "AWS Secrets Manager",
    "AWS KMS",
    "Amazon EventBridge",
}


def _section(name: str) -> list[list[str]]:
    """The rows of the table between ``<!-- name -->`` and ``<!-- /name -->`` (header skipped), as cells."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"<!-- {name} -->", 1)[1].split(f"<!-- /{name} -->", 1)[0]
    lines = [line.strip() for line in body.splitlines() if line.strip().startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _percent(cell: str) -> float:
    return float(cell.rstrip("%")) / 100


def _minutes(cell: str) -> float:
    return float(cell.removesuffix(" min").replace(",", ""))


def downtime_minutes(availability: float) -> float:
    return (1 - availability) * MINUTES_PER_YEAR


def series(availabilities: list[float]) -> float:
    return math.prod(availabilities)


def two_regions(one_region: float, global_part: float) -> float:
    """The global part (Route 53) stays in series; the regional rest runs in two Regions."""
    regional = one_region / global_part
    return global_part * (1 - (1 - regional) ** 2)


def with_failover(one_region: float, global_part: float, incident_minutes: float) -> float:
    """Each primary incident is down until failover completes; after it, only if the other Region
    is down too. ``D / M`` incidents a year of ``M`` minutes share the Region's downtime ``D``."""
    regional = one_region / global_part
    incidents = downtime_minutes(regional) / incident_minutes
    before = min(FAILOVER_MINUTES, incident_minutes)
    after = max(0.0, incident_minutes - FAILOVER_MINUTES) * (1 - regional)
    return global_part * (1 - incidents * (before + after) / MINUTES_PER_YEAR)


@pytest.fixture(scope="module")
def slas() -> dict[str, float]:
    return {row[0]: _percent(row[2]) for row in _section("sla-table")}


def test_availability_doc_lists_every_ingest_path_service(slas):
    assert slas.keys() == INGEST_PATH


def test_availability_doc_service_downtime_matches_sla():
    for service, _role, sla, downtime in _section("sla-table"):
        assert _minutes(downtime) == pytest.approx(downtime_minutes(_percent(sla)), abs=0.05), service


def test_availability_doc_results_recomputed_from_sla_table(slas):
    # GIVEN the one-Region product of the SLAs and Route 53's part
    one_region = series(list(slas.values()))
    route53 = slas["Amazon Route 53"]
    rows = {row[0]: row for row in _section("results")}
    expected = {
        "one Region: the services in series": one_region,
        "two Regions in parallel, instant failover": two_regions(one_region, route53),
    }
    for label in rows:
        incident = re.search(r"incidents of (\d+) min", label)
        if incident:
            assert f"{FAILOVER_MINUTES} min failover" in label
            expected[label] = with_failover(one_region, route53, float(incident.group(1)))

    # WHEN / THEN every row of the results table is what the arithmetic gives, to its printed precision
    assert rows.keys() == expected.keys()
    for label, availability in expected.items():
        _, printed, downtime = rows[label]
        decimals = len(printed.rstrip("%").split(".")[1])
        assert printed == f"{availability * 100:.{decimals}f}%", label
        assert _minutes(downtime) == pytest.approx(downtime_minutes(availability), abs=0.05), label


def test_availability_doc_failover_never_better_than_instant(slas):
    one_region = series(list(slas.values()))
    instant = two_regions(one_region, slas["Amazon Route 53"])

    for minutes in (1, 5, 7, 30, 240, 10_000):
        assert one_region <= with_failover(one_region, slas["Amazon Route 53"], minutes) <= instant
