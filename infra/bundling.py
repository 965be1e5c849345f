"""Lambda packaging without Docker: CDK local bundling.

- The code asset holds ``roam_emp`` only (local mode, simulator and CLI stay out), compiled to
  ``.pyc`` with unchecked hashes so Lambda never recompiles or re-stats sources.
- The dependencies layer is installed from a wheelhouse of manylinux aarch64 wheels for our Python
  version (``make wheelhouse`` downloads it from PyPI once), so synth runs fully offline.

The Lambda runtime follows the interpreter that runs the synth (3.11 here): the shipped ``.pyc``
files are then exactly the ones Lambda loads.
"""

from __future__ import annotations

import compileall
import hashlib
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
WHEELHOUSE = ROOT / ".build" / "wheelhouse"
REQUIREMENTS = FUNCTIONS / "requirements.txt"
PLATFORM = "manylinux2014_aarch64"
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
# Never shipped to Lambda: they need moto/Flask, or are operator tools.
NOT_SHIPPED = ("local", "simulator", "cli.py", "admin_client.py", "__pycache__")
# Local bundling only; this image is never pulled (there is no Docker here).
_NO_DOCKER = DockerImage.from_registry("roam-emp/local-bundling-only")


def runtime() -> lambda_.Runtime:
    return lambda_.Runtime(f"python{PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)


def _compile(directory: Path) -> None:
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
    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        target = Path(output_dir) / "roam_emp"
        shutil.copytree(FUNCTIONS / "roam_emp", target, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        _compile(target)
        return True


@jsii.implements(ILocalBundling)
class _DependenciesBundler:
    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        if not any(WHEELHOUSE.glob("*.whl")):
            raise RuntimeError(f"no wheels in {WHEELHOUSE}: run `make wheelhouse` once (needs PyPI)")
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
                PYTHON_VERSION,
                "--only-binary=:all:",
                "--no-compile",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        _compile(target)
        return True


def code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        exclude=["**/__pycache__/**", "*.egg-info/**"],
        bundling=BundlingOptions(image=_NO_DOCKER, local=_CodeBundler(), command=["false"]),
    )


def dependencies_hash() -> str:
    """Changes only when the requirements or the wheels change (not with our own code)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(PLATFORM.encode() + PYTHON_VERSION.encode())
    for wheel in sorted(WHEELHOUSE.glob("*.whl")):
        digest.update(wheel.name.encode())
    return digest.hexdigest()


def dependencies() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=dependencies_hash(),
        bundling=BundlingOptions(image=_NO_DOCKER, local=_DependenciesBundler(), command=["false"]),
    )
