"""A flood from one source at 10x its rate limit, on the native and Segment routes, while another
source sends normally: the flood is answered 429 with Retry-After, the other source loses nothing,
and every accepted event reaches the lake exactly once."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from tools.flood import flood


def test_flood_at_ten_times_the_limit_is_refused_while_another_source_is_accepted(cloud: LocalCloud) -> None:
    # GIVEN a noisy source limited to 40 events a second and a quiet one on the default limit
    # WHEN the noisy one sends 10 requests of 40 events a second for 4 s of cloud time (400 events a
    # second: fewer on a machine so loaded that a request takes over 100 ms) and the quiet one 10 a second
    report = flood(cloud, limit=40, factor=10, seconds=4.0)
    noisy, quiet = report.noisy, report.quiet
    # THEN at most one request per one-second window was admitted (each fills the budget), and the
    # rest were answered 429 with Retry-After 1 (the next window): most of them
    assert noisy.requests == 40
    assert 0 < noisy.statuses[200] <= report.windows
    assert noisy.statuses[429] == noisy.requests - noisy.statuses[200]
    assert noisy.refused_share >= 0.5
    assert set(noisy.retry_after) == {"1"}
    assert len(noisy.accepted) == 40 * noisy.statuses[200]
    # AND the quiet source had every event accepted
    assert quiet.statuses == {200: quiet.requests}
    assert len(quiet.accepted) == quiet.sent
    # AND every accepted event is in the lake exactly once
    accepted = noisy.accepted | quiet.accepted
    assert all(report.in_lake[event_id] == 1 for event_id in accepted)
    # AND the validator counted each of those 429s (EMF, no per-source dimension)
    watch = cloud.primary.cloudwatch
    watch.evaluate()
    counted = watch.values("CustomerSignals", "RequestsRateLimited", {"service": "validator"})
    assert sum(counted) == noisy.statuses[429]
