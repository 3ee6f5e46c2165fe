"""The whole pipeline from template.yaml with the real handlers, on the local cloud.

One cloud serves the package (start-up costs seconds); each test gets it reset (stores and queues
emptied, in-flight work and faults forgotten, functions kept warm). The tests fail, saying why, when
the template has no pipeline yet or a handler module does not exist yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.template import load

ROOT = Path(__file__).resolve().parents[2]


def _missing() -> str | None:
    loaded, _ = load(ROOT / "template.yaml")
    resources = loaded.resources
    if not any(resource["Type"] == "AWS::Pipes::Pipe" for resource in resources.values()):
        return "template.yaml has no Pipe yet (the lake pipeline is not in the template)"
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        module = resource["Properties"]["Handler"].rpartition(".")[0]
        folder = loaded.code_dirs.get(logical_id)
        if folder is None or not (folder / (module.replace(".", "/") + ".py")).is_file():
            return f"{logical_id}'s handler {module} does not exist yet"
    return None


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Overrides the root conftest's: here the cloud owns the functions' AWS clients (a warm container
    keeps its clients; a cold reset makes new ones)."""
    yield


@pytest.fixture(scope="package")
def pipeline() -> Iterator[LocalCloud]:
    reason = _missing()
    if reason:
        pytest.fail(reason)
    with LocalCloud(CloudOptions(template=ROOT / "template.yaml")) as cloud:
        yield cloud


@pytest.fixture(scope="package")
def warm_keys() -> dict[str, str]:
    """Write keys that stay valid across warm resets (a cold reset forgets them)."""
    return {}


@pytest.fixture
def cloud(pipeline: LocalCloud, warm_keys: dict[str, str]) -> LocalCloud:
    """The pipeline, reset cold: empty stores and tables, functions that start again."""
    pipeline.reset()
    warm_keys.clear()
    return pipeline


@pytest.fixture
def warm_cloud(pipeline: LocalCloud, warm_keys: dict[str, str]) -> LocalCloud:
    """The pipeline, reset warm: empty stores, functions and registered sources kept (fast; for runs
    with fresh event ids, such as the property test's schedules). Cold the first time."""
    pipeline.reset(warm=bool(warm_keys))
    return pipeline


@pytest.fixture
def write_keys() -> dict[str, str]:
    """Sources are registered by each run (a reset empties the sources table)."""
    return {}
