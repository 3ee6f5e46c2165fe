"""`make arm64`'s choices: the test packages at the lock's pins, and the unit tests the layer can run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import arm64

LOCK = """\
attrs==26.1.0
PyYAML==6.0.3
python-dateutil==2.9.0.post0
typing_extensions==4.16.0  # via pydantic
rpds-py==2026.9.1
"""


def test_pins_are_the_locks_with_names_compared_as_pypi_does() -> None:
    assert arm64.pins(LOCK, ["attrs", "pyyaml", "python_dateutil", "typing-extensions", "rpds.py"]) == [
        "attrs==26.1.0",
        "pyyaml==6.0.3",
        "python_dateutil==2.9.0.post0",
        "typing-extensions==4.16.0",
        "rpds.py==2026.9.1",
    ]


def test_a_package_the_lock_does_not_pin_is_named() -> None:
    with pytest.raises(SystemExit, match="pins no hypothesis, pytest"):
        arm64.pins(LOCK, ["attrs", "hypothesis", "pytest"])


def test_every_test_package_is_pinned_by_the_project_lock() -> None:
    lock = (arm64.ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")
    assert len(arm64.pins(lock, arm64.TEST_PACKAGES)) == len(arm64.TEST_PACKAGES)


def test_unit_tests_leave_out_modules_that_import_dev_only_packages() -> None:
    folder = arm64.ROOT / "tests" / "unit"
    chosen = {Path(name).name for name in arm64.unit_tests(folder)}
    # the functions' and the layer's own tests run; what needs moto, the local cloud, the tools,
    # the benchmarks or the template's renderer does not
    assert {"test_codec.py", "test_validator_request.py", "test_schema_registry.py"} <= chosen
    assert not chosen & {"test_tool_arm64.py", "test_cost_model.py", "test_data_map.py", "test_tool_usage.py"}
    assert "test_s3_writer_exactly_once.py" in chosen  # it names moto in its docstring alone


def test_a_dev_only_import_anywhere_in_the_module_leaves_it_out(tmp_path: Path) -> None:
    for name, text in {
        "test_plain.py": "import pytest\nfrom signal_platform import codec\nimport jsonschema_rs\n",
        "test_moto.py": "import pytest\n\n\ndef test_x():\n    import moto\n",
        "test_local.py": "from localcloud.cloud import LocalCloud\n",
        "test_render.py": "from tests.infra.rendering import template\n",
        "test_process.py": "import subprocess\n",
        "test_by_name.py": 'main = importlib.import_module(f"tools.{tool}").main\n',
        "test_toolsy.py": "from toolsy import x\n",  # a name that only starts like one
        "helper.py": "import moto\n",  # not a test module
    }.items():
        (tmp_path / name).write_text(text)
    assert arm64.unit_tests(tmp_path, root=tmp_path) == ["test_plain.py", "test_toolsy.py"]
