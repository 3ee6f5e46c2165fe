"""The functions read the cloud's clock: time.time() and defaults that bound it before the cloud ran."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.localcloud.conftest import Recorder, function, running


def test_function_code_reads_the_cloud_clock_even_when_it_bound_time_time_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function package whose code bound time.time as a default argument when it was imported,
    # before the cloud started (as a test session that imports the functions first does)
    package = tmp_path / "clockpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def handler(event, context):\n    return None\n")
    (package / "stamps.py").write_text("import time\n\n\ndef stamp(clock=time.time):\n    return clock()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    stamps = importlib.import_module("clockpkg.stamps")
    seen: list[tuple[float, float]] = []

    def read(event: Any, call: int) -> Any:
        seen.append((time.time(), stamps.stamp()))

    resources = {"Worker": function("worker", Handler="clockpkg.handler.handler")}
    with running(tmp_path, resources, handlers={"Worker": Recorder(read)}) as cloud:
        # WHEN a day passes on the cloud's clock, and the function runs
        cloud.wait(86400.0)
        cloud.runtime.invoke("Worker", {})
        cloud_now = cloud.clock.now()
    wall_now = time.time()
    # THEN both reads are the cloud's time, a day ahead of the wall clock; outside the cloud, the wall's
    ((read_directly, read_by_default),) = seen
    assert abs(read_directly - cloud_now) < 5 and abs(read_by_default - cloud_now) < 5
    assert cloud_now - wall_now > 86000
    assert abs(stamps.stamp() - wall_now) < 5


def test_function_retry_back_off_waits_on_the_cloud_clock_not_the_wall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function package whose retry back-off bound time.sleep as a default argument at import
    # (as the bus publisher and the stream reader do)
    package = tmp_path / "sleeppkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def handler(event, context):\n    return None\n")
    (package / "backoff.py").write_text(
        "import time\n\n\ndef back_off(seconds, sleep=time.sleep):\n    sleep(seconds)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backoff = importlib.import_module("sleeppkg.backoff")
    waited: list[tuple[float, float]] = []

    def back_off_an_hour(event: Any, call: int) -> Any:
        wall_before, cloud_before = time.perf_counter(), time.time()
        backoff.back_off(3600.0)
        waited.append((time.perf_counter() - wall_before, time.time() - cloud_before))

    resources = {"Worker": function("worker", Handler="sleeppkg.handler.handler")}
    with running(tmp_path, resources, handlers={"Worker": Recorder(back_off_an_hour)}) as cloud:
        # WHEN the function backs off for an hour while the cloud runs
        cloud.runtime.invoke("Worker", {})
    # THEN the hour passed on the cloud's clock, not on the wall's; outside the cloud a sleep is real
    ((wall_seconds, cloud_seconds),) = waited
    assert cloud_seconds >= 3600.0
    assert wall_seconds < 60.0
    started = time.perf_counter()
    backoff.back_off(0.05)
    assert time.perf_counter() - started >= 0.05
