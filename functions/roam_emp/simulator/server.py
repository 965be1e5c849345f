"""Run the simulator in a background thread (tests, local mode) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_app
from .state import SimulatorState

# werkzeug's access log would drown the JSON logs of the handlers.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


class RoamSimulator:
    def __init__(
        self,
        port: int = 0,
        *,
        per_minute: int = 3000,
        token_a: str | None = None,
        network_size: int = 3000,
    ) -> None:
        self.state = SimulatorState(per_minute=per_minute, network_size=network_size)
        if token_a:
            self.state.token_a = token_a
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, app=None, threaded=True)  # type: ignore[arg-type]
        self.port = self._server.server_port
        self._server.app = create_app(self.state, self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="roam-simulator")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def start(self) -> RoamSimulator:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RoamSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
