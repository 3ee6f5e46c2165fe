"""The call meter against the pipeline's own bookkeeping: each hop's calls match the next hop's work."""

from __future__ import annotations

from localcloud import scenario
from localcloud.cloud import LocalCloud
from localcloud.metering import LOCAL_CLOUD, CallStats


def _delta(
    after: dict[tuple[str, str, str], CallStats],
    before: dict[tuple[str, str, str], CallStats],
    key: tuple[str, str, str],
) -> CallStats:
    now, then = after.get(key, CallStats()), before.get(key, CallStats())
    units = now.units.copy()
    units.subtract(then.units)
    return CallStats(calls=now.calls - then.calls, errors=now.errors - then.errors, units=units)


def test_meter_counts_match_the_work_of_the_next_hop(
    warm_cloud: LocalCloud, warm_keys: dict[str, str]
) -> None:
    # GIVEN the pipeline, and what its meter and runtime had counted so far
    before = warm_cloud.services.calls.snapshot()
    invoked = dict(warm_cloud.runtime.stats.invocations)
    plan = scenario.Scenario(events=60, per_request=20, invalid_share=0.0, resend_share=0.0, seed=4141)

    # WHEN 60 valid events arrive in three requests and the pipeline settles
    outcome = scenario.run(warm_cloud, plan, write_keys=warm_keys)
    after = warm_cloud.services.calls.snapshot()

    # THEN nothing is lost, and every counted call is the work the next hop saw
    assert outcome.settled and outcome.report.ok
    ingress = _delta(after, before, ("ValidatorFunction", "events", "PutEvents"))
    enriched = _delta(after, before, ("EnrichmentFunction", "events", "PutEvents"))
    stream = _delta(after, before, (LOCAL_CLOUD, "kinesis", "PutRecord"))
    claims = _delta(after, before, ("EnrichmentFunction", "dynamodb", "PutItem"))
    enrichments = warm_cloud.runtime.stats.invocations["EnrichmentFunction"] - invoked.get(
        "EnrichmentFunction", 0
    )
    validations = warm_cloud.runtime.stats.invocations["ValidatorFunction"] - invoked.get(
        "ValidatorFunction", 0
    )
    assert validations == 3
    assert ingress.calls >= 3 and ingress.units["entries"] <= 10 * ingress.calls
    assert ingress.units["entries"] == enrichments  # one rule delivery per ingress entry
    assert claims.calls == enrichments  # one idempotency record per batch
    assert enriched.units["entries"] == stream.units["records"]  # one stream record per enriched entry
    assert stream.units["kib_rounded"] >= stream.units["records"]
    assert ingress.errors == enriched.errors == 0
