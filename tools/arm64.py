"""`make arm64`: the built functions and layer run on Lambda's architecture and Python, emulated.

`sam build` cross-installs the layer's wheels for Lambda's python3.13 on arm64
(layers/shared/Makefile), so the native code every function runs (orjson, msgspec, jsonschema-rs,
awscrt, wrapt) is never imported on an x86_64 build machine. This runs the functions' and the
layer's unit tests on an aarch64 CPython 3.13 (Debian 13's, under qemu-user as a Neoverse N1,
Graviton2's core) against ``.aws-sam/build``: the very files ``sam deploy`` zips.

    python -m tools.arm64 [-- pytest arguments]

By default, every unit test module that needs nothing the layer and the runtime do not carry (moto,
the local cloud, the tools, the benchmarks, the template's renderer) and starts no subprocess (a
child of the emulated interpreter would not be emulated).

Needs qemu-user-static, debootstrap and dpkg (Debian's; ``make arm64`` installs the first two when
missing, as root) and the package registries: the first run builds an arm64 root in ``.arm64/``
(~15 s, ~90 MB) and installs the test packages' pinned wheels for arm64. Under emulation the tests
run about six times slower than natively (~2 minutes, on top of the 3.11 and 3.13 runs of
``make test``, whose time they would stretch past CI's budget: so they are a tier of their own).
What it cannot tell: Amazon Linux 2023's C library and Lambda's own python3.13 build differ from
Debian's (the wheels' manylinux tags ask for glibc 2.28 at most, Lambda has 2.34).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
WORK: Final = ROOT / ".arm64"
SYSROOT: Final = WORK / "root"
PYTHON: Final = SYSROOT / "usr" / "bin" / "python3.13"
BUILD: Final = ROOT / ".aws-sam" / "build"
# Debian 13 (trixie) carries CPython 3.13, Lambda's python3.13 runtime.
SUITE: Final = "trixie"
MIRROR: Final = "http://deb.debian.org/debian"
DEBIAN_PACKAGES: Final = "python3.13-minimal,libpython3.13-stdlib"
# Graviton2's core. qemu's default ("max") emulates pointer authentication in software: 6x slower.
CPU: Final = "neoverse-n1"
# What the tests import beyond the layer, at requirements/dev.txt's pins. boto3 and botocore are the
# Lambda runtime's, not the layer's.
TEST_PACKAGES: Final = (
    "attrs",
    "boto3",
    "botocore",
    "hypothesis",
    "iniconfig",
    "jmespath",
    "jsonschema",  # the reference implementation test_schema_registry holds jsonschema-rs to
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "packaging",
    "pluggy",
    "pygments",
    "pytest",
    "pytest-timeout",
    "python-dateutil",
    "s3transfer",
    "six",
    "sortedcontainers",
    "urllib3",
)
# Native modules the functions import from the layer: each must load from the build, built for arm64.
NATIVE_MODULES: Final = (
    "orjson.orjson",
    "msgspec._core",
    "jsonschema_rs.jsonschema_rs",
    "_awscrt",
    "wrapt._wrappers",
)
# A unit test module importing any of these needs what the layer does not carry, or a process of its own.
_DEV_ONLY: Final = re.compile(
    r"^\s*(?:from|import)\s+(?:moto|localcloud|tools|bench|samtranslator|tests\.infra|subprocess)\b"
    r"|import_module\(f?[\"']tools\.",
    re.MULTILINE,
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock_text: str, names: Iterable[str]) -> list[str]:
    """``name==version`` of each of ``names`` as the lock file pins it (names compared as PyPI does)."""
    pinned = {}
    for line in lock_text.splitlines():
        name, separator, version = line.split("#", 1)[0].strip().partition("==")
        if separator:
            pinned[_normalise(name)] = version.strip()
    missing = [name for name in names if _normalise(name) not in pinned]
    if missing:
        raise SystemExit(f"requirements/dev.txt pins no {', '.join(missing)}")
    return [f"{name}=={pinned[_normalise(name)]}" for name in names]


def unit_tests(folder: Path, root: Path = ROOT) -> list[str]:
    """The unit test modules in ``folder`` that import nothing dev-only, relative to ``root``."""
    return sorted(
        str(path.relative_to(root))
        for path in folder.glob("test_*.py")
        if not _DEV_ONLY.search(path.read_text(encoding="utf-8"))
    )


def _build_paths() -> list[Path]:
    """The layer and each function's folder of ``sam build``, as /opt/python and /var/task are."""
    layer = BUILD / "SharedLayer" / "python"
    if not layer.is_dir():
        raise SystemExit(f"{layer.relative_to(ROOT)} is missing: run `make build` first")
    functions = sorted(path for path in BUILD.glob("*Function") if path.is_dir())
    return [layer, *functions]


