"""`make drill` with small traffic: a Region outage loses nothing, processes nothing twice, and the
endpoint fails over when the template's settings say it does."""

from __future__ import annotations

import pytest

from tools.drill import DrillSettings, main, run_scenario

SMALL = {"clients": 2, "requests": 8, "per_request": 2}


@pytest.mark.parametrize("scenario", ["outage", "past-window"])
def test_a_region_outage_loses_nothing_and_fails_over_as_the_template_implies(scenario: str) -> None:
    # GIVEN two Regions, clients nearest each, and the primary down mid-run (for 15 minutes, or for
    # 25 hours: past the 24 h EventBridge retries replication)
    settings = DrillSettings(scenario=scenario, **SMALL)  # type: ignore[arg-type]

    # WHEN the drill runs
    result = run_scenario(settings)

    # THEN both Regions accepted events, every one is in the lake exactly once
    total = result.total
    assert all(tally.accepted for tally in result.tallies.values())
    assert (total.lost, total.processed_twice) == (0, 0)
    assert total.exactly_once == len(total.accepted) == settings.requests * settings.per_request
    # the endpoint failed over within one alarm period of what the template implies for a silent
    # primary (tools.objectives), and switched back once the primary was healthy again
    low, high = result.implied_failover_s
    assert result.failover_s is not None
    assert low - result.alarm_period_s <= result.failover_s <= high + result.alarm_period_s
    assert result.recover_s is not None
    # past the window, replication gave up and the archive replay recovered what it had not carried
    if scenario == "past-window":
        assert result.replication_expired > 0
        assert result.replayed > 0
    else:
        assert result.replication_expired == 0


def test_active_active_processes_each_event_once_in_the_region_whose_bus_took_it() -> None:
    # GIVEN both Regions processing (ProcessingMode=active-active) and the primary down mid-run
    settings = DrillSettings(scenario="active-active", **SMALL)  # type: ignore[arg-type]

    # WHEN the drill runs
    result = run_scenario(settings)

    # THEN both Regions' lakes took events (the secondary's while the endpoint routed to it), and
    # every accepted event is in exactly one of them, once
    total = result.total
    assert set(result.lakes) == {"primary", "secondary"}
    assert all(count > 0 for count in result.lakes.values())
    assert (total.lost, total.processed_twice) == (0, 0)
    assert total.exactly_once == len(total.accepted) == settings.requests * settings.per_request
    assert sum(result.lakes.values()) == len(total.accepted)
    assert result.failover_s is not None


def test_an_outage_of_the_secondary_loses_nothing_and_never_fails_over() -> None:
    # GIVEN the secondary Region down for 15 minutes mid-run
    settings = DrillSettings(scenario="secondary-outage", **SMALL)  # type: ignore[arg-type]

    # WHEN the drill runs
    result = run_scenario(settings)

    # THEN every accepted event is in the lake once, and the endpoint kept routing to the primary
    total = result.total
    assert (total.lost, total.processed_twice) == (0, 0)
    assert total.exactly_once == settings.requests * settings.per_request
    assert result.failover_s is None
    assert [region for at, region in result.switches if at >= 0] == []


def test_the_drill_command_ends_with_one_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN the command runs one small scenario
    code = main(["--scenario", "outage", "--clients", "2", "--requests", "4", "--per-request", "1"])

    # THEN its last line is the summary and it exits 0 (nothing lost, nothing processed twice)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    assert last.startswith("drill: lost=0 processed_twice=0 failover_s=")
    assert int(last.rsplit("=", 1)[1]) > 0
