"""The fuzz tier: generated requests against the validator handler, in process (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.harness import Harness
from tests.unit.conftest import _no_network  # noqa: F401 - the same no-network guard as unit tests
from validator import dependencies

# Fixed examples per test (the tier's total is the sum), no example database in the working tree,
# no per-example deadline (the shared CI machine is slow at times; speed is not what is tested).
settings.register_profile(
    "fuzz",
    deadline=None,
    database=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """The handler wired to the fake sources table and bus for the whole module."""
    fake = Harness()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dependencies, "ingestor", lambda: fake.ingestor)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF line per request on stdout
        yield fake