def _require(commands: Sequence[str]) -> None:
    missing = [command for command in commands if shutil.which(command) is None]
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not found: apt-get install qemu-user-static debootstrap"
            " (`make arm64` does)"
        )


def _sysroot() -> None:
    """Debian's arm64 CPython 3.13 unpacked in ``SYSROOT``: debootstrap's first stage (which runs no
    arm64 code) fetches the packages, and each is unpacked by dpkg, whose scripts need not run."""
    if PYTHON.exists():
        return
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as scratch:
        target = Path(scratch) / "root"
        subprocess.run(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - Debian's, found on PATH as _require checked
                "debootstrap",
                "--foreign",
                "--arch=arm64",
                "--variant=minbase",
                f"--include={DEBIAN_PACKAGES}",
                SUITE,
                str(target),
                MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for package in sorted((target / "var" / "cache" / "apt" / "archives").glob("*.deb")):
            subprocess.run(  # noqa: S603 - the packages debootstrap fetched
                ["dpkg-deb", "--extract", str(package), str(target)],  # noqa: S607 - Debian's, on PATH
                check=True,
            )
        if not (target / PYTHON.relative_to(SYSROOT)).exists():
            raise SystemExit(f"Debian {SUITE} gave no {PYTHON.name} for arm64")
        shutil.rmtree(SYSROOT, ignore_errors=True)
        target.rename(SYSROOT)


def _test_packages() -> Path:
    """The test packages' arm64 wheels, in a folder named by their pins (a new pin, a new folder)."""
    wanted = pins((ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8"), TEST_PACKAGES)
    folder = WORK / f"packages-{hashlib.sha256(' '.join(wanted).encode()).hexdigest()[:12]}"
    if not folder.exists():
        scratch = Path(tempfile.mkdtemp(dir=WORK))
        installed = subprocess.run(  # noqa: S603 - our own interpreter's pip, the lock's pins
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--platform=manylinux2014_aarch64",
                "--implementation=cp",
                "--python-version=3.13",
                f"--target={scratch}",
                *wanted,
            ],
            check=False,
        )
        if installed.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            raise SystemExit(f"pip could not install the arm64 test packages (exit {installed.returncode})")
        scratch.rename(folder)
    return folder


def _emulated(arguments: Sequence[str], packages: Path) -> subprocess.CompletedProcess[bytes]:
    """``python3.13 arguments`` on the arm64 root, the test packages importable; byte code goes to
    ``.arm64/pycache``, never into the build that ``sam deploy`` zips."""
    environment = {
        **os.environ,
        "QEMU_CPU": CPU,
        "PYTHONPATH": str(packages),
        "PYTHONPYCACHEPREFIX": str(WORK / "pycache"),
    }
    command = ["qemu-aarch64-static", "-L", str(SYSROOT), str(PYTHON), *arguments]
    return subprocess.run(command, cwd=ROOT, env=environment, check=False)  # noqa: S603 - qemu, our tests


_PROBE: Final = """
import importlib, platform, sys
build = sys.argv[1]
sys.path.insert(0, build)
assert platform.machine() == "aarch64", platform.machine()
print(f"python {platform.python_version()} on {platform.machine()}")
for name in sys.argv[2:]:
    module = importlib.import_module(name)
    where = module.__file__ or ""
    assert where.startswith(build) and where.endswith(".so"), f"{name} came from {where}, not the build"
    print(f"  {name}: {where[len(build) + 1:]}")
"""


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.arm64", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "pytest_arguments",
        nargs="*",
        metavar="pytest arguments",
        help="after --: what pytest runs on arm64 (default: the unit tests the layer can run)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv).pytest_arguments
    _require(("qemu-aarch64-static", "debootstrap", "dpkg-deb"))
    paths = _build_paths()
    _sysroot()
    packages = _test_packages()
    layer = str(paths[0])
    # Each native module from the build: on a wrong wheel (x86_64, or one needing a newer C library)
    # its import fails here, by name, before any test runs.
    probe = _emulated(["-c", _PROBE, layer, *NATIVE_MODULES], packages)
    if probe.returncode != 0:
        return probe.returncode
    tests = arguments or unit_tests(ROOT / "tests" / "unit")
    # pythonpath as pyproject.toml's, but the build's folders for the source ones.
    pythonpath = " ".join([".", *(str(path) for path in paths)])
    return _emulated(["-m", "pytest", "-o", f"pythonpath={pythonpath}", *tests], packages).returncode


if __name__ == "__main__":
    raise SystemExit(main())
