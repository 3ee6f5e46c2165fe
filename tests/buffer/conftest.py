"""The pipeline with the front-door buffer (``FrontDoorBuffer=Enabled``), on its own local cloud.

One cloud serves the package; each test gets it reset cold (stores, streams and queues emptied)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import CloudOptions, LocalCloud

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Overrides the root conftest's: the cloud owns the functions' AWS clients."""
    yield


@pytest.fixture(scope="package")
def buffered() -> Iterator[LocalCloud]:
    options = CloudOptions(template=ROOT / "template.yaml", overrides={"FrontDoorBuffer": "Enabled"})
    with LocalCloud(options) as cloud:
        yield cloud


@pytest.fixture
def cloud(buffered: LocalCloud) -> LocalCloud:
    buffered.reset()
    return buffered
