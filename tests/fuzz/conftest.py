"""The fuzz tier: generated requests against the validator handler, in process (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.harness import Harness
from tests.fuzz.strategies import FUZZ  # noqa: F401 - registers the tier's Hypothesis profile
from tests.unit.conftest import _no_network  # noqa: F401 - the same no-network guard as unit tests
from validator import dependencies


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """The handler wired to the fake sources table and bus for the whole module."""
    fake = Harness()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dependencies, "ingestor", lambda: fake.ingestor)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF line per request on stdout
        yield fake
