"""moto's server on 127.0.0.1, with boto3 pointed at it through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import socket

import httpx

from ..config import reset as reset_settings
from ..store import aws


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self, port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        # moto keeps its backends in process memory, shared by every server in this process:
        # start from an empty AWS, as a new account would.
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "eu-central-1",
                "AWS_REGION": "eu-central-1",
            }
        )
        aws.reset()
        reset_settings()
        return self

    def stop(self) -> None:
        self._server.stop()
