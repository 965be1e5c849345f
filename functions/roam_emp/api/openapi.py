"""The admin API's contract: one OpenAPI 3.1 document generated from the admin handlers' own route
declarations by Powertools (parameters and bodies from the functions' annotations, answers from
``answers``), shipped as docs/openapi/admin.json (`roam-emp openapi`), served with Swagger UI by
local mode (GET /_docs), and read by the tests that hold the CLI and local mode to it."""

from __future__ import annotations

import importlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from .. import __version__, topology

T = TypeVar("T")

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "admin.json"
TITLE = "roam-emp admin API"
DESCRIPTION = (
    "The EMP back office's API of roam-emp (Plugsurfing Roam OCPI, EMSP side). In AWS every call is "
    "signed with SigV4 (API Gateway IAM authorisation, service execute-api); in local mode it is "
    "open on 127.0.0.1. Every answer is an OCPI envelope (status_code 1000 on success; 2001 and "
    "HTTP 400 for invalid parameters, naming the field; 2xxx for other client errors; 3xxx when "
    "Plugsurfing failed; HTTP 503 when a retry can succeed). Generated from the handlers: "
    "`roam-emp openapi` (docs/openapi/admin.json)."
)
SIGV4 = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "AWS Signature Version 4 for execute-api (the roam-emp CLI signs with your AWS "
    "credentials: admin_client.py)",
    "x-amazon-apigateway-authtype": "awsSigv4",
}


class Envelope(BaseModel, Generic[T]):
    """An OCPI 2.2.1 response envelope (transport_and_format.asciidoc) around ``data``."""

    data: T | None = None
    status_code: int = Field(description="1000 success; 2xxx client error; 3xxx hub error")
    status_message: str | None = None
    timestamp: str = Field(description="RFC 3339, UTC")


class ErrorEnvelope(BaseModel):
    """What every failed call answers (no ``data``, or the details of the failure)."""

    data: Any = None
    status_code: int = Field(ge=2000, description="2001: invalid or missing parameters (named)")
    status_message: str | None = None
    timestamp: str


def answers(
    data: Any, description: str, *, status: int = 200, errors: tuple[int, ...] = (400,)
) -> dict[int, OpenAPIResponse]:
    """The responses of a route for OpenAPI: the envelope around ``data`` (a model or type) on
    ``status``, and an error envelope for each of ``errors``."""
    responses: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": {"application/json": {"model": Envelope[data]}}}
    }
    for code in errors:
        responses[code] = {
            "description": _ERRORS.get(code, "error"),
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
    return responses


_ERRORS = {
    400: "invalid or missing parameters (OCPI 2001 naming the field)",
    404: "unknown object (OCPI 2000/2003/2004)",
    409: "conflict with the current state (OCPI 2000)",
    502: "Plugsurfing failed or is unreachable (OCPI 3xxx)",
}


def admin_handler_modules() -> list[str]:
    """Every Lambda module serving an IAM (admin) route, from topology.py."""
    return sorted(
        {
            f.handler.rsplit(".", 1)[0]
            for f in topology.FUNCTIONS
            if any(r.auth is topology.Auth.IAM for r in f.routes)
        }
    )


@lru_cache(maxsize=1)
def admin_document() -> dict[str, Any]:
    """The admin API's OpenAPI document, generated from the handlers' resolvers."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge  # not on a Lambda's path

    merge = OpenAPIMerge(
        title=TITLE, version=__version__, description=DESCRIPTION, on_conflict="error", servers=None
    )
    components: dict[str, tuple[str, Any]] = {}
    for module in admin_handler_modules():
        app = importlib.import_module(module).app
        schema = app.get_openapi_schema(title=TITLE, version=__version__).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        # Components are merged by name: one name must mean one schema across the handlers.
        for name, value in schema.get("components", {}).get("schemas", {}).items():
            seen = components.setdefault(name, (module, value))
            if seen[1] != value:
                raise ValueError(f"schema {name} differs between {seen[0]} and {module}: rename one")
        merge.add_schema(schema)
    document = merge.get_openapi_schema()
    return _finish(json.loads(json.dumps(document, default=str)))


def _finish(document: dict[str, Any]) -> dict[str, Any]:
    """What the handlers cannot say themselves: the SigV4 scheme, and our 400 in place of
    Powertools' 422 (a validation failure is OCPI 2001 with HTTP 400 here: api/http.py)."""
    document["components"].setdefault("securitySchemes", {})["sigv4"] = SIGV4
    document["security"] = [{"sigv4": []}]
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": _ERRORS[400],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                    },
                }
    schemas = document["components"].get("schemas", {})
    text = json.dumps(document["paths"])
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            schemas.pop(unused, None)
    if "ErrorEnvelope" not in schemas:
        schemas["ErrorEnvelope"] = ErrorEnvelope.model_json_schema()
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(path: Path = DOCUMENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(admin_document()))
    return path
