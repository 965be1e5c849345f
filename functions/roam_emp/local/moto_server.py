"""moto's server on 127.0.0.1, with boto3 pointed at it through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from ..config import reset as reset_settings
from ..store import aws


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time.

    AWS applies each DynamoDB write atomically per item: a condition and its update are one step.
    moto's server evaluates them in whichever request thread runs, so two racing conditional
    writes can both pass (measured: a conditional `SET` racing an `ADD version` landed after it in
    2 of 800 races; docs/dynamodb-local.md). Our correctness rests on those conditions (token push
    states, CDR first writes, command results), so local mode serializes DynamoDB requests and its
    races end as they would in AWS. moto is bound by one interpreter lock anyway: this costs little.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:  # the whole answer is built inside: moto computes it before returning
            return list(self.app(environ, start_response))


def _threaded_moto_server(port: int) -> Any:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:  # as moto's, with the app wrapped
            app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
            self._server = make_server("127.0.0.1", port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address="127.0.0.1", port=port, verbose=False)


class MotoServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server = _threaded_moto_server(self.port)

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
