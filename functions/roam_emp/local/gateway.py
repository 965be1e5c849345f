"""A local stand-in for API Gateway: HTTP in, REST API proxy events (v1) into the real handlers.

Routing comes from topology.py, the same table CDK builds API Gateway from. Each function has a
lock, like one warm Lambda instance: Powertools' resolver keeps the current event on the app
object, so one module must not serve two requests at once.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .. import topology
from .invoker import Invoker

# werkzeug's access log would drown the JSON logs of the handlers.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


def proxy_event(request: Request, route: topology.Route, params: dict[str, str]) -> dict[str, Any]:
    body = request.get_data(as_text=False)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text_body, encoded = base64.b64encode(body).decode("ascii"), True
    query = parse_qs(request.query_string.decode("latin-1"), keep_blank_values=True)
    headers = {k: v for k, v in request.headers.items()}
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": request.path,
            "stage": "local",
            "domainName": request.host,
            "requestId": str(uuid.uuid4()),
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1"},
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }


def _envelope_error(request: Request, status: int, message: str, code: int = 2000) -> Response:
    """What API Gateway answers itself (infra/api.py gateway responses): an OCPI envelope with the
    caller's request ids (made up here when missing, as our handlers do)."""
    body = {"status_code": code, "status_message": message, "timestamp": "1970-01-01T00:00:00Z"}
    request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    ids = {
        "X-Request-ID": request_id,
        "X-Correlation-ID": request.headers.get("X-Correlation-ID") or request_id,
    }
    return Response(json.dumps(body), status=status, content_type="application/json", headers=ids)


class LocalGateway:
    def __init__(self, invoker: Invoker | None = None) -> None:
        self.invoker = invoker or Invoker()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path in (DOCS_PATH, DOCS_PATH + "/openapi.json") and request.method == "GET":
            return _docs(request.path)
        found = topology.function_for(request.method, request.path)
        if found is None:
            if topology.path_exists(request.path):
                return _envelope_error(request, 405, f"method {request.method} not allowed")
            return _envelope_error(request, 404, "no such endpoint")
        function, route, params = found
        result = self.invoker.invoke(function, proxy_event(request, route, params))
        return _to_response(result)


# Local mode only (API Gateway has no such route): the admin API's contract and Swagger UI.
DOCS_PATH = "/_docs"


def _docs(path: str) -> Response:
    """Swagger UI over the admin API's OpenAPI document (api/openapi.py), generated from the
    handlers as they are now. Powertools' bundled Swagger UI assets are inlined: no CDN."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    from ..api.openapi import admin_document

    spec = json.dumps({**admin_document(), "servers": [{"url": "/"}]}, indent=2)
    if path.endswith("/openapi.json"):
        return Response(spec, content_type="application/json")
    html = generate_swagger_html(
        spec.replace("</", "<\\/"),
        _swagger_asset("swagger-ui-bundle.min.js"),
        _swagger_asset("swagger-ui.min.css"),
        "",
        None,
    )
    return Response(html, content_type="text/html; charset=utf-8")


def _swagger_asset(name: str) -> str:
    from importlib.resources import files

    return (files("aws_lambda_powertools.event_handler.openapi.swagger_ui") / name).read_text("utf-8")


def _to_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers = Headers()
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.add(name, value)
    for name, value in (result.get("headers") or {}).items():
        headers[name] = value  # replaces: API Gateway merges both maps, one value per name
    # Given to the constructor, so werkzeug adds no default text/plain Content-Type beside ours.
    return Response(payload, status=int(result.get("statusCode", 502)), headers=headers)


class GatewayServer:
    def __init__(self, port: int, gateway: LocalGateway) -> None:
        self.gateway = gateway
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, self.gateway, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="local-gateway")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
