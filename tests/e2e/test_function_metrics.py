"""Each function's metric lines carry its own service and the template's namespace, even when the
layer's shared Powertools metrics object was built before any function's environment existed (as a
benchmark or a tool that imports a handler first does): one process plays every container."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from signal_platform import observability
from tests.e2e.test_pipeline import SMALL, _no_loss, _run

NAMESPACE = "CustomerSignals"


def test_every_function_reports_under_its_own_service_after_an_early_import(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN the shared metrics object as an import outside any function leaves it: no namespace, no service
    observability.metrics.namespace = None
    observability.metrics.service = None
    # WHEN traffic runs through the pipeline
    outcome = _run(cloud, write_keys, SMALL)
    # THEN every request was answered (no 500 from a metric line without a namespace), nothing lost
    assert 500 not in outcome.report.ledger.statuses, outcome.report.ledger.statuses
    assert outcome.report.ledger.accepted
    _no_loss(outcome)
    # AND the validator's and the enrichment's counts are under their own service dimension
    accepted = len(outcome.report.ledger.accepted)
    watch = cloud.primary.cloudwatch
    assert sum(watch.values(NAMESPACE, "EventsAccepted", {"service": "validator"})) == accepted
    assert sum(watch.values(NAMESPACE, "SignalsEnriched", {"service": "enrichment"})) == accepted
    # AND none of them under another function's service
    assert not watch.values(NAMESPACE, "SignalsEnriched", {"service": "validator"})
