"""Lambda packaging without Docker: CDK local bundling.

- The code asset holds ``roam_emp`` only (local mode, simulator and CLI stay out), compiled to
  ``.pyc`` with unchecked hashes so Lambda never recompiles or re-stats sources, plus botocore's
  data trimmed to the authorize function's calls (roam_emp/store/botocore_data.py). It is written
  from the layer's botocore, the one Lambda imports (``/opt/python`` comes before the runtime's
  own): data written from another version is ignored at run time, and the cold start would lose
  the gain without a sign.
- The dependencies layer is installed from a wheelhouse of manylinux aarch64 wheels for the
  runtime's Python version (``make wheelhouse`` downloads it from PyPI once), so synth runs fully
  offline.

The Lambda runtime is pinned in ``cdk.json`` (``roam_emp.lambda_python``), never taken from the
interpreter that runs the synth (docs/operations.md "Runtime"). A ``.pyc`` is only valid for the
Python version that wrote it (its magic number): when the synth's interpreter is the runtime's
version, both bundles ship ``.pyc``; otherwise they ship sources only, which Lambda compiles in
memory at each cold start (slower, never wrong). A wheelhouse downloaded for another version is
refused with the command that fixes it.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import botocore
import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from roam_emp.store import botocore_data

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
WHEELHOUSE = ROOT / ".build" / "wheelhouse"
REQUIREMENTS = FUNCTIONS / "requirements.txt"
PLATFORM = "manylinux2014_aarch64"
ARCHITECTURE = lambda_.Architecture.ARM_64
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Never shipped to Lambda: they need moto/Flask, or are operator tools.
NOT_SHIPPED = ("local", "simulator", "cli.py", "admin_client.py", "operations.py", "__pycache__")
# Local bundling only; this image is never pulled (there is no Docker here).
_NO_DOCKER = DockerImage.from_registry("roam-emp/local-bundling-only")


def runtime(python: str) -> lambda_.Runtime:
    # Lambda SnapStart runs on python3.12 and later (cdk.json authorize_snapstart).
    return lambda_.Runtime(
        f"python{python}", lambda_.RuntimeFamily.PYTHON, supports_snap_start=python != "3.11"
    )


def ships_bytecode(python: str) -> bool:
    """Only this interpreter's own version writes ``.pyc`` that the runtime's Python loads."""
    return python == LOCAL_PYTHON


# A wheel's Python tag (PEP 427): cp311, or py3 / abi3 wheels that suit any version.
_WHEEL_TAGS = re.compile(r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$")


def check_wheelhouse(python: str, wheelhouse: Path = WHEELHOUSE) -> None:
    """Refuse a wheelhouse downloaded for another Python version than the runtime's."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheels in {wheelhouse}: run `make wheelhouse` once (needs PyPI)")
    want = "cp" + python.replace(".", "")
    for wheel in wheels:
        tags = _WHEEL_TAGS.search(wheel.name)
        if not tags or tags["abi"] == "abi3":
            continue
        versions = set(tags["python"].split("."))
        if all(v.startswith("cp") for v in versions) and want not in versions:
            raise RuntimeError(
                f"the wheelhouse {wheelhouse} holds {wheel.name}, built for {tags['python']}, but the "
                f"Lambda runtime is python{python} (cdk.json roam_emp.lambda_python): run "
                f"`rm -rf {wheelhouse} && make wheelhouse`"
            )


# A pure-Python wheel's name (PEP 427), e.g. botocore-1.44.8-py3-none-any.whl.
_BOTOCORE_WHEEL = re.compile(r"^botocore-(?P<version>\d+(?:\.\d+)*)-py3-none-any\.whl$")


