"""A flood from one source at 10x its rate limit, on the native and Segment routes, while another
source sends normally: the flood is answered 429 with Retry-After, the other source loses nothing,
and every accepted event reaches the lake exactly once."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from tools.flood import flood


def test_flood_at_ten_times_the_limit_is_refused_while_another_source_is_accepted(cloud: LocalCloud) -> None:
    # GIVEN a noisy source limited to 40 events a second and a quiet one on the default limit
    # WHEN the noisy one sends 400 events a second for 4 s (cloud time) and the quiet one 10 a second
    report = flood(cloud, limit=40, factor=10, seconds=4.0)
    noisy, quiet = report.noisy, report.quiet
    # THEN the noisy source is mostly answered 429, each with Retry-After 1 (its next window)
    assert noisy.refused_share >= 0.8
    assert set(noisy.statuses) == {200, 429}
    assert set(noisy.retry_after) == {"1"}
    # AND it got at most its rate (one window's budget per started window)
    windows = int(report.seconds) + 2
    assert 0 < len(noisy.accepted) <= 40 * windows
    # AND the quiet source had every event accepted
    assert quiet.statuses == {200: quiet.requests}
    assert len(quiet.accepted) == quiet.sent
    # AND every accepted event is in the lake exactly once
    accepted = noisy.accepted | quiet.accepted
    assert all(report.in_lake[event_id] == 1 for event_id in accepted)