def layer_botocore(wheelhouse: Path = WHEELHOUSE) -> tuple[str, Path] | None:
    """The botocore the dependencies layer installs, as (version, wheel): the newest in the
    wheelhouse, which is the one pip takes (``make wheelhouse`` downloads one)."""
    found = [
        (tuple(int(part) for part in match["version"].split(".")), match["version"], wheel)
        for wheel in wheelhouse.glob("botocore-*.whl")
        if (match := _BOTOCORE_WHEEL.match(wheel.name))
    ]
    if not found:
        return None
    _, version, wheel = max(found)
    return version, wheel


def botocore_version(wheelhouse: Path = WHEELHOUSE) -> str:
    """The botocore version the trimmed data is written from: the layer's, or ours without one."""
    layer = layer_botocore(wheelhouse)
    return layer[0] if layer else botocore.__version__


def write_botocore_data(package: Path, wheelhouse: Path = WHEELHOUSE) -> str:
    """botocore_data.write_all into ``package`` from the layer's botocore; returns its version.
    Another version than ours is unpacked (a pure-Python wheel) and run in a child interpreter."""
    layer = layer_botocore(wheelhouse)
    if layer is None or layer[0] == botocore.__version__:
        botocore_data.write_all(package)
        return botocore.__version__
    version, wheel = layer
    with tempfile.TemporaryDirectory() as unpacked:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [sys.executable, "-m", "roam_emp.store.botocore_data", str(package)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join([unpacked, str(FUNCTIONS)])},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return version


def _compile(directory: Path, python: str) -> None:
    if not ships_bytecode(python):
        return  # sources only: see the module docstring
    ok = compileall.compile_dir(
        str(directory),
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise RuntimeError(f"compiling {directory} failed")


@jsii.implements(ILocalBundling)
class _CodeBundler:
    def __init__(self, python: str) -> None:
        self.python = python

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        target = Path(output_dir) / "roam_emp"
        shutil.copytree(FUNCTIONS / "roam_emp", target, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        write_botocore_data(target)
        _compile(target, self.python)
        return True


# Installed but never imported in Lambda: zstandard's CFFI backend (11 MB of the layer's 22 MB for
# zstandard) is its fallback when the C extension cannot load, and the C extension ships in the
# same wheel for the same platform (`zstandard.backend` is "cext"; tests/test_infra.py).
_UNUSED = ("zstandard/_cffi.*.so", "zstandard/backend_cffi.py")


def _drop_unused(target: Path) -> None:
    for pattern in _UNUSED:
        for path in target.glob(pattern):
            path.unlink()


@jsii.implements(ILocalBundling)
class _DependenciesBundler:
    def __init__(self, python: str) -> None:
        self.python = python

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        check_wheelhouse(self.python)
        target = Path(output_dir) / "python"
        subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
                str(WHEELHOUSE),
                "--target",
                str(target),
                "--platform",
                PLATFORM,
                "--implementation",
                "cp",
                "--python-version",
                self.python,
                "--only-binary=:all:",
                "--no-compile",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        _drop_unused(target)
        _compile(target, self.python)
        return True


def _bundling(local: Any, python: str) -> BundlingOptions:
    # The runtime's version, whether .pyc ship and the botocore the trimmed data is written from
    # are part of the bundling options, so the asset hash (and the deployed code) changes with each.
    return BundlingOptions(
        image=_NO_DOCKER,
        local=local,
        command=["false"],
        environment={
            "LAMBDA_PYTHON": python,
            "PYC": str(ships_bytecode(python)).lower(),
            "BOTOCORE": botocore_version(),
        },
    )


def code(python: str) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        exclude=["**/__pycache__/**", "*.egg-info/**"],
        bundling=_bundling(_CodeBundler(python), python),
    )


def dependencies_hash(python: str) -> str:
    """Changes only when the requirements, the wheels or the runtime change (not with our code)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(PLATFORM.encode() + python.encode() + str(ships_bytecode(python)).encode())
    for wheel in sorted(WHEELHOUSE.glob("*.whl")):
        digest.update(wheel.name.encode())
    return digest.hexdigest()


def dependencies(python: str) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=dependencies_hash(python),
        bundling=_bundling(_DependenciesBundler(python), python),
    )
